"""Text helpers of the bottom floor: terminal width of a string, and a caret line.

They live here, below everything, because an error message (``ExpressionError``) and
the tables and drawings of ``chainrule.viz`` all need them.
"""

from __future__ import annotations

import unicodedata

__all__ = ["caret", "display_width"]


def display_width(s: str) -> int:
    """Width of ``s`` in a terminal: East Asian wide characters (Hangul) count 2,
    combining marks 0. Used to align tables and carets under Korean text."""
    if s.isascii():
        return len(s)
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def caret(source: str, col: int, end_col: int | None, window: int = 72) -> str:
    """``source`` with ``^^^`` under characters ``col:end_col`` (wide characters count 2).

    A long expression is shown as a window of about ``window`` characters around the
    offending part, with ``…`` where it was cut.
    """
    line = source.replace("\t", " ").replace("\n", " ").replace("\r", " ")
    col = max(0, min(col, len(line)))
    end = col + 1 if end_col is None or end_col <= col else min(end_col, len(line) + 1)
    start, stop = 0, len(line)
    if len(line) > window:
        start = max(0, col - window // 2)
        stop = min(len(line), max(start + window, min(end, col + window // 2)))
    shown = ("…" if start else "") + line[start:stop] + ("…" if stop < len(line) else "")
    pad = display_width(line[start:col]) + (1 if start else 0)
    marks = max(1, display_width(line[col:min(end, stop)]))
    return f"    {shown}\n    {' ' * pad}{'^' * marks}"
