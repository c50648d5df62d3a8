"""``cr.explain(y)``: the backward pass as a table, one row per gate.

The seed notes teach backprop one gate at a time: every gate receives the *upstream*
gradient from its output, multiplies it by its *local* gradient, and sends the result
*downstream* to each input; where a value is used in several places (fans out), the
gradients coming back from those places add up. ``cr.explain`` shows exactly that for
any computation::

    >>> import chainrule as cr
    >>> a = cr.tensor(-1.0, requires_grad=True, name="a")
    >>> b = cr.tensor(3.0, requires_grad=True, name="b")
    >>> c = cr.tensor(4.0, requires_grad=True, name="c")
    >>> ex = cr.explain((a + b) * (b + c))
    >>> ex.gradients
    {'a': 7.0, 'b': 9.0, 'c': 2.0}
    >>> print(ex)           # the table; ex.rows holds the same as data

How it works: ``explain`` takes a :func:`~chainrule.viz.graph.snapshot` of the graph
with a traced backward pass through the engine (``retain_graph=True``, a trace
callback that records, for every gate in the order backward visits it, newest first,
the upstream gradient it received and the gradient it sent to each input). Nothing's
``.grad`` is touched and the graph survives, so you can still call ``y.backward()``
afterwards. The gradients it reports are the ones backward computes (the same engine,
the same arithmetic). Tensor hooks (``register_hook``/``retain_grad``) are *not* run
by this pass, so explain has no side effects; with a hook that replaces a gradient,
``.grad`` after ``backward`` differs from what explain shows.

Call it *before* ``y.backward()`` (or after ``y.backward(retain_graph=True)``): a
plain ``backward`` releases the graph, and then explain says so.

The result is a snapshot (``ex.graph``): it holds copies of the values, not the graph,
so ``cr.viz.to_dot(ex)``, ``cr.viz.draw(ex, path)`` and ``cr.viz.to_html(ex, path)``
work on it even after the graph is gone.
"""

from __future__ import annotations

import dataclasses
import html
from typing import Any

import numpy as np

from .._tensor import Tensor
from .._text import display_width
from . import i18n
from .dot import draw, to_dot
from .graph import Graph, d_of, format_value, local_label, snapshot
from .jacobian import jacobian_lines
from .page import to_html

__all__ = ["Explanation", "FanOut", "Row", "explain"]


@dataclasses.dataclass(frozen=True, eq=False)
class FanOut:
    """A value used in several places: the gradients from each use and their sum.

    ``parts`` are in the order the value was used in the forward pass; ``total`` is
    the gradient backward computed for it (the sum of ``parts``).
    """

    name: str
    parts: tuple[Any, ...]
    total: Any


@dataclasses.dataclass(frozen=True, eq=False)
class Row:
    """One gate of the backward pass, as ``cr.explain`` reports it.

    For each input ``k``: ``downstream[k] = upstream × local[k]`` (for array gates,
    summed back to the input's shape). ``local[k]`` is a number (or an elementwise
    array) where the gate's Jacobian allows, else ``None`` (see ``rule``).
    ``downstream[k]`` is ``None`` for a constant input. ``fanout`` lists the values
    whose gradient sum is complete after this step.
    """

    step: int
    gate: str
    output: str
    value: Any
    input_names: tuple[str, ...]
    inputs: tuple[Any, ...]
    upstream: Any
    local: tuple[Any, ...]
    downstream: tuple[Any, ...]
    fanout: tuple[FanOut, ...]
    rule: str
    scope: str | None = None
    #: per input, its local Jacobian (``cr.explain(y, jacobians=True)``), else ()
    jacobians: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (fan-outs as dicts too)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["fanout"] = [dataclasses.asdict(f) for f in self.fanout]
        return d


class Explanation:
    """The result of :func:`explain`: printable table, ``.rows`` and ``.gradients``.

    ``str(ex)`` (or ``print(ex)``) gives the table in ``ex.lang``; :meth:`table` renders
    it in another language or with full arrays. In a notebook it displays as an HTML
    table. ``graph`` is the snapshot it was made from; ``to_dot``, ``draw`` and
    ``to_html`` draw it with :mod:`chainrule.viz` (as ``cr.viz.to_dot(ex)`` etc. do).
    """

    def __init__(self, graph: Graph, lang: str = "en", full: bool = False) -> None:
        #: the snapshot of the graph (values, gates, the traced backward pass)
        self.graph = graph
        self.lang = i18n.check_lang(lang)
        self.full = bool(full)
        self.root: str = graph.values[graph.root].label
        self.rows: list[Row] = self._make_rows()
        #: leaf label -> the gradient backward computed for it
        self.gradients: dict[str, Any] = {v.label: v.grad for v in graph.leaves()}

    def _make_rows(self) -> list[Row]:
        g = self.graph
        values = g.values
        fan: dict[int, list[FanOut]] = {}
        for v in values:
            if len(v.parts) > 1 and v.done_step:
                fan.setdefault(v.done_step, []).append(
                    FanOut(v.label, tuple(p[2] for p in v.parts), v.grad))
        rows = []
        for i in g.order:
            gi = g.gates[i]
            ins = [values[k] for k in gi.inputs]
            local = gi.local if gi.local is not None else (None,) * len(ins)
            rows.append(Row(
                step=gi.step or 0, gate=gi.cls, output=values[gi.output].label,
                value=values[gi.output].value, input_names=tuple(v.label for v in ins),
                inputs=tuple(v.value for v in ins), upstream=gi.upstream,
                local=tuple(local), downstream=gi.downstream,
                fanout=tuple(fan.get(gi.step or 0, ())),
                rule=i18n.rule(gi.cls, self.lang, gi.doc), scope=gi.scope,
                jacobians=tuple(gi.jacobians or ())))
        return rows

    # ------------------------------------------------------------------ text
    def table(self, lang: str | None = None, full: bool | None = None) -> str:
        """The backward table as text (``lang``/``full`` default to the explanation's)."""
        lang = i18n.check_lang(lang or self.lang)
        full = self.full if full is None else bool(full)
        g = self.graph
        values = g.values
        t = i18n.text
        out = [t("table.title", lang, root=self.root, n=len(self.rows))]
        if not self.rows and values[g.root].kind == "leaf":
            out = [t("table.empty", lang, root=self.root)]
        if full and self._has_arrays():
            out.extend(self._long_rows(lang))
            grid_rows = False
        else:
            grid_rows = True
        header = [t("col.step", lang), t("col.gate", lang), t("col.output", lang),
                  t("col.input", lang), t("col.value", lang), t("col.upstream", lang), "",
                  t("col.local", lang), "", t("col.downstream", lang)]
        grid: list[list[str] | str] = []   # a str is a full-width note line
        fmt = format_value
        const = t("constant", lang)
        for r, gi in zip(self.rows if grid_rows else (), (g.gates[i] for i in g.order)):
            numeric = gi.local is not None
            name_ = i18n.gate_name(r.gate, lang)
            gate_cell = name_ if not r.scope else f"{name_} ({r.scope})"
            for k, name in enumerate(r.input_names):
                first = k == 0
                row = [str(r.step) if first else "", gate_cell if first else "",
                       f"{r.output} = {fmt(r.value, full)}" if first else "", name,
                       fmt(r.inputs[k], full)]
                if r.downstream[k] is None:
                    row += ["", "", "", "", "— (" + const + ")"
                            if not gi.needs[k] else "—"]
                else:
                    row += [fmt(r.upstream, full), "×" if numeric else "·",
                            local_label(gi, k, full), "=",
                            fmt(r.downstream[k], full)]
                grid.append(row)
            for f in r.fanout:
                parts = " + ".join(fmt(p, full) for p in f.parts)
                grid.append("    " + t("fanout", lang, name=f.name, n=len(f.parts),
                                       sum=f"{parts} = {fmt(f.total, full)}"))
        if grid:
            out.append("")
            out.extend(_render_grid(header, grid, right={0}))
        out.append("")
        out.append(t("gradients", lang))
        for v in g.leaves():
            val = fmt(v.grad, full) if v.grad is not None else t("no_gradient", lang)
            lead = f"  {d_of(self.root, v.label)} = "
            lines = val.split("\n")
            out.append(lead + lines[0])
            out.extend(" " * len(lead) + ln for ln in lines[1:])
        if any(r.jacobians for r in self.rows):
            out.append("")
            out.extend(jacobian_lines(self.rows, lang, full))
        return "\n".join(out)

    def _has_arrays(self) -> bool:
        return any(isinstance(v.value, np.ndarray) or isinstance(v.grad, np.ndarray)
                   for v in self.graph.values)

    def _long_rows(self, lang: str) -> list[str]:
        """One block per gate, for ``full=True`` with arrays (too wide for a grid)."""
        t = i18n.text
        g = self.graph

        def put(out: list[str], lead: str, v: Any) -> None:
            lines = format_value(v, True).split("\n")
            out.append(lead + lines[0])
            out.extend(" " * len(lead) + ln for ln in lines[1:])

        out: list[str] = []
        for r, gi in zip(self.rows, (g.gates[i] for i in g.order)):
            scope = f" ({r.scope})" if r.scope else ""
            out.append("")
            expr = f" = {gi.expr}" if gi.expr != r.output else ""
            out.append(f"{t('col.step', lang)} {r.step}: {r.gate}{scope}  {r.output}{expr}")
            put(out, f"  {r.output} = ", r.value)
            put(out, f"  {t('col.upstream', lang)} = ", r.upstream)
            for k, name in enumerate(r.input_names):
                put(out, f"  {t('col.input', lang)} {name} = ", r.inputs[k])
                if r.downstream[k] is None:
                    out.append("    " + t("constant", lang))
                    continue
                if gi.local is not None:
                    put(out, f"    {t('col.local', lang)} = ", r.local[k])
                else:
                    out.append(f"    {t('col.local', lang)}: {local_label(gi, k)}   ({r.rule})")
                put(out, f"    {t('col.downstream', lang)} = ", r.downstream[k])
            for f in r.fanout:
                parts = " + ".join(format_value(p) for p in f.parts)
                out.append("  " + t("fanout", lang, name=f.name, n=len(f.parts),
                                    sum=f"{parts} = {format_value(f.total)}"))
        return out

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        # The table itself, so that ``cr.explain(f)`` at the REPL shows it (as a
        # notebook shows the HTML table); ``ex.rows`` and ``ex.gradients`` are the data.
        return self.table()

    def _repr_html_(self, max_rows: int = 1000) -> str:
        lang = self.lang
        t = i18n.text
        e = html.escape
        cols = ["col.step", "col.gate", "col.output", "col.input", "col.value",
                "col.upstream", "col.local", "col.downstream"]
        h = ['<div class="chainrule-explain"><p><b>', e(t("table.title", lang, root=self.root,
                                                          n=len(self.rows))), "</b></p>",
             '<table style="border-collapse:collapse;font-family:monospace">', "<tr>"]
        h += [f'<th style="text-align:left;padding:2px 8px">{e(t(c, lang))}</th>' for c in cols]
        h.append("</tr>")
        red = 'style="color:#c62828;padding:2px 8px"'
        td = 'style="padding:2px 8px"'
        gates = (self.graph.gates[i] for i in self.graph.order)
        for r, gi in zip(self.rows[:max_rows], gates):
            for k, name in enumerate(r.input_names):
                cells = [str(r.step) if k == 0 else "", r.gate if k == 0 else "",
                         r.output if k == 0 else "", name, format_value(r.inputs[k])]
                h.append("<tr>" + "".join(f"<td {td}>{e(c)}</td>" for c in cells))
                if r.downstream[k] is None:
                    h.append(f"<td {td}></td><td {td}></td><td {td}>{e(t('constant', lang))}"
                             f"</td></tr>")
                    continue
                loc = local_label(gi, k)
                h.append(f"<td {red}>{e(format_value(r.upstream))}</td><td {td}>× "
                         f"{e(loc)}</td><td {red}>= {e(format_value(r.downstream[k]))}"
                         f"</td></tr>")
            for f in r.fanout:
                parts = " + ".join(format_value(p) for p in f.parts)
                msg = t("fanout", lang, name=f.name, n=len(f.parts),
                        sum=f"{parts} = {format_value(f.total)}")
                h.append(f'<tr><td></td><td colspan="7" {red}>{e(msg)}</td></tr>')
        if len(self.rows) > max_rows:
            h.append(f'<tr><td colspan="8">… {len(self.rows) - max_rows} more rows: '
                     f"print() the explanation for all of them</td></tr>")
        h.append("</table><p><b>" + e(t("gradients", lang)) + "</b></p><ul>")
        for k, v in self.gradients.items():
            h.append(f"<li><code>{e(d_of(self.root, k))} = "
                     f"<span style='color:#c62828'>{e(format_value(v))}</span></code></li>")
        h.append("</ul></div>")
        return "".join(h)

    # ------------------------------------------------------------------ drawings
    def to_dot(self, **kwargs: Any) -> str:
        """Graphviz DOT text of this snapshot; see :func:`chainrule.viz.to_dot`."""
        return to_dot(self, **kwargs)

    def draw(self, path: Any, **kwargs: Any) -> Any:
        """Render with Graphviz; see :func:`chainrule.viz.draw`."""
        return draw(self, path, **kwargs)

    def to_html(self, path: Any = None, **kwargs: Any) -> str:
        """The step-through page; see :func:`chainrule.viz.to_html`."""
        kwargs.setdefault("lang", self.lang)
        return to_html(self, path, **kwargs)


def _render_grid(header: list[str], grid: list[list[str] | str], right: set[int]) -> list[str]:
    """Align ``grid`` under ``header``; cells may span several lines.

    Linear in the number of cells; display widths are cached (a 100,000-gate table
    repeats the same few strings many times).
    """
    ncol = len(header)
    cache: dict[str, int] = {}

    def width(c: str) -> int:
        w = cache.get(c)
        if w is None:
            w = cache[c] = display_width(c)
        return w

    widths = [width(h) for h in header]
    rows: list[list[list[str]] | list[str] | str] = []
    for row in grid:
        if isinstance(row, str):
            rows.append(row)
            continue
        if any("\n" in c for c in row):
            cells = [c.split("\n") for c in row]
            for j, lines in enumerate(cells):
                for ln in lines:
                    widths[j] = max(widths[j], width(ln))
            rows.append(cells)
        else:
            for j, c in enumerate(row):
                w = width(c)
                if w > widths[j]:
                    widths[j] = w
            rows.append(row)

    def line(cells: list[str]) -> str:
        parts = []
        for j, c in enumerate(cells):
            fill = " " * (widths[j] - width(c))
            parts.append(fill + c if j in right else c + fill)
        return "  ".join(parts).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    for cells in rows:
        if isinstance(cells, str):
            out.append(cells)
        elif cells and isinstance(cells[0], list):
            height = max(len(c) for c in cells)
            for h in range(height):
                out.append(line([c[h] if h < len(c) else "" for c in cells[:ncol]]))
        else:
            out.append(line(cells))  # type: ignore[arg-type]
    return out


def explain(y: Tensor, lang: str = "en", full: bool = False, grad: Any = None,
            jacobians: bool = False) -> Explanation:
    """Explain the backward pass from ``y``, one row per gate, as the seed notes do.

    Parameters
    ----------
    y:
        The output of a computation on tensors that require grad, with its graph still
        in place: call ``explain`` before ``y.backward()`` (or after
        ``y.backward(retain_graph=True)``).
    lang:
        ``"en"`` (default) or ``"ko"``: the language of the table's headings.
    full:
        Print arrays in full instead of their shape and a summary.
    grad:
        The upstream gradient of ``y``; needed only when ``y`` has more than one element
        (as for ``backward``).
    jacobians:
        Also compute every gate's local Jacobian (``Row.jacobians``) and add to the table,
        per gate and input, its shape (m, n), its structure (diagonal, selection, sum,
        dense...), the matrix itself when small, and the check that upstream (1, m) times
        local (m, n) is the downstream gradient (1, n): seed note 003's shape
        calculation. Costs one reverse pass per output element of each gate.

    Returns
    -------
    Explanation
        ``print()`` it for the table; ``.rows`` (a list of :class:`Row`) holds the same
        as data, ``.gradients`` maps each input's name to the gradient backward computes.

    ``explain`` runs its own traced backward pass (``retain_graph=True``, nothing's
    ``.grad`` touched, tensor hooks not run); the graph stays usable. It raises
    :class:`~chainrule.GraphFreedError` if a backward pass already released the graph.
    The walk is iterative, so graphs of any depth work.
    """
    i18n.check_lang(lang)
    graph = snapshot(y, "cr.explain", grads=True, grad=grad, jacobians=jacobians)
    return Explanation(graph, lang=lang, full=full)
