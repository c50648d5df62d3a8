"""The engine: gates, grad mode, and the backward pass.

This module knows no particular operation. A *gate* (a subclass of :class:`Gate`)
computes a local result in ``forward`` and, in ``backward``, multiplies the upstream
gradient by its local gradient. The engine only

1. collects the gates reachable from the output (iteratively: no recursion, so a chain
   of a million gates is fine),
2. visits them in reverse order of creation (every gate was created after the gates
   that made its inputs, so that order is topological),
3. hands each gate the sum of the gradients that reached its output (the seeds'
   "common variable" rule: where a value fans out, its gradients add up),
4. sums each returned gradient back to its input's shape where NumPy broadcast it,
5. and releases each gate's saved values as soon as its backward has run.

Each backward formula is written once, in NumPy. For ordinary backprop it runs on plain
ndarrays (fast, no graph). With ``create_graph=True`` the engine hands the same formula
tensors instead; NumPy's dispatch protocols route every ``np.*`` call and operator on
them back to chainrule's gates, so the gradient computation is itself recorded and can
be differentiated again.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from . import _config
from .errors import BackwardError, GraphFreedError, InplaceModificationError, ShapeError

_GradMode = _config.GradMode
_InplaceLog = _config.InplaceLog
_ndarray = np.ndarray
_seq_of = operator.attrgetter("seq")


# ---------------------------------------------------------------------- grad mode
class _GradModeContext:
    _value: bool

    def __enter__(self) -> None:
        self._prev = _GradMode.enabled
        _GradMode.enabled = self._value

    def __exit__(self, *exc: Any) -> None:
        _GradMode.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with type(self)():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager (and decorator) in which operations record no graph.

    Use it for evaluation and for parameter updates::

        with cr.no_grad():
            p.sub_(lr * p.grad)
    """

    _value = False


class enable_grad(_GradModeContext):
    """Context manager (and decorator) that turns recording back on inside ``no_grad``."""

    _value = True


def is_grad_enabled() -> bool:
    """Whether operations are currently recorded for backward."""
    return _GradMode.enabled


def set_grad_enabled(mode: bool) -> None:
    """Turn graph recording on or off for the whole process."""
    _GradMode.enabled = bool(mode)


#: What a gate's forward and backward compute on: an ndarray (or NumPy scalar) when the
#: engine runs them, a Python number when driven by hand, a Tensor under create_graph.
Array = Any
#: What backward returns: one gradient per input (a tuple), or a bare gradient for a
#: one-input gate; ``None`` for an input that needs no gradient.
Grads = Any


# ---------------------------------------------------------------------- gates
def sum_to_array(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes NumPy broadcasting added or stretched to reach its shape.

    This is the one place where broadcasting is undone: if ``x`` of ``shape`` was
    broadcast to ``g.shape`` in forward, its gradient is ``g`` summed back to ``shape``.
    Works on ndarrays, NumPy scalars and Python numbers.
    """
    gshape = np.shape(g)
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    if lead < 0:
        raise ShapeError(f"sum_to: cannot sum a gradient of shape {gshape} to the larger "
                         f"shape {tuple(shape)}")
    axes = list(range(lead))
    for i, n in enumerate(shape):
        if n == 1 and gshape[lead + i] != 1:
            axes.append(lead + i)
        elif n != gshape[lead + i]:
            raise ShapeError(f"sum_to: a gradient of shape {gshape} does not broadcast from "
                             f"shape {tuple(shape)}")
    out = np.sum(g, axis=tuple(axes), keepdims=True)
    if lead:
        out = out.reshape(shape)
    return out


def _sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(g, Tensor):
        return g.sum_to(shape)
    return sum_to_array(g, shape)


def _scalar_out(v: Any, like: Any) -> Any:
    """For by-hand use: give Python numbers back when Python numbers came in."""
    if isinstance(like, (int, float)) and not isinstance(like, bool) and np.ndim(v) == 0 \
            and not isinstance(v, Tensor):
        return float(v) if isinstance(v, (float, np.floating)) or isinstance(like, float) \
            else v.item() if hasattr(v, "item") else v
    return v


def _hand_forward(self: Gate, *args: Any) -> Any:
    """``gate.forward(...)`` called by hand, on numbers or arrays, as in the seed notes."""
    self._hand_args = args
    self.needs = tuple(True for _ in args)
    y = type(self)._forward(self, *args)
    if args and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        return _scalar_out(y, 1.0)
    return y


def _hand_backward(self: Gate, upstream: Any) -> Any:
    """``gate.backward(upstream)`` called by hand: one gradient per input, in its shape."""
    args = self.__dict__.get("_hand_args")
    if args is None:
        raise BackwardError(f"{type(self).__name__}.backward: call forward first; backward "
                            f"needs the values forward saved")
    grads = type(self)._backward(self, upstream)
    single = not isinstance(grads, tuple)
    if single:
        grads = (grads,)
    out = []
    for g, a in zip(grads, args):
        if g is not None:
            shape = np.shape(a)
            if np.shape(g) != shape:
                g = sum_to_array(g, shape)
            g = _scalar_out(g, a)
        out.append(g)
    if single and len(out) == 1:
        return out[0]
    return tuple(out)


class Gate:
    """A node of the computational graph: a local forward and its local gradient.

    Subclasses define

    * ``forward(self, *inputs)`` -> output, computed on plain numbers/ndarrays; it
      stores on ``self`` whatever ``backward`` needs (its inputs, its output, a mask);
    * ``backward(self, upstream)`` -> the gradient for each input (a tuple, or a single
      value for one-input gates): the upstream gradient times the local gradient.
      It may return ``None`` for an input whose entry in ``self.needs`` is False.

    Both can be driven by hand exactly as in the seed notes::

        mul = Mul()
        mul.forward(100.0, 2.0)     # 200.0
        mul.backward(1.0)           # (2.0, 100.0)

    Called by hand, ``backward`` sums each gradient back to its input's shape (undoing
    broadcasting) and returns Python numbers for Python-number inputs. Inside the
    engine the same methods run as ``_forward``/``_backward`` on arrays.

    Class attributes a gate may set:

    * ``saves_output``: backward uses the output (e.g. sigmoid's ``y(1-y)``);
    * ``saves_inputs``: backward uses the inputs' values, so modifying an input in
      place before backward is an error (False for e.g. ``Add``);
    * ``regraph(self, inputs)``: for gates that save a *derived* differentiable value
      (e.g. softmax probabilities), return those values recomputed from the input
      tensors, so that higher-order derivatives flow through them.
    """

    __slots__ = ("_gy", "inputs", "needs", "seq")

    saves_output: bool = False
    saves_inputs: bool = True

    # How the gate is shown (``cr.explain``, ``cr.viz``); facts about the gate itself.
    #: Output element i depends only on input element i (after broadcasting): the local
    #: Jacobian is diagonal, so backward of ones gives every element's local derivative.
    elementwise: ClassVar[bool] = False
    #: The node's symbol in a drawing ("×", "σ"); None: the class name.
    symbol: ClassVar[str | None] = None
    #: The operator in expression labels: binary ("a + b") or, for one input, prefix ("-a").
    infix: ClassVar[str | None] = None
    #: The function in expression labels ("exp(x)"); None: the class name in lower case.
    function_name: ClassVar[str | None] = None
    #: The local gradient of each input in the seed notes' notation ("· Wᵀ", "Xᵀ ·"),
    #: for gates whose local Jacobian is not diagonal (tables show it instead of numbers).
    local_notation: ClassVar[tuple[str, ...] | None] = None
    out: Any = None
    hooks: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            cls._forward = cls.__dict__["forward"]
            cls.forward = _hand_forward
        if "backward" in cls.__dict__:
            cls._backward = cls.__dict__["backward"]
            cls.backward = _hand_backward

    def _forward(self, *inputs: Any) -> Any:  # pragma: no cover - replaced in subclasses
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def _backward(self, upstream: Any) -> Any:  # pragma: no cover - replaced in subclasses
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    forward = _hand_forward
    backward = _hand_backward

    @property
    def name(self) -> str:
        """The gate's class name (``Mul``, ``Sigmoid``...)."""
        return type(self).__name__

    @property
    def freed(self) -> bool:
        """True once backward has released this gate's saved values."""
        try:
            return self.inputs is None
        except AttributeError:
            return False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} gate>"


# ---------------------------------------------------------------------- backward
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
        if isinstance(g, Tensor):
            if g.shape != root.shape:
                raise ShapeError(f"{where}: grad has shape {g.shape} but the output has shape "
                                 f"{root.shape}; they must match")
            return g
        g = np.asarray(g, dtype=root.data.dtype)
        if g.shape != root.data.shape:
            raise ShapeError(f"{where}: grad has shape {g.shape} but the output has shape "
                             f"{root.data.shape}; they must match")
    return _wrap(g) if create_graph else g


def _run_hooks(hooks: list, g: Any) -> Any:
    for fn in list(hooks):
        # A 0-d gradient may be a NumPy scalar here; hooks always see an ndarray inside.
        t = g if isinstance(g, Tensor) else _wrap(np.asarray(g))
        r = fn(t)
        if r is not None:
            r = r if isinstance(r, Tensor) else _wrap(np.asarray(r))
            if r.shape != np.shape(g):
                raise ShapeError(f"hook {getattr(fn, '__name__', fn)!r} returned a gradient of "
                                 f"shape {r.shape}, expected {np.shape(g)}")
            g = r if isinstance(g, Tensor) else r.data
    return g


def _call_with_tensors(gate: Gate, gy: Tensor) -> Any:
    """Run ``gate``'s backward formula on tensors, so that it records a graph.

    The values the gate saved in forward are ndarrays; each one that *is* an input's
    or the output's array is swapped for that tensor for the duration of the call.
    Anything else the gate saved (masks, indices) is a constant of the derivative.
    """
    saved = gate.__dict__
    by_id: dict[int, Tensor] = {}
    for t in gate.inputs:
        if isinstance(t, Tensor):
            by_id[id(t.data)] = t
    if gate.saves_output:
        out = gate.out()
        if out is not None:
            by_id.setdefault(id(out.data), out)
    view = {k: by_id.get(id(v), v) if isinstance(v, np.ndarray) else v
            for k, v in saved.items()}
    regraph = getattr(gate, "regraph", None)
    if regraph is not None:
        view.update(regraph(gate.inputs))
    gate.__dict__ = view
    try:
        return gate._backward(gy)
    finally:
        gate.__dict__ = saved


def _collect(roots: Sequence[Tensor]) -> list[Gate]:
    """All gates reachable from ``roots``, newest first (a topological order)."""
    seen: set[Gate] = set()
    stack = []
    for r in roots:
        c = r.creator
        if c is not None and c not in seen:
            seen.add(c)
            stack.append(c)
    gates = []
    push = stack.append
    pop = stack.pop
    while stack:
        g = pop()
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
                    seen.add(c)
                    push(c)
    gates.sort(key=_seq_of, reverse=True)
    return gates


def _prune(gates: list[Gate], want_gate: dict[Gate, list[int]],
           want_leaf: dict[Tensor, list[int]]) -> tuple[list[Gate], list[Gate]]:
    """For ``cr.grad``: keep only the gates on a path to a requested tensor.

    A gate's backward must run if one of its inputs is a requested leaf, or was made by
    a requested gate or by a gate that must run. The others are not visited by the
    main loop: no wasted work below the requested tensors, and their saved values are
    kept (as in PyTorch), so another backward through them still works. Returns (kept
    gates newest first, skipped gates).
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
    seq = gate.seq
    if _InplaceLog.last < seq:        # nothing was modified in place since this gate ran
        return
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


def _engine(roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool,
            create_graph: bool, capture: Sequence[Tensor] | None,
            trace: Callable[[Gate, Any, tuple], None] | None = None,
            hooks: bool = True) -> list[Any] | None:
    """The backward pass shared by ``Tensor.backward``, ``cr.grad`` and ``cr.explain``.

    With ``capture=None`` gradients accumulate into the leaves' ``.grad``. Otherwise
    nothing's ``.grad`` is touched and the gradients of the ``capture`` tensors are
    returned, in order (``None`` where no gradient reached one).

    ``trace(gate, upstream, downstream)``, if given, is called for every gate in the
    order backward visits them, with the upstream gradient the gate received and the
    gradient it sent to each input (summed to the input's shape; ``None`` for inputs
    that need none). It runs before the gate's saved values are released.
    """
    gates = _collect(roots)
    leaf_acc: dict[Tensor, Any] = {}
    leaf_ids: set[int] = set()
    want_gate: dict[Gate, list[int]] = {}
    want_leaf: dict[Tensor, list[int]] = {}
    results: list[Any] = []
    if capture is not None:
        results = [None] * len(capture)
        for i, t in enumerate(capture):
            if t.creator is not None:
                want_gate.setdefault(t.creator, []).append(i)
            else:
                want_leaf.setdefault(t, []).append(i)
        gates, skipped = _prune(gates, want_gate, want_leaf)
    accumulate = capture is None

    def to_leaf(t: Tensor, g: Any, gy: Any) -> None:
        prev = leaf_acc.get(t)
        if prev is None:
            if not create_graph and (g is gy or g.base is not None or id(g) in leaf_ids):
                g = g.copy()
            leaf_ids.add(id(g))
            leaf_acc[t] = g
        else:
            leaf_acc[t] = prev + g

    for r, g in zip(roots, root_grads):
        c = r.creator
        if c is None:
            if accumulate or r in want_leaf:
                to_leaf(r, g, g)
        else:
            c._gy = g if c._gy is None else c._gy + g

    for gate in gates:
        gy = gate._gy
        if gy is None:
            if not retain_graph:
                _release(gate)
            continue
        gate._gy = None
        if hooks and gate.hooks is not None:
            gy = _run_hooks(gate.hooks, gy)
        if want_gate:
            idx = want_gate.get(gate)
            if idx is not None:
                for i in idx:
                    results[i] = gy
        _check_versions(gate)
        if create_graph:
            grads = _call_with_tensors(gate, gy)
        else:
            grads = gate._backward(gy)
        if type(grads) is not tuple:
            grads = (grads,)
        sent = [] if trace is not None else None
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
                to_leaf(t, gx, gy)
        if trace is not None:
            trace(gate, gy, tuple(sent))
        if not retain_graph:
            _release(gate)

    if capture is not None:
        # Gates that never ran: a requested tensor made by one of them gets the
        # gradient that reached it; other deposited gradients are dropped.
        for gate in skipped:
            gy = gate._gy
            gate._gy = None
            idx = want_gate.get(gate)
            if idx is not None and gy is not None:
                if hooks and gate.hooks is not None:
                    gy = _run_hooks(gate.hooks, gy)
                for i in idx:
                    results[i] = gy
    for t, g in leaf_acc.items():
        if not isinstance(g, Tensor) and type(g) is not _ndarray:
            g = np.asarray(g)
        if accumulate:
            if hooks and t._hooks:
                g = _run_hooks(t._hooks, g)
            _accumulate_grad(t, g)
        else:
            for i in want_leaf.get(t, ()):
                results[i] = g
    return results if capture is not None else None


def _accumulate_grad(t: Tensor, g: Any) -> None:
    if isinstance(g, Tensor):
        t.grad = g if t.grad is None else t.grad + g
        return
    old = t.grad
    if old is None:
        t.grad = _wrap(g)
    elif old.creator is None and not old.requires_grad and old.data.shape == g.shape \
            and old.data.dtype == g.dtype and old.data.flags.writeable:
        np.add(old.data, g, out=old.data)
    else:
        t.grad = _wrap(old.data + g)


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
                     trace: Callable[[Gate, Any, tuple], None]) -> list[Any]:
    """Backward from ``root`` (upstream ``seed``) that shows every step; no side effects.

    ``trace(gate, upstream, downstream)`` is called for every gate in the order backward
    visits them, with the gradient the gate received and the one it sent to each input
    (summed to the input's shape; ``None`` for inputs that need none), while the gate's
    saved values are still there. The graph is kept, no ``.grad`` is touched and no
    hook runs. Returns the gradients of ``inputs`` (ndarrays, ``None`` where none
    arrived). This is what ``cr.explain`` is built on.
    """
    res = _engine([root], [seed], True, False, list(inputs), trace=trace, hooks=False)
    assert res is not None
    return res


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
    """Backpropagate from ``tensor``; see :meth:`Tensor.backward`."""
    _check_roots([tensor], "backward")
    g = _as_root_grad(tensor, grad, create_graph, "backward")
    if create_graph:
        with enable_grad():
            _engine([tensor], [g], retain_graph or create_graph, True, None)
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
    assert res is not None
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
        final.append(_wrap(g))
    return tuple(final)


# The tensor module imports this one; binding these names last lets either be imported
# first. They are only used at call time.
from .tensor import Tensor, _wrap, modified_since  # noqa: E402
