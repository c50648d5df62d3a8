"""The step-through page (:func:`to_html`) and chainrule's own SVG drawing (:func:`to_svg`).

The page is one self-contained HTML file: the graph as inline SVG (laid out by
:mod:`chainrule.viz.layout`, so Graphviz is not needed), the steps as JSON, and a small
script and style sheet, all inline; it loads nothing from the network. It steps first
through the forward pass, gate by gate (each gate's output value appears on its edges),
then through the backward pass: the current gate is highlighted and the panel shows
``upstream × local = downstream`` with the numbers for each input, while the gradients
appear in red beneath the edges. At the end it lists the gradients backward computed.
Buttons, the arrow keys (and Home/End) step; the slider scrubs.
"""

from __future__ import annotations

import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from .. import i18n
from .._io import atomic_write_bytes
from ..errors import PageTooLargeError
from ..explain import _Graph, _Value, d_of, format_value
from .layout import Layout, edge_grad, layout

__all__ = ["to_html", "to_svg"]

#: Graphs with more gates than this are refused by :func:`to_html` by default: a
#: browser cannot usefully step through them (use ``cr.explain`` or ``to_dot``).
MAX_PAGE_GATES = 2000
#: Graphs wider than this (px) get the panel below the graph instead of beside it.
WIDE_GRAPH = 760.0

_FONT = ("ui-monospace, 'SF Mono', Menlo, Consolas, 'DejaVu Sans Mono', "
         "'Noto Sans Mono CJK KR', 'NanumGothicCoding', monospace")

_SVG_STYLE = f"""
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


def _svg(g: _Graph, lay: Layout, show: bool, standalone: bool) -> str:
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
        out.append(f"<style>{_SVG_STYLE}</style>")
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
           grads: bool | None = None) -> str:
    """An SVG drawing of the graph of ``y`` from chainrule's own layout (no Graphviz).

    ``y`` and ``grads`` are as for :func:`chainrule.viz.to_dot`: values on every edge,
    gradients in red beneath once backward has run (or always for an explanation).
    Returns the SVG text and, if ``path`` is given, also writes it there (atomically).
    """
    from .dot import _graph_of
    g, show = _graph_of(y, grads, "cr.viz.to_svg")
    text = _svg(g, layout(g, show_grads=show), show, standalone=True)
    if path is not None:
        atomic_write_bytes(Path(os.fspath(path)), text.encode("utf-8"))
    return text


# ---------------------------------------------------------------------- the page
class _Pseudo:
    """Stands in for a value in :func:`_expr`-style formulas with numbers in them."""

    def __init__(self, label: str, compound: bool) -> None:
        self.label = label
        self.compound = compound


def _calc(g: _Graph, gi: Any) -> str:
    """The forward computation with numbers: ``2.0 * 7.0 = 14.0`` or with shapes."""
    from ..explain import _expr
    ins = [g.values[i] for i in gi.inputs]
    out = g.values[gi.output]
    scalar = all(not hasattr(v.value, "shape") or v.value.ndim == 0 for v in [*ins, out])

    def num(k: int, v: _Value) -> _Pseudo:
        if scalar:
            s = format_value(v.value)
            # -1.0 + 3.0 reads fine; 3.0 * (-1.0) and (-2.0) ** 2 need the parentheses
            return _Pseudo(s, s.startswith("-") and (k > 0 or gi.cls == "Pow"))
        shape = tuple(getattr(v.value, "shape", ()))
        return _Pseudo(str(shape), False)

    left = _expr(gi.infix, gi.fn, [num(k, v) for k, v in enumerate(ins)])  # type: ignore[misc]
    right = format_value(out.value) if scalar else str(tuple(getattr(out.value, "shape", ())))
    return f"{left} = {right}" if scalar else f"{left} → {right}"


def _formula(g: _Graph, gi: Any, value: bool = False) -> str:
    out = g.values[gi.output]
    s = out.label if out.label == gi.expr else f"{out.label} = {gi.expr}"
    return f"{s} = {format_value(out.value)}" if value else s


def _page_data(g: _Graph, lay: Layout, lang: str) -> dict[str, Any]:
    t = i18n.text
    values = g.values
    n_g = len(g.gates)
    root = values[g.root]
    seed_step = n_g + 1
    bstep = {i: seed_step + gi.step for i, gi in enumerate(g.gates) if gi.step}
    edges = []
    for e in lay.edges:
        src = values[e.value]
        fwd = 0 if src.kind != "gate" else 1 + (src.gate or 0)
        if e.gate is None:
            bwd: int | None = seed_step
        else:
            gi = g.gates[e.gate]
            ok = gi.step is not None and e.pos is not None and gi.downstream[e.pos] is not None
            bwd = bstep[e.gate] if ok else None
        edges.append({"fwd": fwd, "bwd": bwd,
                      "from": src.gate if src.kind == "gate" else None, "to": e.gate})
    gates = [{"fwd": 1 + gi.index, "bwd": bstep.get(gi.index)} for gi in g.gates]
    leaves = []
    for v in g.leaves():
        step = seed_step + (v.done_step or 0) if v.grad is not None else None
        leaves.append({"id": v.index, "name": v.label, "d": d_of(root.label, v.label),
                       "step": step,
                       "text": format_value(v.grad) if v.grad is not None
                       else t("no_gradient", lang)})
    fan: dict[int, list[_Value]] = {}
    for v in values:
        if len(v.parts) > 1 and v.done_step and v.kind != "gate":
            fan.setdefault(v.done_step, []).append(v)

    def fan_note(v: _Value, key: str) -> str:
        s = " + ".join(format_value(p[2]) for p in v.parts) + " = " + format_value(v.grad)
        if key == "page.bwd_sum":
            return t(key, lang, out=v.label, sum=s)
        return t(key, lang, name=v.label, n=len(v.parts), sum=s)

    steps: list[dict[str, Any]] = []
    inputs = [f"{v.label} = {format_value(v.value)}" for v in values
              if v.kind == "leaf" or (v.kind == "const" and v.name)]
    steps.append({"phase": "forward", "gate": None, "title": t("page.inputs", lang),
                  "text": t("page.inputs_text", lang), "items": inputs})
    for gi in g.gates:
        steps.append({"phase": "forward", "gate": gi.index,
                      "title": t("page.fwd_title", lang, gate=gi.cls,
                                 out=values[gi.output].label),
                      "formula": _formula(g, gi), "calc": _calc(g, gi),
                      "text": t("page.fwd_text", lang) if gi.index == 0 else ""})
    steps.append({"phase": "backward", "gate": None, "title": t("page.seed_title", lang),
                  "formula": f"{d_of(root.label, root.label)} = {format_value(g.seed)}",
                  "text": t("page.seed_text", lang, root=root.label)})
    for i in g.order:
        gi = g.gates[i]
        out = values[gi.output]
        chain = []
        for pos, vi in enumerate(gi.inputs):
            v = values[vi]
            down = gi.downstream[pos]
            if down is None:
                chain.append({"name": v.label, "const": t("page.constant", lang, name=v.label)})
                continue
            if gi.local is not None:
                local = format_value(gi.local[pos])
            else:
                short = gi.local_notation
                local = short[pos] if pos < len(short) else "…"
            chain.append({"name": v.label, "up": format_value(gi.upstream), "local": local,
                          "down": format_value(down)})
        notes = []
        if len(out.parts) > 1:
            notes.append(fan_note(out, "page.bwd_sum"))
        notes += [fan_note(v, "page.fanout") for v in fan.get(gi.step or 0, [])]
        steps.append({"phase": "backward", "gate": i,
                      "title": t("page.bwd_title", lang, gate=gi.cls),
                      "formula": _formula(g, gi, value=True), "chain": chain,
                      "rule": i18n.rule(gi.cls, lang, gi.doc), "notes": notes})
    steps.append({"phase": "done", "gate": None, "title": t("page.done_title", lang),
                  "text": t("page.done_text", lang),
                  "items": [f"{d_of(root.label, lf['name'])} = {lf['text']}" for lf in leaves]})
    return {"labels": i18n.page_labels(lang), "lang": lang, "root": root.label,
            "edges": edges, "gates": gates, "leaves": leaves, "steps": steps}


def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script>``: no ``</script>``, ``<!--`` or line separators."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _asset(name: str) -> str:
    return resources.files("chainrule.viz").joinpath(name).read_text(encoding="utf-8")


def to_html(y: Any, path: str | os.PathLike[str] | None = None, lang: str = "en",
            title: str | None = None, max_gates: int = MAX_PAGE_GATES) -> str:
    """One self-contained page that steps through the forward and backward passes.

    Parameters
    ----------
    y:
        A tensor that requires grad, with its graph in place (before ``backward()``, or
        after ``backward(retain_graph=True)``), or the result of ``cr.explain(y)``.
        For a tensor, the page's gradients come from a traced backward pass (nothing's
        ``.grad`` is touched); they are the gradients backward computes.
    path:
        If given, the page is also written there (atomically, UTF-8).
    lang:
        ``"en"`` or ``"ko"``: the language of the page's labels.
    title:
        Shown in the page header (e.g. the expression); default ``f = ...``.
    max_gates:
        Refuse graphs with more gates than this (a browser cannot usefully step
        through them); ``cr.explain`` and ``cr.viz.to_dot`` have no such limit.

    Returns the HTML text. The page loads nothing from the network: the SVG, the data
    (JSON), the script and the style sheet are all inline.
    """
    from ..explain import Explanation, _snapshot
    i18n.check_lang(lang)
    if isinstance(y, Explanation):
        g = y._graph
    else:
        g = _snapshot(y, "cr.viz.to_html", grads=True)
    if len(g.gates) > max_gates:
        raise PageTooLargeError(
            f"cr.viz.to_html: the graph has {len(g.gates)} gates, more than max_gates="
            f"{max_gates}; a step-through page of that size is not useful in a browser. "
            f"Use cr.explain(y) for the table or cr.viz.to_dot(y), or raise max_gates")
    lay = layout(g, show_grads=True)
    data = _page_data(g, lay, lang)
    root = g.values[g.root]
    if title is None:
        title = (f"{root.label} = {g.gates[root.gate].expr}" if root.kind == "gate"
                 else root.label)
    labels = data["labels"]
    fields = {
        "LANG": _h(lang), "TITLE": _h(title), "PAGE_TITLE": _h(labels["title"]),
        "CSS": _asset("step_page.css"), "JS": _asset("step_page.js"),
        "DATA": _json_for_script(data), "SVG": _svg(g, lay, True, standalone=False),
        "SVG_STYLE": _SVG_STYLE, "WIDE": " wide" if lay.width > WIDE_GRAPH else "",
    }
    for k, v in labels.items():
        fields["L_" + k.upper()] = _h(v)
    template = _asset("step_page.html")
    page = re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: fields[m.group(1)], template)
    if path is not None:
        atomic_write_bytes(Path(os.fspath(path)), page.encode("utf-8"))
    return page
