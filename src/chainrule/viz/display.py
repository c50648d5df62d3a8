"""Strings that notebooks display: what ``cr.viz.to_svg`` and ``to_html`` return.

Both are ``str`` (so existing code that writes, searches or compares them works), with
the rich-display hooks Jupyter looks for: an :class:`SVG` shows as the drawing, an
:class:`HTMLPage` as the step-through page inside an ``<iframe srcdoc>``, so that the
page's style sheet and script apply to the page alone and never restyle the notebook.
"""

from __future__ import annotations

import html

__all__ = ["SVG", "HTMLPage"]


class SVG(str):
    """SVG text that a notebook draws inline."""

    __slots__ = ()

    def _repr_svg_(self) -> str:
        return str(self)


class HTMLPage(str):
    """A self-contained HTML page that a notebook shows in an isolated frame."""

    __slots__ = ()
    #: Height of the frame in a notebook, in CSS pixels.
    height = 720

    def _repr_html_(self) -> str:
        return (f'<iframe class="chainrule-page" srcdoc="{html.escape(str(self), quote=True)}" '
                f'style="width:100%;height:{self.height}px;border:1px solid #e2e8f0;'
                f'border-radius:8px" sandbox="allow-scripts"></iframe>')
