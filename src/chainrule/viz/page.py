"""The step-through page (:func:`to_html`): forward and backward, one gate at a time.

The page is one self-contained HTML file: the graph as inline SVG (:mod:`chainrule.viz.svg`,
laid out by :mod:`chainrule.viz.layout`, so Graphviz is not needed), the steps as JSON, and a small
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

import numpy as np

from .._io import atomic_write_bytes
from ..errors import GraphvizError, PageTooLargeError
from . import i18n
from .display import HTMLPage
from .dot_layout import dot_layout
from .graph import Graph, Value, d_of, expression, format_value, graph_of, local_label
from .layout import Layout, layout
from .svg import SVG_STYLE, render_svg

__all__ = ["MAX_PAGE_GATES", "PageTooLargeError", "to_html"]

#: Graphs with more gates than this are refused by :func:`to_html` by default: a
#: browser cannot usefully step through them (use ``cr.explain`` or ``to_dot``).
MAX_PAGE_GATES = 2000
#: Graphs wider than this (px) get the panel below the graph instead of beside it.
WIDE_GRAPH = 760.0


#: Arrays up to this many elements show every value on the page (a 4x4 image and a
#: 2x2 filter of a tiny convolution do; larger ones show the table's summary).
PAGE_ARRAY = 36


def _value(v: object) -> str:
    """Numbers on the page print exactly (the page shows one value at a time, so
    width is no concern); small arrays every value (4 significant digits), as a grid
    of their last two axes after the shape when the leading axes are 1 (``(1, 1, 2, 2)``
    then ``[[1, 2], [3, 4]]`` on two lines); larger arrays as the table summarises them."""
    if isinstance(v, np.ndarray) and v.ndim and v.size <= PAGE_ARRAY and v.dtype.kind in "fiub":
        core = v.reshape(v.shape[-2:]) if v.ndim > 2 and v.size == np.prod(v.shape[-2:]) else v
        grid = np.array2string(core, separator=", ",
                               formatter={"float_kind": lambda x: f"{x:.4g}"})
        return grid if core is v else f"{tuple(v.shape)}\n{grid}"
    return format_value(v, full=not isinstance(v, np.ndarray) or v.ndim == 0)


def _h(s: Any) -> str:
    return html.escape(str(s), quote=True)


class _Pseudo:
    """Stands in for a value in :func:`~chainrule.viz.graph.expression` formulas with
    numbers in them."""

    def __init__(self, label: str, compound: bool) -> None:
        self.label = label
        self.compound = compound


def _calc(g: Graph, gi: Any) -> str:
    """The forward computation with numbers: ``2.0 * 7.0 = 14.0`` or with shapes."""
    ins = [g.values[i] for i in gi.inputs]
    out = g.values[gi.output]
    scalar = all(not hasattr(v.value, "shape") or v.value.ndim == 0 for v in [*ins, out])

    def num(k: int, v: Value) -> _Pseudo:
        if scalar:
            s = _value(v.value)
            # -1.0 + 3.0 reads fine; 3.0 * (-1.0) and (-2.0) ** 2 need the parentheses
            # (** binds tighter than a leading minus)
            return _Pseudo(s, s.startswith("-") and (k > 0 or gi.infix == "**"))
        shape = tuple(getattr(v.value, "shape", ()))
        return _Pseudo(str(shape), False)

    left = expression(gi.infix, gi.fn, [num(k, v) for k, v in enumerate(ins)])  # type: ignore[misc]
    small = np.size(out.value) <= PAGE_ARRAY
    right = _value(out.value) if scalar or small else str(tuple(np.shape(out.value)))
    return f"{left} = {right}" if scalar else f"{left} → {right}"


def _formula(g: Graph, gi: Any, value: bool = False) -> str:
    out = g.values[gi.output]
    s = out.label if out.label == gi.expr else f"{out.label} = {gi.expr}"
    return f"{s} = {_value(out.value)}" if value else s


def _page_data(g: Graph, lay: Layout, lang: str) -> dict[str, Any]:
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
                       "text": _value(v.grad) if v.grad is not None
                       else t("no_gradient", lang)})
    fan: dict[int, list[Value]] = {}
    for v in values:
        if len(v.parts) > 1 and v.done_step and v.kind != "gate":
            fan.setdefault(v.done_step, []).append(v)

    def fan_note(v: Value, key: str) -> str:
        s = " + ".join(_value(p[2]) for p in v.parts) + " = " + _value(v.grad)
        if key == "page.bwd_sum":
            return t(key, lang, out=v.label, sum=s)
        return t(key, lang, name=v.label, n=len(v.parts), sum=s)

    steps: list[dict[str, Any]] = []
    inputs = [f"{v.label} = {_value(v.value)}" for v in values
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
                  "formula": f"{d_of(root.label, root.label)} = {_value(g.seed)}",
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
            link = {"name": v.label, "up": _value(gi.upstream),
                    "local": local_label(gi, pos), "down": _value(down)}
            if gi.local is not None and np.ndim(gi.local[pos]) == 0 and np.ndim(down) == 0:
                # numbers the practice mode asks for
                link["localNum"] = float(gi.local[pos])
                link["downNum"] = float(down)
            chain.append(link)
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
            "edges": edges, "gates": gates, "leaves": leaves, "steps": steps,
            "engine": _engine(g)}


#: Gates the page can recompute in JavaScript (``step_engine.js``), on scalars.
ENGINE_GATES = frozenset({"Add", "Sub", "Mul", "Div", "Neg", "Pow", "Exp", "Log", "Sqrt",
                          "Sin", "Cos", "Tanh", "Sigmoid", "ReLU", "Abs", "Maximum",
                          "Minimum", "Sum", "Mean"})


def _engine(g: Graph) -> dict[str, Any] | None:
    """The graph as the page's JavaScript engine recomputes it (live inputs, practice,
    the numerical check), or None when it holds arrays or a gate the engine lacks."""
    values = g.values
    if any(np.ndim(v.value) != 0 for v in values) or \
            any(gi.cls not in ENGINE_GATES for gi in g.gates):
        return None
    return {"values": [{"kind": v.kind, "label": v.label,
                        "value": float(v.value) if v.kind != "gate" else None}
                       for v in values],
            "gates": [{"cls": gi.cls, "inputs": list(gi.inputs), "output": gi.output}
                      for gi in g.gates],
            "root": g.root}


def _json_for_script(obj: Any) -> str:
    """JSON that is safe inside ``<script>``: no ``</script>``, ``<!--`` or line separators."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _asset(name: str) -> str:
    return resources.files("chainrule.viz").joinpath("assets", name).read_text(encoding="utf-8")


def to_html(y: Any, path: str | os.PathLike[str] | None = None, lang: str = "en",
            title: str | None = None, max_gates: int = MAX_PAGE_GATES,
            engine: str = "auto") -> HTMLPage:
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
    engine:
        Who places the graph: ``"auto"`` (default) uses Graphviz's ``dot`` when it is
        installed and chainrule's own layered layout otherwise (or when ``dot`` fails
        or takes longer than ``$CHAINRULE_DOT_TIMEOUT``, default 10 s); ``"dot"``
        insists on Graphviz (an error without it); ``"own"`` never runs it. The drawing
        itself is chainrule's either way.

    Returns the HTML text (a ``str``; a notebook shows it in an isolated frame, so its
    style sheet never touches the notebook). The page loads nothing from the network:
    the SVG, the data (JSON), the script and the style sheet are all inline.
    """
    i18n.check_lang(lang)
    g, _ = graph_of(y, True, "cr.viz.to_html")
    if len(g.gates) > max_gates:
        raise PageTooLargeError(
            f"cr.viz.to_html: the graph has {len(g.gates)} gates, more than max_gates="
            f"{max_gates}; a step-through page of that size is not useful in a browser. "
            f"Use cr.explain(y) for the table or cr.viz.to_dot(y), or raise max_gates")
    if engine not in ("auto", "dot", "own"):
        raise ValueError(f"cr.viz.to_html: engine must be 'auto', 'dot' or 'own', got "
                         f"{engine!r}")
    lay = layout(g, show_grads=True)
    if engine != "own":
        placed = dot_layout(g, lay, True)
        if placed is None and engine == "dot":
            raise GraphvizError("cr.viz.to_html(engine='dot'): Graphviz's dot is not "
                                "installed, failed or timed out; install graphviz (apt-get "
                                "install graphviz) or use engine='auto'")
        lay = placed or lay
    data = _page_data(g, lay, lang)
    root = g.values[g.root]
    if title is None:
        title = (f"{root.label} = {g.gates[root.gate].expr}" if root.kind == "gate"
                 else root.label)
    labels = data["labels"]
    fields = {
        "LANG": _h(lang), "TITLE": _h(title), "PAGE_TITLE": _h(labels["title"]),
        "CSS": _asset("step_page.css"), "JS": _asset("step_page.js"),
        "ENGINE_JS": _asset("step_engine.js"),
        "DATA": _json_for_script(data), "SVG": render_svg(g, lay, True, standalone=False),
        "SVG_STYLE": SVG_STYLE, "WIDE": " wide" if lay.width > WIDE_GRAPH else "",
    }
    for k, v in labels.items():
        fields["L_" + k.upper()] = _h(v)
    template = _asset("step_page.html")
    page = HTMLPage(re.sub(r"\{\{([A-Z_]+)\}\}", lambda m: fields[m.group(1)], template))
    if path is not None:
        atomic_write_bytes(Path(os.fspath(path)), page.encode("utf-8"))
    return page
