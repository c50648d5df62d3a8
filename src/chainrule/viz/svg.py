"""chainrule's own SVG drawing of a computational graph (:func:`to_svg`); no Graphviz.

The graph is laid out by :mod:`chainrule.viz.layout` and drawn as in the seed notes:
inputs on the left, gates as circles (short symbols) or rounded boxes, the output on
the right; every edge carries its forward value and, once backward has run, the
gradient that flows back along it in red beneath. Module scopes are drawn as dashed
boxes. The step-through page (:mod:`chainrule.viz.page`) embeds the same drawing
(:func:`render_svg` with ``standalone=False``) and styles it with :data:`SVG_STYLE`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

from .._io import atomic_write_bytes
from .display import SVG
from .graph import Graph, format_value, graph_of
from .layout import Layout, edge_grad, layout

__all__ = ["SVG_STYLE", "render_svg", "to_svg"]

_FONT = ("ui-monospace, 'SF Mono', Menlo, Consolas, 'DejaVu Sans Mono', "
         "'Noto Sans Mono CJK KR', 'NanumGothicCoding', monospace")

SVG_STYLE = f"""
.cr-graph text {{ font-family: {_FONT}; }}
.cr-graph .edge path {{ fill: none; stroke: #64748b; stroke-width: 1.6; }}
.cr-graph .cluster rect {{ fill: #f8fafc; stroke: #cbd5e1; stroke-dasharray: 5 4; }}
.cr-graph .cluster text {{ fill: #64748b; font-size: 12px; }}
.cr-graph text.val {{ fill: #111827; font-size: 13px; paint-order: stroke;
  stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }}
.cr-graph text.grad {{ fill: #d62728; font-size: 13px; font-weight: 600; paint-order: stroke;
  stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }}
.cr-graph .gate circle, .cr-graph .gate rect {{ fill: #fff; stroke: #334155;
  stroke-width: 1.6; }}
.cr-graph .gate text {{ fill: #0f172a; font-size: 15px; font-weight: 600; }}
.cr-graph .leaf rect {{ fill: #e0f2fe; stroke: #0369a1; stroke-width: 1.4; }}
.cr-graph .out rect {{ fill: #dcfce7; stroke: #15803d; stroke-width: 1.4; }}
.cr-graph .leaf text.name, .cr-graph .out text.name {{ fill: #0f172a; font-size: 14px;
  font-weight: 700; }}
.cr-graph .const text {{ fill: #64748b; font-size: 12px; font-style: italic; }}
"""


def _h(s: Any) -> str:
    return html.escape(str(s), quote=True)


def _f(x: float) -> str:
    return f"{x:.1f}"


def _path(points: list[tuple[float, float]]) -> str:
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{_f(x0)},{_f(y0)}"]
    px, py = x0, y0
    for x, y in rest:
        mx = (px + x) / 2
        d.append(f"C{_f(mx)},{_f(py)} {_f(mx)},{_f(y)} {_f(x)},{_f(y)}")
        px, py = x, y
    return " ".join(d)


def _clusters(lay: Layout) -> list[tuple[str, float, float, float, float]]:
    """Bounding boxes of the nodes of each module scope (and of its dotted prefixes)."""
    boxes: dict[str, list[float]] = {}
    for n in lay.nodes.values():
        if n.kind == "dummy" or not n.scope:
            continue
        parts = n.scope.split(".")
        for k in range(1, len(parts) + 1):
            p = ".".join(parts[:k])
            b = boxes.setdefault(p, [1e18, 1e18, -1e18, -1e18])
            b[0] = min(b[0], n.x - n.w / 2)
            b[1] = min(b[1], n.y - n.h / 2)
            b[2] = max(b[2], n.x + n.w / 2)
            b[3] = max(b[3], n.y + n.h / 2)
    out = []
    for name in sorted(boxes, key=lambda s: (s.count("."), s)):
        x0, y0, x1, y1 = boxes[name]
        pad = 14.0 - 4.0 * name.count(".")
        out.append((name, x0 - pad, y0 - pad - 14, x1 + pad, y1 + pad))
    return out


def render_svg(g: Graph, lay: Layout, show: bool, standalone: bool) -> str:
    """SVG markup of the laid-out graph.

    With ``standalone`` it carries its own style and has a fixed size; in the page it
    fills the card's width, zoomed up to 1.6 times for small graphs (big graphs keep
    their natural size and scroll).
    """
    values = g.values
    w, h = lay.width, lay.height
    size = (f'width="{_f(w)}" height="{_f(h)}"' if standalone else
            f'width="{_f(w)}" height="{_f(h)}" style="width:100%;min-width:{_f(0.8 * w)}px;'
            f'max-width:{_f(1.6 * w)}px"')
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="cr-graph" '
           f'viewBox="0 0 {_f(w)} {_f(h)}" {size} role="img" '
           f'aria-label="computational graph">']
    if standalone:
        out.append(f"<style>{SVG_STYLE}</style>")
        out.append(f'<rect width="{_f(w)}" height="{_f(h)}" fill="#fff"/>')
    out.append('<defs>')
    for name, color in (("", "#64748b"), ("-fwd", "#2563eb"), ("-bwd", "#d62728")):
        out.append(f'<marker id="cr-arrow{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                   f'markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" '
                   f'orient="auto-start-reverse"><path d="M0,1 L10,5 L0,9 z" '
                   f'fill="{color}"/></marker>')
    out.append('</defs>')
    out.append('<g class="clusters">')
    for name, x0, y0, x1, y1 in _clusters(lay):
        out.append(f'<g class="cluster"><rect x="{_f(x0)}" y="{_f(y0)}" '
                   f'width="{_f(x1 - x0)}" height="{_f(y1 - y0)}" rx="10"/>'
                   f'<text x="{_f(x0 + 8)}" y="{_f(y0 + 14)}">{_h(name)}</text></g>')
    out.append('</g><g class="edges">')
    for e in lay.edges:
        out.append(f'<g class="edge" id="cr-e{e.index}"><path d="{_path(e.points)}" '
                   f'marker-end="url(#cr-arrow)"/></g>')
    out.append('</g><g class="nodes">')
    for n in lay.nodes.values():
        x, y = n.x, n.y
        if n.kind == "dummy":
            continue
        if n.kind == "gate":
            gi = g.gates[n.ref]
            shape = (f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{_f(n.w / 2)}"/>' if n.round else
                     f'<rect x="{_f(x - n.w / 2)}" y="{_f(y - n.h / 2)}" width="{_f(n.w)}" '
                     f'height="{_f(n.h)}" rx="{_f(n.h / 2)}"/>')
            out.append(f'<g class="node gate" id="cr-g{n.ref}">{shape}'
                       f'<text x="{_f(x)}" y="{_f(y + 5)}" text-anchor="middle">'
                       f'{_h(n.label)}</text><title>{_h(gi.cls)}</title></g>')
        elif n.kind == "const":
            out.append(f'<g class="node const" id="cr-v{n.ref}"><text x="{_f(x)}" '
                       f'y="{_f(y + 4)}" text-anchor="middle">{_h(n.label)}</text></g>')
        else:
            v = values[n.ref]
            cls = "out" if n.kind == "out" else "leaf"
            parts = [f'<g class="node {cls}" id="cr-v{n.ref}"><rect x="{_f(x - n.w / 2)}" '
                     f'y="{_f(y - n.h / 2)}" width="{_f(n.w)}" height="{_f(n.h)}" rx="9"/>'
                     f'<text class="name" x="{_f(x)}" y="{_f(y + 5)}" '
                     f'text-anchor="middle">{_h(n.label)}</text>']
            if n.kind == "leaf" and show and v.grad is not None:
                parts.append(f'<text class="grad node-grad" id="cr-vg{n.ref}" x="{_f(x)}" '
                             f'y="{_f(y + n.h / 2 + 16)}" text-anchor="middle">'
                             f'{_h(format_value(v.grad, short=True))}</text>')
            parts.append("</g>")
            out.append("".join(parts))
    out.append('</g><g class="labels">')
    for e in lay.edges:
        lx, ly = e.label_at
        src = values[e.value]
        val = format_value(src.value, short=True)
        if not (src.kind == "const" and src.label == val):  # the node shows it already
            out.append(f'<text class="val" id="cr-ev{e.index}" x="{_f(lx)}" '
                       f'y="{_f(ly - 7)}" text-anchor="middle">{_h(val)}</text>')
        gr = edge_grad(g, e) if show else None
        if gr is not None:
            out.append(f'<text class="grad" id="cr-eg{e.index}" x="{_f(lx)}" '
                       f'y="{_f(ly + 17)}" text-anchor="middle">'
                       f'{_h(format_value(gr, short=True))}</text>')
    out.append("</g></svg>")
    return "".join(out)


def to_svg(y: Any, path: str | os.PathLike[str] | None = None,
           grads: bool | None = None) -> SVG:
    """An SVG drawing of the graph of ``y`` from chainrule's own layout (no Graphviz).

    ``y`` and ``grads`` are as for :func:`chainrule.viz.to_dot`: values on every edge,
    gradients in red beneath once backward has run (or always for an explanation).
    Returns the SVG text (a ``str`` that a notebook draws inline) and, if ``path`` is
    given, also writes it there (atomically).
    """
    g, show = graph_of(y, grads, "cr.viz.to_svg")
    text = SVG(render_svg(g, layout(g, show_grads=show), show, standalone=True))
    if path is not None:
        atomic_write_bytes(Path(os.fspath(path)), text.encode("utf-8"))
    return text
