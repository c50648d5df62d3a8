"""The snapshot of a computational graph that ``cr.explain`` and every drawing show.

:func:`snapshot` walks the graph of a tensor (iteratively, so any depth works) and
copies what a learner needs to see: every value (inputs, constants, gates' outputs),
every gate with how it is shown (read from the gate class's own ``symbol``,
``infix``, ``function_name``, ``elementwise`` and ``local_notation``), readable labels
(``a + b``, ``mul3``), the module scope each gate was recorded in and, if asked, a
traced backward pass: the upstream gradient every gate received, its local gradient
and the gradient it sent to each input, in the order backward visits the gates.

The traced pass is the engine's own (:func:`chainrule.autograd.traced_gradients`):
``retain_graph=True``, no ``.grad`` touched, no tensor hooks run, so the graph stays
usable and the gradients shown are the ones backward computes. A :class:`Graph`
holds copies of the values, never the tensors or gates, so it outlives the graph.

The table (:mod:`chainrule.viz.table`), the DOT text (:mod:`chainrule.viz.dot`), the
SVG drawing (:mod:`chainrule.viz.svg`) and the step-through page
(:mod:`chainrule.viz.page`) all read this model; :func:`graph_of` turns what the user
passes (a tensor, or an object with a ``graph`` snapshot such as an ``Explanation``)
into one.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import collect_gates, root_gradient, traced_gradients
from ..errors import BackwardError, GraphFreedError
from ..scopes import scope_resolver
from .jacobian import local_jacobians

__all__ = ["MAX_LABEL", "SMALL_ARRAY", "GateInfo", "Graph", "Value", "d_of", "expression",
           "format_value", "freed_message", "graph_of", "local_label", "snap", "snapshot"]

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


def snap(v: Any, copy: bool = True) -> Any:
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

    Scalars print short: at most 6 significant digits (``2.2``, ``110.0`` for
    110.00000000000001, ``0.333333``); ``full`` prints Python's shortest repr of the
    float that was computed, exactly. Arrays print a summary: up to
    :data:`SMALL_ARRAY` elements their values to 4 significant digits
    (``[0.5, -1.25]``), larger ones their shape, mean, min and max
    (``(3, 4) mean=0.25 min=-1 max=2``). With ``full`` every value is printed exactly
    (over several lines). ``short`` is the compact form used in drawings: small arrays
    (up to 3 elements) show their values, larger ones only their shape.
    """
    if v is None:
        return "—"
    if not isinstance(v, np.ndarray) or v.ndim == 0:
        text = _fmt_scalar(_scalar(v))
        if not full and len(text) > 9:
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
class Value:
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


class GateInfo:
    """A gate of the graph, with what it received and sent during backward."""

    __slots__ = ("cls", "doc", "downstream", "expr", "fn", "index", "infix", "inputs",
                 "jacobians", "local", "local_notation", "needs", "output", "scope", "step",
                 "symbol", "upstream")

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
        #: per input, its local Jacobian (``viz/jacobian.py``), when asked for
        self.jacobians: tuple[Any, ...] | None = None


class Graph:
    """A snapshot of a computational graph: values, gates, and (optionally) gradients.

    It holds copies of the values, never the tensors or gates, so it outlives the graph.
    ``gates`` are in forward order (oldest first); ``order`` lists the gates that
    backward visited, in that order (newest first).
    """

    def __init__(self) -> None:
        self.values: list[Value] = []
        self.gates: list[GateInfo] = []
        self.root = -1
        self.order: list[int] = []
        self.has_grads = False
        self.seed: Any = None

    def leaves(self) -> list[Value]:
        """The inputs that require grad, in the order they are first used."""
        return [v for v in self.values if v.kind == "leaf"]


def freed_message(where: str) -> str:
    return (f"{where} needs the computational graph, but a backward pass has already "
            f"released it (backward frees each gate's saved values as it goes). Call "
            f"{where} before y.backward(), or call y.backward(retain_graph=True); or keep "
            f"a snapshot first: ex = cr.explain(y), then y.backward(), then use ex "
            f"(cr.viz accepts it too)")


def expression(infix: str | None, fn: str, args: Sequence[Value]) -> str:
    def operand(v: Value) -> str:
        return f"({v.label})" if v.compound else v.label
    if infix is not None and len(args) == 2:
        return f"{operand(args[0])} {infix} {operand(args[1])}"
    if infix is not None and len(args) == 1:
        return f"{infix}{operand(args[0])}"
    return f"{fn}({', '.join(v.label for v in args)})"


def _needs_parens(label: str) -> bool:
    return label.startswith("-") or any(c in label for c in " +*/@")


def assign_labels(g: Graph) -> None:
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
        gi.expr = expression(gi.infix, gi.fn, args)
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


def local_gradients(gate: Any, gy: Any) -> tuple[Any, ...] | None:
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
        out.append(None if r is None or not gate.needs[k] else snap(r, copy=False))
    return tuple(out)


def snapshot(y: Any, where: str, grads: bool | None, grad: Any = None,
             jacobians: bool = False) -> Graph:
    """Walk the graph of ``y`` (no recursion) and, if ``grads``, run a traced backward.

    ``grads=None`` runs it only if a backward pass has already been run on this graph
    (some input that requires grad has a ``.grad``). ``jacobians`` also computes each
    gate's local Jacobians (:func:`~chainrule.viz.jacobian.local_jacobians`).
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
            gates = collect_gates([y])
        except GraphFreedError as e:
            raise GraphFreedError(freed_message(where)) from e
    gates.reverse()  # forward order: oldest gate first
    g = Graph()
    values = g.values
    gate_pos = {gate: i for i, gate in enumerate(gates)}
    out_of = [-1] * len(gates)
    by_id: dict[int, int] = {}
    leaves: list[tuple[Tensor, int]] = []  # for the backward pass (kept only in here)

    def new_value(kind: str) -> Value:
        v = Value(len(values), kind)
        values.append(v)
        return v

    def fill(v: Value, t: Any) -> None:
        if isinstance(t, Tensor):
            v.name = t.name
            v.value = snap(t.data)
            v.shape = t.data.shape
            v.requires_grad = t.requires_grad
        else:
            v.value = snap(t)
            v.shape = np.shape(t)

    scope_of = scope_resolver()
    for i, gate in enumerate(gates):
        gi = GateInfo(i, gate, scope_of(gate))
        if jacobians:
            gi.jacobians = local_jacobians(gate)
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
    assign_labels(g)
    if grads is None:
        grads = y.requires_grad and any(t.grad is not None for t, _ in leaves)
    if grads:
        trace_backward(g, y, gates, gate_pos, leaves, grad, where)
    return g


def trace_backward(g: Graph, y: Tensor, gates: list[Any], gate_pos: dict[Any, int],
                    leaves: list[tuple[Tensor, int]], grad: Any, where: str) -> None:
    seed = root_gradient(y, grad, where)
    records: list[tuple[int, Any, tuple[Any, ...], tuple[Any, ...] | None]] = []

    def trace(gate: Any, gy: Any, sent: tuple) -> None:
        records.append((gate_pos[gate], snap(gy, copy=False),
                        tuple(snap(d, copy=False) for d in sent), local_gradients(gate, gy)))

    # explain has no side effects: tensor hooks (retain_grad, user hooks) are not run
    res = traced_gradients(y, seed, [t for t, _ in leaves], trace)
    values = g.values
    for (_, idx), r in zip(leaves, res):
        values[idx].grad = snap(r, copy=False)
    g.seed = snap(seed, copy=False)
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


def local_label(gi: GateInfo, k: int, full: bool = False) -> str:
    """How the local gradient of input ``k`` of gate ``gi`` is shown.

    Its number (or elementwise array) where the gate's Jacobian allows one
    (``gi.local``), else the gate's ``local_notation`` for that input (``"· Wᵀ"``), else
    ``"…"``.
    """
    if gi.local is not None:
        return format_value(gi.local[k], full)
    notation = gi.local_notation
    return notation[k] if k < len(notation) else "…"


def graph_of(obj: Any, grads: bool | None, where: str) -> tuple[Graph, bool]:
    """The snapshot to show for ``obj``, and whether to show gradients.

    ``obj`` is a Tensor, or an object that carries a snapshot in its ``graph``
    attribute (an :class:`~chainrule.viz.table.Explanation`). For a tensor,
    ``grads=None`` shows gradients once a backward pass has run on the graph (some
    input has a ``.grad``); they are then computed by a traced backward pass of their
    own, which touches no ``.grad`` and keeps the graph.
    """
    g = getattr(obj, "graph", None) if not isinstance(obj, Tensor) else None
    if isinstance(g, Graph):
        return g, g.has_grads and (grads is None or bool(grads))
    g = snapshot(obj, where, grads=grads)
    return g, g.has_grads
