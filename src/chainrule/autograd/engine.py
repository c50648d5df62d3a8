"""The backward pass, shared by ``Tensor.backward``, ``cr.grad`` and ``cr.explain``.

It knows no particular operation. In three steps:

1. :class:`_Plan` collects the gates reachable from the outputs (iteratively: no
   recursion, so a chain of a million gates is fine) in reverse order of creation
   (every gate was made after the gates that made its inputs, so that order is
   topological), and for ``cr.grad`` keeps only the gates on a path to a requested
   tensor;
2. :func:`_run` hands each gate the sum of the gradients that reached its output (the
   seeds' "common variable" rule: where a value fans out, its gradients add up), sums
   each returned gradient back to its input's shape where NumPy broadcast it, and
   releases each gate's saved values as soon as its backward has run;
3. :func:`_finish` accumulates into the leaves' ``.grad`` (running their hooks) or
   returns the requested gradients.

Each backward formula is written once, in NumPy. For ordinary backprop it runs on plain
ndarrays (fast, no graph). With ``create_graph=True`` the engine hands the same formula
tensors instead (:func:`tensor_twin`); NumPy's dispatch protocols route every
``np.*`` call and operator on them back to chainrule's gates, so the gradient
computation is itself recorded and can be differentiated again.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._config import POST_HOOKS, InplaceLog, post_hooks
from .._tensor import Tensor, modified_since, wrap
from ..errors import BackwardError, GraphFreedError, InplaceModificationError, ShapeError
from .gate import Gate, sum_to_array
from .mode import enable_grad

__all__ = ["POST_HOOKS", "backward", "collect_gates", "grad", "post_hooks", "root_gradient",
           "tensor_twin", "traced_gradients"]

_ndarray = np.ndarray
_new = object.__new__
_seq_of = operator.attrgetter("seq")
Trace = Callable[[Gate, Any, tuple], None]


# ---------------------------------------------------------------------- pieces
def _as_root_grad(root: Tensor, grad: Any, create_graph: bool, where: str) -> Any:
    if grad is None:
        if root.data.size != 1:
            raise BackwardError(
                f"{where}: the output has shape {root.data.shape}, so the upstream gradient "
                f"is ambiguous; pass grad= (an array of that shape), or reduce the output "
                f"to one element first, e.g. y.sum().backward()")
        g = np.ones_like(root.data)
    else:
        g = grad.data if isinstance(grad, Tensor) and not create_graph else grad
        if not isinstance(g, Tensor):
            g = np.asarray(g, dtype=root.data.dtype)
        if g.shape != root.data.shape:
            raise ShapeError(f"{where}: grad has shape {g.shape} but the output has shape "
                             f"{root.data.shape}; they must match")
    return wrap(g) if create_graph and not isinstance(g, Tensor) else g


def _run_hooks(hooks: list, g: Any) -> Any:
    for fn in list(hooks):
        # A 0-d gradient may be a NumPy scalar here; hooks always see an ndarray inside.
        t = g if isinstance(g, Tensor) else wrap(np.asarray(g))
        r = fn(t)
        if r is not None:
            r = r if isinstance(r, Tensor) else wrap(np.asarray(r))
            if r.shape != np.shape(g):
                raise ShapeError(f"hook {getattr(fn, '__name__', fn)!r} returned a gradient of "
                                 f"shape {r.shape}, expected {np.shape(g)}")
            g = r if isinstance(g, Tensor) else r.data
    return g


def _sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(g, Tensor):
        return g.sum_to(shape)
    return sum_to_array(g, shape)


def _saved_error(gate: Gate, name: str, why: str) -> BackwardError:
    cls = type(gate).__name__
    return BackwardError(
        f"create_graph through {cls}: its saved value {name!r} {why}. Under create_graph "
        f"a saved value is either one of the gate's inputs or its output *itself* "
        f"(self.x = x, not a copy) and differentiable, or a constant of the derivative; "
        f"declare which on the class, e.g. differentiable = ('x',), save the input itself, "
        f"or recompute a derived value from the input tensors in regraph()")


def _tensor_view(gate: Gate) -> dict[str, Any]:
    """The gate's saved values with every differentiable one replaced by its tensor."""
    saved = gate.__dict__
    by_id: dict[int, Any] = {}
    for t in gate.inputs:
        if isinstance(t, Tensor):
            by_id[id(t.data)] = t if t.requires_grad else t.data
        else:
            by_id[id(t)] = t
    if gate.saves_output:
        out = gate.out()
        if out is not None:
            by_id.setdefault(id(out.data), out)
    view = dict(saved)
    names = type(gate).differentiable
    if names is not None:
        for k in names:
            v = saved.get(k)
            if v is None or type(v) in (int, float, bool):
                continue
            t = by_id.get(id(v), by_id)
            if t is by_id:
                raise _saved_error(gate, k, "is declared differentiable but is not one of "
                                   "its inputs or its output (a copy, or a derived value?)")
            view[k] = t
    else:
        arrays = [x.data if isinstance(x, Tensor) else x for x in by_id.values()]
        shapes = {(a.shape, a.dtype) for a in arrays if isinstance(a, _ndarray)}
        for k, v in saved.items():
            if isinstance(v, _ndarray):
                t = by_id.get(id(v))
                if t is not None:
                    view[k] = t
                elif (v.shape, v.dtype) in shapes:
                    raise _saved_error(gate, k, "has the shape and dtype of an input or the "
                                       "output but is not that array (a copy?), and the gate "
                                       "does not declare `differentiable`")
    regraph = getattr(gate, "regraph", None)
    if regraph is not None:
        view.update(regraph(gate.inputs))
    return view


def tensor_twin(gate: Gate) -> Gate:
    """A twin of ``gate`` whose differentiable saved values are the tensors themselves.

    Its formulas (backward under ``create_graph``, ``jvp`` in forward mode) run on
    tensors, so they record a graph. The gate itself is never changed, so another
    thread reading it sees its arrays.
    """
    twin = _new(type(gate))
    twin.__dict__ = _tensor_view(gate)
    twin.inputs, twin.needs, twin.seq = gate.inputs, gate.needs, gate.seq
    return twin


def _collect(roots: Sequence[Tensor]) -> list[Gate]:
    """All gates reachable from ``roots``, newest first (a topological order)."""
    seen: set[Gate] = set()
    stack = [r.creator for r in roots if r.creator is not None]
    gates = []
    push, pop, see = stack.append, stack.pop, seen.add
    while stack:
        g = pop()
        if g in seen:                 # pushed twice before it was visited
            continue
        see(g)
        ins = g.inputs
        if ins is None:
            raise GraphFreedError(
                f"backward through a {type(g).__name__} gate whose saved values were already "
                f"released by an earlier backward; pass retain_graph=True to the first "
                f"backward (or cr.grad) if you need to go through the graph twice")
        g._gy = None
        gates.append(g)
        for t in ins:
            if isinstance(t, Tensor):
                c = t.creator
                if c is not None and c not in seen:
                    push(c)
    gates.sort(key=_seq_of, reverse=True)
    return gates


def _prune(gates: list[Gate], want_gate: dict[Gate, list[int]],
           want_leaf: dict[Tensor, list[int]]) -> tuple[list[Gate], list[Gate]]:
    """For ``cr.grad``: keep only the gates on a path to a requested tensor.

    A gate's backward must run if one of its inputs is a requested leaf, or was made by
    a requested gate or by a gate that must run. The others are not visited: no wasted
    work below the requested tensors, and their saved values are kept (as in PyTorch),
    so another backward through them still works. Returns (kept, skipped).
    """
    needed: set[Gate] = set()
    for g in reversed(gates):  # oldest first: every input's creator is decided before g
        for t in g.inputs:
            if isinstance(t, Tensor):
                c = t.creator
                if (c in needed or c in want_gate) if c is not None else t in want_leaf:
                    needed.add(g)
                    break
    if len(needed) == len(gates):
        return gates, []
    return [g for g in gates if g in needed], [g for g in gates if g not in needed]


def _inplace_error(gate: Gate, what: str, t: Tensor) -> InplaceModificationError:
    label = f" {t.name!r}" if t.name else ""
    return InplaceModificationError(
        f"backward of {type(gate).__name__}: its {what}{label} (shape {t.shape}) was modified "
        f"in place after the forward pass saved it, so the gradient would be wrong; "
        f"modify a copy instead, or run the forward pass again after the change")


def _check_versions(gate: Gate) -> None:
    """Raise if memory the gate saved was modified in place after it ran (called only
    when the in-place log is newer than the gate: the common case costs nothing)."""
    seq = gate.seq
    if gate.saves_inputs:
        for i, t in enumerate(gate.inputs):
            if isinstance(t, Tensor) and modified_since(t.data, seq):
                raise _inplace_error(gate, f"input {i}", t)
    if gate.saves_output:
        out = gate.out()
        if out is not None and modified_since(out.data, seq):
            raise _inplace_error(gate, "output", out)


def _release(gate: Gate) -> None:
    gate.inputs = None
    gate.__dict__.clear()


def _due(plan: _Plan) -> dict[Gate, list[Tensor]]:
    """For leaves with post-accumulate hooks: the gate after which no more gradient can
    reach each (its oldest consumer, visited last)."""
    last: dict[Tensor, Gate] = {}
    for gate in plan.gates:
        for t, need in zip(gate.inputs, gate.needs):
            if need and t.creator is None and post_hooks(t):
                last[t] = gate
    due: dict[Gate, list[Tensor]] = {}
    for t, gate in last.items():
        due.setdefault(gate, []).append(t)
    return due


def _settle(t: Tensor, g: Any, hooks: bool) -> None:
    """A leaf's gradient is complete: its hooks, ``.grad``, its post-accumulate hooks."""
    if not isinstance(g, Tensor) and type(g) is not _ndarray:
        g = np.asarray(g)
    if hooks and t._hooks:
        g = _run_hooks(t._hooks, g)
    _accumulate_grad(t, g)
    for fn in list(post_hooks(t)) if hooks and POST_HOOKS else ():
        fn(t)


def _accumulate_grad(t: Tensor, g: Any) -> None:
    if isinstance(g, Tensor):
        t.grad = g if t.grad is None else t.grad + g
        return
    old = t.grad
    if old is None:
        t.grad = wrap(g)
    elif old.creator is None and not old.requires_grad and old.data.shape == g.shape \
            and old.data.dtype == g.dtype and old.data.flags.writeable:
        np.add(old.data, g, out=old.data)
    else:
        t.grad = wrap(old.data + g)


# ---------------------------------------------------------------------- plan, run, finish
class _Plan:
    """What one backward pass visits, and what it must hand back (for ``cr.grad``)."""

    __slots__ = ("capture", "gates", "skipped", "want_gate", "want_leaf")

    def __init__(self, roots: Sequence[Tensor], capture: Sequence[Tensor] | None) -> None:
        self.gates = _collect(roots)
        self.skipped: list[Gate] = []
        self.capture = capture
        self.want_gate: dict[Gate, list[int]] = {}
        self.want_leaf: dict[Tensor, list[int]] = {}
        if capture is not None:
            for i, t in enumerate(capture):
                if t.creator is not None:
                    self.want_gate.setdefault(t.creator, []).append(i)
                else:
                    self.want_leaf.setdefault(t, []).append(i)
            self.gates, self.skipped = _prune(self.gates, self.want_gate, self.want_leaf)


class _LeafGrads(dict):
    """Gradients reaching leaves, summed; a first one is copied if it could alias."""

    def __init__(self, create_graph: bool) -> None:
        super().__init__()
        self.copy_ok = not create_graph
        self.ids: set[int] = set()

    def add(self, t: Tensor, g: Any, upstream: Any) -> None:
        prev = self.get(t)
        if prev is None:
            if self.copy_ok and (g is upstream or g.base is not None or id(g) in self.ids):
                g = g.copy()
            self.ids.add(id(g))
            self[t] = g
        else:
            self[t] = prev + g


def _run(plan: _Plan, roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool,
         create_graph: bool, trace: Trace | None, hooks: bool, results: list) -> _LeafGrads:
    """Visit the planned gates newest first; return the gradients that reached leaves."""
    leaves = _LeafGrads(create_graph)
    accumulate = plan.capture is None
    want_gate, want_leaf = plan.want_gate, plan.want_leaf
    due = _due(plan) if accumulate and POST_HOOKS else None
    for r, g in zip(roots, root_grads):
        c = r.creator
        if c is None:
            if accumulate or r in want_leaf:
                leaves.add(r, g, g)
        else:
            c._gy = g if c._gy is None else c._gy + g
    for gate in plan.gates:
        gy = gate._gy
        if gy is None:
            if due and gate in due:
                _settle_due(due.pop(gate), leaves, hooks)
            if not retain_graph:
                _release(gate)
            continue
        gate._gy = None
        if hooks and gate.hooks is not None:
            gy = _run_hooks(gate.hooks, gy)
        if want_gate and gate in want_gate:
            for i in want_gate[gate]:
                results[i] = gy
        if InplaceLog.last >= gate.seq:   # something was modified in place since it ran
            _check_versions(gate)
        grads = tensor_twin(gate)._backward(gy) if create_graph else gate._backward(gy)
        if type(grads) is not tuple:
            grads = (grads,)
        sent: list | None = [] if trace is not None else None
        for t, gx, need in zip(gate.inputs, grads, gate.needs):
            if not need or gx is None:
                if sent is not None:
                    sent.append(None)
                continue
            data = t.data
            if gx.shape != data.shape:
                gx = _sum_to(gx, data.shape)
            if gx.dtype != data.dtype:
                gx = gx.astype(data.dtype)
            if sent is not None:
                sent.append(gx)
            c = t.creator
            if c is not None:
                prev = c._gy
                c._gy = gx if prev is None else prev + gx
            elif accumulate or t in want_leaf:
                leaves.add(t, gx, gy)
        if trace is not None:
            trace(gate, gy, tuple(sent))
        if due and gate in due:
            _settle_due(due.pop(gate), leaves, hooks)
        if not retain_graph:              # _release(gate), inline: once per gate
            gate.inputs = None
            gate.__dict__.clear()
    return leaves


def _settle_due(ts: list[Tensor], leaves: _LeafGrads, hooks: bool) -> None:
    for t in ts:
        if t in leaves:
            _settle(t, leaves.pop(t), hooks)


def _finish(plan: _Plan, leaves: _LeafGrads, hooks: bool, results: list) -> None:
    """Accumulate into ``.grad`` (running leaf hooks), or fill the requested results."""
    for gate in plan.skipped:
        # Gates that never ran: a requested tensor made by one of them gets the
        # gradient that reached it; other deposited gradients are dropped.
        gy = gate._gy
        gate._gy = None
        idx = plan.want_gate.get(gate)
        if idx is not None and gy is not None:
            if hooks and gate.hooks is not None:
                gy = _run_hooks(gate.hooks, gy)
            for i in idx:
                results[i] = gy
    accumulate = plan.capture is None
    for t, g in leaves.items():
        if accumulate:
            _settle(t, g, hooks)
        else:
            if not isinstance(g, Tensor) and type(g) is not _ndarray:
                g = np.asarray(g)
            for i in plan.want_leaf.get(t, ()):
                results[i] = g


def _engine(roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool,
            create_graph: bool, capture: Sequence[Tensor] | None, trace: Trace | None = None,
            hooks: bool = True) -> list[Any]:
    """Plan, run, finish. With ``capture=None`` gradients accumulate into ``.grad`` and
    the result is empty; otherwise nothing's ``.grad`` is touched and the gradients of
    the ``capture`` tensors are returned in order (``None`` where none arrived)."""
    plan = _Plan(roots, capture)
    results: list[Any] = [None] * len(capture) if capture is not None else []
    leaves = _run(plan, roots, root_grads, retain_graph, create_graph, trace, hooks, results)
    _finish(plan, leaves, hooks, results)
    return results


# ---------------------------------------------------------------------- public
def _check_roots(roots: Sequence[Tensor], where: str) -> None:
    for i, r in enumerate(roots):
        if not isinstance(r, Tensor):
            raise TypeError(f"{where}: output {i} is a {type(r).__name__}, not a Tensor")
        if not r.requires_grad:
            raise BackwardError(
                f"{where}: output {i} does not require grad: nothing that made it was "
                f"recorded (create the inputs with requires_grad=True, and do not compute "
                f"it under cr.no_grad())")


def backward(tensor: Tensor, grad: Any = None, retain_graph: bool = False,
             create_graph: bool = False) -> None:
    """Backpropagate from ``tensor``, accumulating ``.grad`` of every leaf.

    ``grad`` is the upstream gradient dL/dtensor; it may be omitted only when the tensor
    has one element (it is then 1). Gradients *accumulate*: call ``zero_grad`` (or set
    ``.grad = None``) between steps. The graph's saved values are released as backward
    goes, unless ``retain_graph=True``. With ``create_graph=True`` the gradients are
    themselves tensors with a graph, so they can be differentiated again.
    """
    _check_roots([tensor], "backward")
    g = _as_root_grad(tensor, grad, create_graph, "backward")
    if create_graph:
        with enable_grad():
            _engine([tensor], [g], True, True, None)
    else:
        _engine([tensor], [g], retain_graph, False, None)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Returns one tensor per input. ``grad_outputs`` gives the upstream gradient of each
    output (optional for one-element outputs). With ``create_graph=True`` the returned
    gradients carry a graph and can be differentiated again; ``retain_graph`` defaults
    to ``create_graph``. An input that the outputs do not depend on is an error unless
    ``allow_unused=True``, in which case its gradient is ``None``.
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    _check_roots(outs, "grad")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise BackwardError(f"grad: input {i} is not a tensor that requires grad")
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)) \
            or np.isscalar(grad_outputs):
        gos = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gos)} grad_outputs")
    root_grads = [_as_root_grad(o, g, create_graph, "grad") for o, g in zip(outs, gos)]
    retain = create_graph if retain_graph is None else retain_graph
    if create_graph:
        with enable_grad():
            res = _engine(outs, root_grads, retain, True, ins)
    else:
        res = _engine(outs, root_grads, retain, False, ins)
    final: list[Tensor | None] = []
    seen: set[int] = set()
    for i, g in enumerate(res):
        if g is None:
            if not allow_unused:
                raise BackwardError(
                    f"grad: input {i} (shape {ins[i].shape}) was not used to compute the "
                    f"outputs; pass allow_unused=True to get None for it")
            final.append(None)
            continue
        if isinstance(g, Tensor):
            final.append(g)
            continue
        if type(g) is not _ndarray:
            g = np.asarray(g)
        if id(g) in seen or g.base is not None:
            g = g.copy()
        seen.add(id(g))
        final.append(wrap(g))
    return tuple(final)


def collect_gates(roots: Sequence[Tensor]) -> list[Gate]:
    """Every gate reachable from ``roots``, newest first (a topological order).

    Raises :class:`GraphFreedError` if backward already released part of the graph.
    """
    return _collect(roots)


def root_gradient(root: Tensor, grad: Any = None, where: str = "backward") -> Any:
    """The upstream gradient a backward pass from ``root`` starts with (an ndarray).

    ``grad=None`` is allowed for a one-element ``root`` only (it is then 1).
    """
    return _as_root_grad(root, grad, False, where)


def traced_gradients(root: Tensor, seed: Any, inputs: Sequence[Tensor],
                     trace: Trace) -> list[Any]:
    """Backward from ``root`` (upstream ``seed``) that shows every step; no side effects.

    ``trace(gate, upstream, downstream)`` is called for every gate in the order backward
    visits them, with the gradient the gate received and the one it sent to each input
    (summed to the input's shape; ``None`` for inputs that need none), while the gate's
    saved values are still there. The graph is kept, no ``.grad`` is touched and no
    hook runs. Returns the gradients of ``inputs`` (ndarrays, ``None`` where none
    arrived). This is what ``cr.explain`` is built on.
    """
    return _engine([root], [seed], True, False, list(inputs), trace=trace, hooks=False)


def _tensor_backward(self: Tensor, grad: Any = None, retain_graph: bool = False,
                     create_graph: bool = False) -> None:
    backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)


_tensor_backward.__doc__ = backward.__doc__
_tensor_backward.__name__ = _tensor_backward.__qualname__ = "backward"
Tensor.backward = _tensor_backward   # the engine gives the data type its backward

