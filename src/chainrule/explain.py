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

How it works: ``explain`` runs its *own* backward pass through the engine with
``retain_graph=True`` and a trace callback that records, for every gate in the order
backward visits it (newest first), the upstream gradient it received and the gradient
it sent to each input. Nothing's ``.grad`` is touched and the graph survives, so you can
still call ``y.backward()`` afterwards. The gradients it reports are the ones backward
computes (the same engine, the same arithmetic). Tensor hooks
(``register_hook``/``retain_grad``) are *not* run by this pass, so explain has no side
effects; with a hook that replaces a gradient, ``.grad`` after ``backward`` differs
from what explain shows.

Call it *before* ``y.backward()`` (or after ``y.backward(retain_graph=True)``): a
plain ``backward`` releases the graph, and then explain says so.

The result is a snapshot: it holds copies of the values, not the graph, so
``cr.viz.to_dot(ex)``, ``cr.viz.draw(ex, path)`` and ``cr.viz.to_html(ex, path)`` work
on it even after the graph is gone.
"""

from __future__ import annotations

import dataclasses
import html
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd as _ag
from . import i18n
from ._tensor import Tensor
from .errors import BackwardError, GraphFreedError
from .scopes import scope_resolver

__all__ = ["Explanation", "FanOut", "Row", "d_of", "explain", "format_value"]

#: Expression labels longer than this fall back to the gate's name and a counter.
MAX_LABEL = 24
#: Arrays with at most this many elements are printed in full even in summaries.
SMALL_ARRAY = 6


# ---------------------------------------------------------------------- formatting
def _scalar(v: Any) -> Any:
    """A 0-d value as a Python number (float64/int64/bool) or a NumPy scalar (others)."""
    t = type(v)
    if t is float or t is int or t is bool:
        return v
    arr = np.asarray(v)
    if arr.dtype in (np.float64, np.int64, np.bool_):
        return arr.item()
    return arr[()]


def _snap(v: Any, copy: bool = True) -> Any:
    """What explain keeps of a value: a scalar for 0-d values, else an ndarray."""
    if v is None:
        return None
    t = type(v)
    if t is float or t is int or t is bool:
        return v
    if isinstance(v, Tensor):
        v = v.data
    arr = np.asarray(v)
    if arr.ndim == 0:
        return _scalar(arr)
    return arr.copy() if copy else arr


def _fmt_scalar(v: Any) -> str:
    if type(v) is float:
        return repr(v)
    if isinstance(v, np.generic):
        return str(v)        # the shortest repr for that dtype (e.g. float32 0.1 -> '0.1')
    return str(v)


def _exact(x: Any) -> str:
    return repr(float(x)) if type(x) is float or isinstance(x, np.float64) else str(x)


def _brief(x: Any) -> str:
    return f"{x:.4g}"


def format_value(v: Any, full: bool = False, short: bool = False) -> str:
    """How explain prints a value.

    Scalars print exactly: Python's shortest repr of the float that was computed
    (``2.2``, ``110.00000000000001``). Arrays print a summary: up to
    :data:`SMALL_ARRAY` elements their values to 4 significant digits
    (``[0.5, -1.25]``), larger ones their shape, mean, min and max
    (``(3, 4) mean=0.25 min=-1 max=2``). With ``full`` every value is printed exactly
    (over several lines). ``short`` is the compact form used in drawings: scalars
    whose repr is long are rounded to 6 significant digits, small arrays (up to 3
    elements) show their values, larger ones only their shape.
    """
    if v is None:
        return "—"
    if not isinstance(v, np.ndarray) or v.ndim == 0:
        text = _fmt_scalar(_scalar(v))
        if short and len(text) > 9:
            x = _scalar(v)
            if isinstance(x, (float, np.floating)):
                r = f"{x:.6g}"
                return r if any(c in r for c in ".eni") else r + ".0"
        return text
    kind = v.dtype.kind
    if full:
        fmt = {"float_kind": _exact} if kind == "f" else None
        return np.array2string(v, separator=", ", threshold=sys.maxsize, max_line_width=88,
                               formatter=fmt)
    if v.size <= (3 if short else SMALL_ARRAY) and kind in "fiub":
        fmt = {"float_kind": _brief} if kind == "f" else None
        return np.array2string(v, separator=", ", formatter=fmt)
    shape = "(" + ", ".join(str(n) for n in v.shape) + ("," if v.ndim == 1 else "") + ")"
    if short:
        return shape
    if v.size == 0:
        return f"{shape} empty"
    if kind not in "fiub":
        return f"{shape} {v.dtype}"
    with np.errstate(all="ignore"):
        mean = float(np.mean(v))
        lo = float(np.min(v))
        hi = float(np.max(v))
    return f"{shape} mean={mean:.4g} min={lo:.4g} max={hi:.4g}"


def d_of(root: str, name: str) -> str:
    """``df/da``; a name that is not a plain identifier is parenthesised: ``df/d(fc1.w)``."""
    r = root if root.isidentifier() else f"({root})"
    n = name if name.isidentifier() else f"({name})"
    return f"d{r}/d{n}"


# ---------------------------------------------------------------------- the snapshot
class _Value:
    """A value of the graph: an input (leaf), a constant, or a gate's output."""

    __slots__ = ("compound", "done_step", "gate", "grad", "index", "is_root", "kind",
                 "label", "name", "parts", "requires_grad", "scope", "shape", "uses", "value")

    def __init__(self, index: int, kind: str) -> None:
        self.index = index
        self.kind = kind            # "leaf", "const" or "gate"
        self.label = ""
        self.name: str | None = None  # the tensor's own name, if it had one
        self.compound = False        # label needs parentheses inside an expression
        self.value: Any = None
        self.shape: tuple[int, ...] = ()
        self.gate: int | None = None  # index of the gate that made it
        self.requires_grad = False
        self.grad: Any = None         # the total gradient d(root)/d(this value)
        self.parts: list[tuple[int, int, Any, int]] = []  # (gate, position, grad, step)
        self.done_step: int | None = None
        self.uses: list[tuple[int, int]] = []  # (gate, position) where it is an input
        self.is_root = False
        self.scope: str | None = None


class _GateInfo:
    """A gate of the graph, with what it received and sent during backward."""

    __slots__ = ("cls", "doc", "downstream", "expr", "fn", "index", "infix", "inputs",
                 "local", "local_notation", "needs", "output", "scope", "step", "symbol",
                 "upstream")

    def __init__(self, index: int, gate: Any, scope: str | None) -> None:
        cls = type(gate)
        name = cls.__name__
        self.index = index
        self.cls = name
        self.doc = cls.__doc__ or ""
        self.symbol = cls.symbol or name
        self.fn = cls.function_name or name.lower()
        self.infix = cls.infix
        self.local_notation = cls.local_notation or ()
        self.scope: str | None = scope
        self.needs: tuple[bool, ...] = tuple(bool(n) for n in gate.needs)
        self.inputs: list[int] = []
        self.output = -1
        self.expr = ""
        self.step: int | None = None
        self.upstream: Any = None
        self.local: tuple[Any, ...] | None = None
        self.downstream: tuple[Any, ...] = ()


class _Graph:
    """A snapshot of a computational graph: values, gates, and (optionally) gradients.

    It holds copies of the values, never the tensors or gates, so it outlives the graph.
    ``gates`` are in forward order (oldest first); ``order`` lists the gates that
    backward visited, in that order (newest first).
    """

    def __init__(self) -> None:
        self.values: list[_Value] = []
        self.gates: list[_GateInfo] = []
        self.root = -1
        self.order: list[int] = []
        self.has_grads = False
        self.seed: Any = None

    def leaves(self) -> list[_Value]:
        """The inputs that require grad, in the order they are first used."""
        return [v for v in self.values if v.kind == "leaf"]


def _freed_message(where: str) -> str:
    return (f"{where} needs the computational graph, but a backward pass has already "
            f"released it (backward frees each gate's saved values as it goes). Call "
            f"{where} before y.backward(), or call y.backward(retain_graph=True); or keep "
            f"a snapshot first: ex = cr.explain(y), then y.backward(), then use ex "
            f"(cr.viz accepts it too)")


def _expr(infix: str | None, fn: str, args: Sequence[_Value]) -> str:
    def operand(v: _Value) -> str:
        return f"({v.label})" if v.compound else v.label
    if infix is not None and len(args) == 2:
        return f"{operand(args[0])} {infix} {operand(args[1])}"
    if infix is not None and len(args) == 1:
        return f"{infix}{operand(args[0])}"
    return f"{fn}({', '.join(v.label for v in args)})"


def _needs_parens(label: str) -> bool:
    return label.startswith("-") or any(c in label for c in " +*/@")


def _assign_labels(g: _Graph) -> None:
    """Give every value a unique, readable label.

    Tensors keep their ``name`` (``cr.tensor(..., name="x")``, module parameters'
    dotted names); the output is ``f`` unless named; other unnamed leaves are ``x1``,
    ``x2``...; unnamed intermediate values are the expression that made them
    (``a + b``) while it is short, else the gate's name and a counter (``mul3``).
    Duplicates get ``#2``, ``#3``.
    """
    taken: set[str] = set()

    def claim(base: str) -> str:
        if base not in taken:
            taken.add(base)
            return base
        k = 2
        while f"{base}#{k}" in taken:
            k += 1
        taken.add(f"{base}#{k}")
        return f"{base}#{k}"

    named = [v for v in g.values if v.name]
    for v in named:
        if v.kind != "const":
            v.label = claim(v.name)  # type: ignore[arg-type]
    root = g.values[g.root] if g.root >= 0 else None
    if root is not None and not root.label:
        for cand in ("f", "y", "out"):
            if cand not in taken:
                root.label = claim(cand)
                break
        else:
            root.label = claim("out")
    auto_leaf = 0
    auto_const = 0
    counters: dict[str, int] = {}
    for v in g.values:
        if v.label:
            if v.kind != "gate" or v.name:
                v.compound = _needs_parens(v.label)
            continue
        if v.kind == "leaf":
            auto_leaf += 1
            while f"x{auto_leaf}" in taken:
                auto_leaf += 1
            v.label = claim(f"x{auto_leaf}")
        elif v.kind == "const":
            if v.name:
                v.label = v.name
            elif not isinstance(v.value, np.ndarray):
                v.label = format_value(v.value)
            else:
                auto_const += 1
                v.label = f"const{auto_const}"
            v.compound = _needs_parens(v.label)
    # intermediate values, in forward order (their inputs are labelled already)
    for gi in g.gates:
        args = [g.values[i] for i in gi.inputs]
        gi.expr = _expr(gi.infix, gi.fn, args)
        out = g.values[gi.output]
        if out.label:
            continue
        if len(gi.expr) <= MAX_LABEL and gi.expr not in taken:
            out.label = claim(gi.expr)
            out.compound = gi.infix is not None
        else:
            n = counters.get(gi.fn, 0) + 1
            while f"{gi.fn}{n}" in taken:
                n += 1
            counters[gi.fn] = n
            out.label = claim(f"{gi.fn}{n}")


def _local(gate: Any, gy: Any) -> tuple[Any, ...] | None:
    """The local gradient of each input, where it is a number (or elementwise array).

    For a gate whose inputs and output each have one element it is the derivative; for
    an elementwise gate it is the derivative of each element (in the broadcast shape).
    It is computed by running the gate's own backward formula on an upstream of ones,
    while the values it saved are still there. ``None`` for other array gates.
    """
    cls = type(gate)
    if not cls.elementwise:
        if np.size(gy) != 1:
            return None
        for t in gate.inputs:
            if np.size(t.data if isinstance(t, Tensor) else t) != 1:
                return None
    with np.errstate(all="ignore"):
        res = cls._backward(gate, np.ones_like(gy))
    if type(res) is not tuple:
        res = (res,)
    out = []
    for k in range(len(gate.inputs)):
        r = res[k] if k < len(res) else None
        out.append(None if r is None or not gate.needs[k] else _snap(r, copy=False))
    return tuple(out)


def _snapshot(y: Any, where: str, grads: bool | None, grad: Any = None) -> _Graph:
    """Walk the graph of ``y`` (no recursion) and, if ``grads``, run a traced backward.

    ``grads=None`` runs it only if a backward pass has already been run on this graph
    (some input that requires grad has a ``.grad``).
    """
    if not isinstance(y, Tensor):
        raise TypeError(f"{where}: expected a chainrule Tensor (the output of a computation), "
                        f"got {type(y).__name__}")
    if grads and not y.requires_grad:
        raise BackwardError(
            f"{where}: this tensor does not require grad, so there is no backward pass to "
            f"show; create the inputs with requires_grad=True (and do not compute under "
            f"cr.no_grad())")
    if y.creator is None:
        gates: list[Any] = []
    else:
        try:
            gates = _ag.collect_gates([y])
        except GraphFreedError as e:
            raise GraphFreedError(_freed_message(where)) from e
    gates.reverse()  # forward order: oldest gate first
    g = _Graph()
    values = g.values
    gate_pos = {gate: i for i, gate in enumerate(gates)}
    out_of = [-1] * len(gates)
    by_id: dict[int, int] = {}
    leaves: list[tuple[Tensor, int]] = []  # for the backward pass (kept only in here)

    def new_value(kind: str) -> _Value:
        v = _Value(len(values), kind)
        values.append(v)
        return v

    def fill(v: _Value, t: Any) -> None:
        if isinstance(t, Tensor):
            v.name = t.name
            v.value = _snap(t.data)
            v.shape = t.data.shape
            v.requires_grad = t.requires_grad
        else:
            v.value = _snap(t)
            v.shape = np.shape(t)

    scope_of = scope_resolver()
    for i, gate in enumerate(gates):
        gi = _GateInfo(i, gate, scope_of(gate))
        g.gates.append(gi)
        out = new_value("gate")
        out.gate = i
        out.scope = gi.scope
        out.requires_grad = True
        gi.output = out.index
        out_of[i] = out.index
        for pos, t in enumerate(gate.inputs):
            if isinstance(t, Tensor):
                c = t.creator
                if c is not None:
                    v = values[out_of[gate_pos[c]]]
                    if v.value is None:
                        fill(v, t)
                else:
                    idx = by_id.get(id(t))
                    if idx is None:
                        v = new_value("leaf" if t.requires_grad else "const")
                        fill(v, t)
                        by_id[id(t)] = v.index
                        if t.requires_grad:
                            leaves.append((t, v.index))
                    else:
                        v = values[idx]
            else:
                v = new_value("const")
                fill(v, t)
            v.uses.append((i, pos))
            gi.inputs.append(v.index)
    if y.creator is not None:
        root = values[out_of[gate_pos[y.creator]]]
        fill(root, y)
    else:
        root = new_value("leaf" if y.requires_grad else "const")
        fill(root, y)
        if y.requires_grad:
            leaves.append((y, root.index))
    root.is_root = True
    g.root = root.index
    # a value used only inside one module's gates belongs to that module's cluster
    for v in values:
        if v.kind != "gate" and v.uses:
            scopes = {g.gates[u[0]].scope for u in v.uses}
            if len(scopes) == 1:
                v.scope = scopes.pop()
    _assign_labels(g)
    if grads is None:
        grads = y.requires_grad and any(t.grad is not None for t, _ in leaves)
    if grads:
        _trace_backward(g, y, gates, gate_pos, leaves, grad, where)
    return g


def _trace_backward(g: _Graph, y: Tensor, gates: list[Any], gate_pos: dict[Any, int],
                    leaves: list[tuple[Tensor, int]], grad: Any, where: str) -> None:
    seed = _ag.root_gradient(y, grad, where)
    records: list[tuple[int, Any, tuple[Any, ...], tuple[Any, ...] | None]] = []

    def trace(gate: Any, gy: Any, sent: tuple) -> None:
        records.append((gate_pos[gate], _snap(gy, copy=False),
                        tuple(_snap(d, copy=False) for d in sent), _local(gate, gy)))

    # explain has no side effects: tensor hooks (retain_grad, user hooks) are not run
    res = _ag.traced_gradients(y, seed, [t for t, _ in leaves], trace)
    values = g.values
    for (_, idx), r in zip(leaves, res):
        values[idx].grad = _snap(r, copy=False)
    g.seed = _snap(seed, copy=False)
    for step, (i, gy, sent, local) in enumerate(records, start=1):
        gi = g.gates[i]
        gi.step = step
        gi.upstream = gy
        n = len(gi.inputs)
        gi.downstream = tuple(sent[k] if k < len(sent) else None for k in range(n))
        gi.local = local
        g.order.append(i)
        values[gi.output].grad = gy
        for pos, d in enumerate(gi.downstream):
            if d is not None:
                values[gi.inputs[pos]].parts.append((i, pos, d, step))
    root = values[g.root]
    if root.kind == "gate":
        root.grad = g.seed
    root.done_step = 0
    for v in values:
        if v.parts:
            v.parts.sort(key=lambda p: (p[0], p[1]))  # the order the value was used in
            v.done_step = max(p[3] for p in v.parts)
    g.has_grads = True


# ---------------------------------------------------------------------- public API
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

    def as_dict(self) -> dict[str, Any]:
        """The row as a plain dict (fan-outs as dicts too)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["fanout"] = [dataclasses.asdict(f) for f in self.fanout]
        return d


class Explanation:
    """The result of :func:`explain`: printable table, ``.rows`` and ``.gradients``.

    ``str(ex)`` (or ``print(ex)``) gives the table in ``ex.lang``; :meth:`table` renders
    it in another language or with full arrays. In a notebook it displays as an HTML
    table. ``to_dot``, ``draw`` and ``to_html`` draw the same snapshot with
    :mod:`chainrule.viz`.
    """

    def __init__(self, graph: _Graph, lang: str = "en", full: bool = False) -> None:
        self._graph = graph
        self.lang = i18n.check_lang(lang)
        self.full = bool(full)
        self.root: str = graph.values[graph.root].label
        self.rows: list[Row] = self._make_rows()
        #: leaf label -> the gradient backward computed for it
        self.gradients: dict[str, Any] = {v.label: v.grad for v in graph.leaves()}

    def _make_rows(self) -> list[Row]:
        g = self._graph
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
                rule=i18n.rule(gi.cls, self.lang, gi.doc), scope=gi.scope))
        return rows

    # ------------------------------------------------------------------ text
    def table(self, lang: str | None = None, full: bool | None = None) -> str:
        """The backward table as text (``lang``/``full`` default to the explanation's)."""
        lang = i18n.check_lang(lang or self.lang)
        full = self.full if full is None else bool(full)
        g = self._graph
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
            short = gi.local_notation
            numeric = gi.local is not None
            gate_cell = r.gate if not r.scope else f"{r.gate} ({r.scope})"
            for k, name in enumerate(r.input_names):
                first = k == 0
                row = [str(r.step) if first else "", gate_cell if first else "",
                       r.output if first else "", name, fmt(r.inputs[k], full)]
                if r.downstream[k] is None:
                    row += ["", "", "", "", "— (" + const + ")"
                            if not gi.needs[k] else "—"]
                else:
                    if numeric:
                        loc = fmt(r.local[k], full)
                    else:
                        loc = short[k] if k < len(short) else "…"
                    row += [fmt(r.upstream, full), "×" if numeric else "·", loc, "=",
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
        return "\n".join(out)

    def _has_arrays(self) -> bool:
        return any(isinstance(v.value, np.ndarray) or isinstance(v.grad, np.ndarray)
                   for v in self._graph.values)

    def _long_rows(self, lang: str) -> list[str]:
        """One block per gate, for ``full=True`` with arrays (too wide for a grid)."""
        t = i18n.text
        g = self._graph

        def put(out: list[str], lead: str, v: Any) -> None:
            lines = format_value(v, True).split("\n")
            out.append(lead + lines[0])
            out.extend(" " * len(lead) + ln for ln in lines[1:])

        out: list[str] = []
        for r, gi in zip(self.rows, (g.gates[i] for i in g.order)):
            short = gi.local_notation
            scope = f" ({r.scope})" if r.scope else ""
            out.append("")
            expr = f" = {gi.expr}" if gi.expr != r.output else ""
            out.append(f"{t('col.step', lang)} {r.step}: {r.gate}{scope}  {r.output}{expr}")
            put(out, f"  {t('col.upstream', lang)} = ", r.upstream)
            for k, name in enumerate(r.input_names):
                put(out, f"  {t('col.input', lang)} {name} = ", r.inputs[k])
                if r.downstream[k] is None:
                    out.append("    " + t("constant", lang))
                    continue
                if gi.local is not None:
                    put(out, f"    {t('col.local', lang)} = ", r.local[k])
                else:
                    loc = short[k] if k < len(short) else "…"
                    out.append(f"    {t('col.local', lang)}: {loc}   ({r.rule})")
                put(out, f"    {t('col.downstream', lang)} = ", r.downstream[k])
            for f in r.fanout:
                parts = " + ".join(format_value(p) for p in f.parts)
                out.append("  " + t("fanout", lang, name=f.name, n=len(f.parts),
                                    sum=f"{parts} = {format_value(f.total)}"))
        return out

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        grads = ", ".join(f"{k}={format_value(v)}" for k, v in list(self.gradients.items())[:6])
        more = ", …" if len(self.gradients) > 6 else ""
        return (f"<Explanation of {self.root}: {len(self.rows)} gate(s); gradients "
                f"{grads}{more}; print() it for the table>")

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
        for r in self.rows[:max_rows]:
            for k, name in enumerate(r.input_names):
                cells = [str(r.step) if k == 0 else "", r.gate if k == 0 else "",
                         r.output if k == 0 else "", name, format_value(r.inputs[k])]
                h.append("<tr>" + "".join(f"<td {td}>{e(c)}</td>" for c in cells))
                if r.downstream[k] is None:
                    h.append(f"<td {td}></td><td {td}></td><td {td}>{e(t('constant', lang))}"
                             f"</td></tr>")
                    continue
                loc = format_value(r.local[k]) if r.local[k] is not None else "…"
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
        from .viz import to_dot
        return to_dot(self, **kwargs)

    def draw(self, path: Any, **kwargs: Any) -> Any:
        """Render with Graphviz; see :func:`chainrule.viz.draw`."""
        from .viz import draw
        return draw(self, path, **kwargs)

    def to_html(self, path: Any = None, **kwargs: Any) -> str:
        """The step-through page; see :func:`chainrule.viz.to_html`."""
        from .viz import to_html
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
            w = cache[c] = i18n.display_width(c)
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


def explain(y: Tensor, lang: str = "en", full: bool = False, grad: Any = None) -> Explanation:
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
    graph = _snapshot(y, "cr.explain", grads=True, grad=grad)
    return Explanation(graph, lang=lang, full=full)
