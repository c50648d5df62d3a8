"""Graphviz's layout for chainrule's own drawing, when ``dot`` is installed.

The page and :func:`chainrule.viz.to_svg` draw with chainrule's renderer; only *where*
things go can come from Graphviz, whose ``dot`` places layered graphs with fewer
crossings than any short Python heuristic. :func:`dot_layout` hands ``dot`` the
nodes at the sizes chainrule draws them (fixed sizes, in points = px), each module
scope as a cluster, and each edge a placeholder label as wide and tall as the value
and gradient chainrule writes there, so Graphviz reserves their room; then it reads
the positions back (``-Tjson``): node centres, the on-curve points of each edge's
spline and each label's centre. Without ``dot``, on a timeout or an error, the caller
keeps its own layout (:func:`chainrule.viz.layout.layout`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

from .graph import Graph, format_value
from .layout import MARGIN, Layout, edge_grad

__all__ = ["DOT_LAYOUT_TIMEOUT", "dot_layout"]

#: Seconds ``dot`` may take to lay out a page's graph before chainrule's own layout is
#: used instead (``$CHAINRULE_DOT_TIMEOUT`` overrides it).
DOT_LAYOUT_TIMEOUT = 10.0
LEAF_GRAD_ROOM = 22.0      # under an input box: its gradient


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label_chars(g: Graph, lay: Layout, show: bool) -> dict[int, int]:
    """Characters of the widest line of each edge's label (0: no label)."""
    out = {}
    values = g.values
    for e in lay.edges:
        src = values[e.value]
        val = format_value(src.value, short=True)
        n = 0 if src.kind == "const" and src.label == val else len(val)
        gr = edge_grad(g, e) if show else None
        if gr is not None:
            n = max(n, len(format_value(gr, short=True)))
        out[e.index] = n
    return out


def _source(g: Graph, lay: Layout, show: bool) -> tuple[str, dict[Any, str]]:
    ids = {key: f"n{i}" for i, key in enumerate(k for k, n in lay.nodes.items()
                                               if n.kind != "dummy")}
    lines = ["digraph G {", "rankdir=LR; nodesep=0.45; ranksep=0.55; splines=spline;",
             'node [shape=box, fixedsize=true, label="", margin=0];',
             'edge [fontname="Courier", fontsize=12, arrowsize=0.7];']
    tree: dict[str, list[str]] = {}
    for key, name in ids.items():
        n = lay.nodes[key]
        h = n.h + (2 * LEAF_GRAD_ROOM if n.kind == "leaf" and show else 0.0)
        line = f"{name} [width={n.w / 72:.4f}, height={h / 72:.4f}];"
        tree.setdefault(n.scope or "", []).append(line)

    def emit(scope: str) -> None:
        if scope:
            lines.append(f"subgraph {_q('cluster_' + scope)} {{ label={_q(scope)}; "
                         f"margin=14;")
        lines.extend(tree.get(scope, []))
        prefix = scope + "." if scope else ""
        children = sorted({s[len(prefix):].split(".")[0] for s in tree
                           if s.startswith(prefix) and s != scope})
        for c in children:
            emit(prefix + c)
        if scope:
            lines.append("}")

    # a scope with no node of its own still nests its children
    for s in list(tree):
        parts = s.split(".")
        for k in range(1, len(parts)):
            tree.setdefault(".".join(parts[:k]), [])
    emit("")
    chars = _label_chars(g, lay, show)
    for e in lay.edges:
        n = chars[e.index]
        # three lines of Courier 12 (0.6 em a character, as chainrule's estimate): the
        # value, the line itself, the gradient
        label = f', label={_q("x" * n + chr(10) + " " + chr(10) + "x" * n)}' if n else ""
        lines.append(f'{ids[e.src]} -> {ids[e.dst]} [id={_q(str(e.index))}{label}, '
                     f'headport="w", tailport="e"];')
    lines.append("}")
    return "\n".join(lines), ids


def _points(spline: str, height: float) -> list[tuple[float, float]]:
    """The on-curve points of a ``dot`` spline (start, every third point, end, the
    arrow's tip last), in SVG coordinates (y down)."""
    end = None
    pts: list[tuple[float, float]] = []
    for tok in spline.split():
        if tok.startswith("e,"):
            x, y = tok[2:].split(",")
            end = (float(x), height - float(y))
        elif tok.startswith("s,"):
            continue
        else:
            x, y = tok.split(",")
            pts.append((float(x), height - float(y)))
    on = pts[::3] if len(pts) >= 4 else pts
    if pts and on[-1] != pts[-1]:
        on.append(pts[-1])
    if end is not None:
        on.append(end)
    return on


def dot_layout(g: Graph, lay: Layout, show: bool,
               timeout: float | None = None) -> Layout | None:
    """``lay`` (chainrule's own layout of ``g``) re-positioned by Graphviz's ``dot``,
    or None when ``dot`` is not installed, takes longer than ``timeout`` seconds
    (default :data:`DOT_LAYOUT_TIMEOUT`) or fails."""
    exe = shutil.which("dot")
    if exe is None:
        return None
    if timeout is None:
        try:
            timeout = float(os.environ.get("CHAINRULE_DOT_TIMEOUT", DOT_LAYOUT_TIMEOUT))
        except ValueError:
            timeout = DOT_LAYOUT_TIMEOUT
    src, ids = _source(g, lay, show)
    try:
        proc = subprocess.run([exe, "-Tjson"], input=src.encode("utf-8"),
                              capture_output=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            return None
        data = json.loads(proc.stdout.decode("utf-8"))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    try:
        _, _, x1, y1 = (float(v) for v in data["bb"].split(","))
        height = y1
        by_name = {o["name"]: o for o in data.get("objects", []) if "pos" in o}
        nodes = {}
        for key, n in lay.nodes.items():
            if n.kind == "dummy":
                continue
            x, y = (float(v) for v in by_name[ids[key]]["pos"].split(","))
            n.x, n.y = x + MARGIN, height - y + MARGIN
            nodes[key] = n
        edges = {str(e.get("id")): e for e in data.get("edges", [])}
        for e in lay.edges:
            d = edges[str(e.index)]
            e.points = [(x + MARGIN, y + MARGIN) for x, y in _points(d["pos"], height)]
            if "lp" in d:
                lx, ly = (float(v) for v in d["lp"].split(","))
                e.label_at = (lx + MARGIN, height - ly + MARGIN - 2)
            else:
                p, q = e.points[-2], e.points[-1]
                e.label_at = ((p[0] + q[0]) / 2, (p[1] + q[1]) / 2)
    except (KeyError, ValueError, IndexError, TypeError):
        return None
    return Layout(nodes, lay.edges, x1 + 2 * MARGIN, y1 + 2 * MARGIN + 8)

