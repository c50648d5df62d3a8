"""Forward mode: tangents pushed through a recorded graph, oldest gate first.

Reverse mode hands each gate the gradient of its output and asks for its inputs'.
Forward mode hands it the *tangents* of its inputs (their directional derivatives
along a direction ``v``) and asks for its output's: ``ẏ = J ẋ``, one pass in the order
the gates ran, no transposes. :func:`push_tangents` does it over a graph that was
recorded as usual (so a forward pass costs nothing extra when forward mode is not
used), in three ways, the first that applies:

1. the gate class defines ``jvp(self, *tangents)``: its rule, written in NumPy like a
   backward formula (``None`` stands for a zero tangent; the result may broadcast to
   the output's shape, ``None`` means zero);
2. the class sets ``linear = True`` (its output is linear in all its tensor inputs
   jointly: sums, reshapes, slices, concatenation): the tangent is the same gate,
   with the same settings, run forward on the tangents (zeros for the others);
3. the class is ``elementwise`` (output element i depends on input element i only):
   its local Jacobian is diagonal, hence symmetric, so ``J ẋ`` is the gate's own
   backward of ``ẋ``;
4. otherwise the gate's own backward gives it, by the double-vjp trick applied to one
   gate: backward is linear in the upstream gradient ``u``, so the gradient of
   ``<backward(u), ẋ>`` with respect to ``u`` is ``J ẋ``. Exact for every gate (each
   gate's backward is differentiable, which the gate table checks), about three times
   the cost of a rule.

With ``create_graph=True`` the rules run on the gate's *tensor twin* (its saved
inputs and output as the tensors themselves, as a ``create_graph`` backward sees them),
so the tangents are recorded and can be differentiated in reverse mode. That is how
:func:`chainrule.hvp` works: ``H v = ∇ₓ (∇f(x) · v)`` and ``∇f(x) · v`` is the tangent
of ``f`` along ``v``; reverse over forward computes what Pearlmutter's R-operator
computes by hand, without the gradient values that a reverse-over-reverse product
computes and never reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import apply, collect_gates, enable_grad, grad, tensor_twin
from ..autograd.gate import Gate
from ..errors import BackwardError, ShapeError

__all__ = ["push_tangents"]

_new = object.__new__


def push_tangents(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
                  tangents: Sequence[Any], *, create_graph: bool = False) -> list[Any]:
    """The tangent of each output when each input moves along its tangent (``J v``).

    ``outputs`` must have been computed from ``inputs`` with grad recording on (the
    inputs require grad); ``tangents`` has one array (or tensor) per input, of its
    shape. Returns one tangent per output, ``None`` where the output does not depend
    on the inputs. Plain ndarrays, unless ``create_graph``: then tensors that carry
    a graph back to the inputs and to the tangents (if those require grad).
    """
    seeds: dict[Tensor, Any] = {}
    for x, v in zip(inputs, tangents):
        if v is not None:
            if not create_graph and isinstance(v, Tensor):
                v = v.data
            if np.shape(v) != x.shape:   # a broadcastable one would be read as another
                raise ShapeError(f"push_tangents: a tangent of shape {np.shape(v)} for an "
                                 f"input of shape {x.shape}; give each input a tangent of "
                                 f"its own shape")
            seeds[x] = v if x not in seeds else seeds[x] + v
    gates = collect_gates([o for o in outputs if o.creator is not None and o not in seeds])
    outs_of: dict[Gate, Tensor] = {o.creator: o for o in outputs if o.creator is not None}
    # Readers left per gate: a tangent is dropped once its last reader has run, so a
    # deep graph holds the tangents of its frontier, not all of them.
    readers: dict[Gate, int] = dict.fromkeys(outs_of, 1)
    for g in gates:
        for t in g.inputs:
            if isinstance(t, Tensor) and t.creator is not None:
                c = t.creator
                outs_of[c] = t
                readers[c] = readers.get(c, 0) + 1
    tan: dict[Gate, Any] = {}
    with enable_grad():
        for gate in reversed(gates):               # oldest first
            ins = []
            for t in gate.inputs:
                if not isinstance(t, Tensor):
                    ins.append(None)
                elif t in seeds:
                    ins.append(seeds[t])
                elif t.creator is None:
                    ins.append(None)
                else:
                    c = t.creator
                    ins.append(tan.get(c))
                    readers[c] -= 1
                    if not readers[c]:
                        tan.pop(c, None)
            if all(d is None for d in ins):
                continue
            y = _gate_tangent(gate, ins, outs_of[gate], create_graph)
            if y is not None:
                tan[gate] = y
    res = []
    for o in outputs:
        res.append(seeds[o] if o in seeds else tan.get(o.creator) if o.creator else None)
    return res


def _gate_tangent(gate: Gate, ins: list[Any], out: Tensor, create_graph: bool) -> Any:
    cls = type(gate)
    rule = getattr(cls, "jvp", None)
    if rule is not None:
        host = tensor_twin(gate) if create_graph else gate
        y = rule(host, *ins)
    elif getattr(cls, "linear", False):
        y = _linear(gate, ins, create_graph)
    elif cls.elementwise:
        y = _diagonal(gate, ins, out, create_graph)
    else:
        y = _by_backward(gate, ins, out, create_graph)
    if y is None:
        return None
    if not create_graph and isinstance(y, Tensor):
        y = y.data
    if np.shape(y) != out.shape:
        y = np.broadcast_to(y, out.shape)
    dtype = y.dtype
    if dtype != out.dtype:
        y = y.astype(out.dtype)
    return y


def _zeros_for(t: Any) -> np.ndarray:
    if isinstance(t, Tensor):
        return np.zeros(t.shape, dtype=t.dtype)
    a = np.asarray(t)
    return np.zeros(a.shape, dtype=a.dtype if a.dtype.kind == "f" else np.float64)


def _linear(gate: Gate, ins: list[Any], create_graph: bool) -> Any:
    """A linear gate's tangent: the gate (same settings) on the tangents."""
    copy = _plain_twin(gate)
    args = [d if d is not None else _zeros_for(t) for d, t in zip(ins, gate.inputs)]
    if create_graph:
        return apply(copy, *args)
    return copy._forward(*[a.data if isinstance(a, Tensor) else a for a in args])


def _diagonal(gate: Gate, ins: list[Any], out: Tensor, create_graph: bool) -> Any:
    """An elementwise gate's tangent: its local Jacobian for each input is diagonal
    (after broadcasting), so symmetric: ``J ẋ`` is backward of ``ẋ`` (broadcast to the
    output's shape), asked for that input only."""
    y = None
    for i, d in enumerate(ins):
        if d is None:
            continue
        twin = tensor_twin(gate) if create_graph else _plain_twin(gate)
        twin.needs = tuple(k == i for k in range(len(ins)))
        if np.shape(d) != out.shape:
            d = np.broadcast_to(d, out.shape)
        g = twin._backward(d)
        g = g[i] if type(g) is tuple else g
        if g is not None:
            y = g if y is None else y + g
    return y


def _by_backward(gate: Gate, ins: list[Any], out: Tensor, create_graph: bool) -> Any:
    """``J ẋ`` from the gate's backward: the gradient of ``<backward(u), ẋ>`` in ``u``."""
    # Any u gives the same J ẋ (backward is linear in u); ones make a backward that
    # leaves the graph show itself (a nonzero array below).
    u = Tensor(np.ones(out.shape, dtype=out.dtype), requires_grad=True)
    twin = tensor_twin(gate) if create_graph else _plain_twin(gate)
    grads = twin._backward(u)
    if type(grads) is not tuple:
        grads = (grads,)
    total = None
    for g, d, t in zip(grads, ins, gate.inputs):
        if g is None or d is None:
            continue
        if not isinstance(g, Tensor):
            # Linear in u, so independent of u only if zero; anything else means the
            # backward left the graph (np.asarray of its upstream, say): refuse.
            if np.any(np.asarray(g) != 0):
                raise BackwardError(
                    f"forward mode through {type(gate).__name__}: its backward returned an "
                    f"array that does not depend on the upstream gradient, so the tangent "
                    f"cannot be read from it; write its formula with NumPy functions on "
                    f"the upstream (no np.asarray), or give the class a jvp rule")
            continue
        if g.shape != t.shape:
            g = g.sum_to(t.shape)
        term = (g * d).sum()
        total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return None
    (y,) = grad(total, u, retain_graph=create_graph, create_graph=create_graph,
                allow_unused=True)
    return y


def _plain_twin(gate: Gate) -> Gate:
    twin = _new(type(gate))
    twin.__dict__ = dict(gate.__dict__)
    twin.inputs, twin.needs, twin.seq = gate.inputs, gate.needs, gate.seq
    return twin
