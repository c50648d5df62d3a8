"""The Gate: a node of the computational graph, its local forward and local gradient.

A gate class is registered by being defined (:func:`gate_classes` lists them), and it
says what it is with class attributes: how it is shown (``symbol``, ``infix``...), what
its backward reads (``saves_inputs``, ``saves_output``) and which of its saved values
are differentiable (``differentiable``). The engine calls ``_forward``/``_backward``,
the raw methods the class wrote; ``forward``/``backward`` are by-hand wrappers made for
each class, which is how the seed notes drive their layers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from .._graphgc import GraphGC, GraphGCState
from .._tensor import Tensor
from ..errors import BackwardError, ShapeError

__all__ = ["Array", "Gate", "Grads", "gate_classes", "registered_gates", "sum_to_array",
           "unregister_gate"]

#: What a gate's forward and backward compute on: an ndarray (or NumPy scalar) when the
#: engine runs them, a Python number when driven by hand, a Tensor under create_graph.
Array = Any
#: What backward returns: one gradient per input (a tuple), or a bare gradient for a
#: one-input gate; ``None`` for an input that needs no gradient.
Grads = Any

_REGISTRY: dict[type, None] = {}


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


def _scalar_out(v: Any, like: Any) -> Any:
    """For by-hand use: give Python numbers back when Python numbers came in (a Python
    number computed by Python arithmetic is returned as it is, int or float)."""
    if type(v) is int or type(v) is float:
        return v
    if isinstance(like, (int, float)) and not isinstance(like, bool) and np.ndim(v) == 0 \
            and not isinstance(v, Tensor):
        return float(v) if isinstance(v, (float, np.floating)) or isinstance(like, float) \
            else v.item() if hasattr(v, "item") else v
    return v


def _by_hand_forward(raw: Callable[..., Any]) -> Callable[..., Any]:
    """``gate.forward(...)`` for calling by hand, on numbers or arrays, as the seeds do.

    Made for each class around that class's own ``forward``, so ``super().forward(x)``
    in a subclass reaches the parent's forward (not the subclass's again).
    """
    @functools.wraps(raw)
    def forward(self: Gate, *args: Any) -> Any:
        # Python lists are arrays here (Add().forward([1, 2], [3, 4]) adds, it does not
        # concatenate); integer and boolean arrays (class labels, masks) get no gradient.
        self.needs = tuple(_hand_differentiable(a) for a in args)
        args = tuple(np.asarray(a) if isinstance(a, (list, tuple)) else a for a in args)
        self._hand_args = args
        y = raw(self, *args)
        if args and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
            # Python numbers in, Python numbers out: ints stay ints (2 * 100 is 200, as
            # the books print it), anything with a float gives a float.
            return _scalar_out(y, 0 if all(isinstance(a, int) for a in args) else 1.0)
        return y
    return forward


def _hand_differentiable(a: Any) -> bool:
    """By hand, Python numbers (and lists of them) and float arrays get a gradient;
    NumPy integer/bool arrays (class labels, masks) do not."""
    if isinstance(a, bool) or a is None:
        return False
    if isinstance(a, (list, tuple)):
        return np.asarray(a).dtype.kind in "iufc"
    kind = getattr(getattr(a, "dtype", None), "kind", "f")
    return kind in "fc"


def _by_hand_backward(raw: Callable[..., Any]) -> Callable[..., Any]:
    """``gate.backward(upstream)`` by hand: one gradient per differentiable input, in its
    shape; a lone differentiable input's gradient comes back bare (``dx``, as the
    books' ``SoftmaxWithLoss.backward(dout=1)``), integer labels and masks get none."""
    @functools.wraps(raw)
    def backward(self: Gate, upstream: Any) -> Any:
        args = self.__dict__.get("_hand_args")
        if args is None:
            raise BackwardError(f"{type(self).__name__}.backward: call forward first; "
                                f"backward needs the values forward saved")
        grads = raw(self, upstream)
        single = not isinstance(grads, tuple)
        if single:
            grads = (grads,)
        out = []
        for g, a, need in zip(grads, args, self.needs):
            if not need:
                continue
            if g is not None:
                shape = np.shape(a)
                if np.shape(g) != shape:
                    g = sum_to_array(g, shape)
                g = _scalar_out(g, a)
            out.append(g)
        if (single or len(out) == 1) and len(out) == 1:
            return out[0]
        return tuple(out)
    return backward


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
    engine the class's own methods run as ``_forward``/``_backward`` on arrays.

    **Saved values and higher order.** Each backward formula is written once, in
    NumPy. With ``create_graph=True`` the engine runs it on tensors, so that it records
    a graph: every saved value named in ``differentiable`` must be one of the gate's
    inputs or its output *itself* (``self.x = x``, not a copy), and is handed to
    backward as that tensor; every other saved value (a mask, an index, a shape) is a
    constant of the derivative by declaration. A gate that saves a derived
    differentiable value recomputes it from the input tensors in ``regraph``. A gate
    that does not declare ``differentiable`` gets its saved inputs and output matched
    by identity, and a saved array that looks like a copy of one (same shape and
    dtype) is refused under ``create_graph`` with an error that says to declare it.
    Check a new gate with ``cr.gradcheck`` and ``cr.gradgradcheck``.

    Class attributes a gate may set:

    * ``differentiable``: names of the saved attributes that hold an input or the
      output (see above); ``()`` when backward needs none of them;
    * ``saves_output``: backward uses the output (e.g. sigmoid's ``y(1-y)``);
    * ``saves_inputs``: backward uses the inputs' values, so modifying an input in
      place before backward is an error (False for e.g. ``Add``);
    * ``regraph(self, inputs)``: for gates that save a *derived* differentiable value
      (softmax cross-entropy's log-probabilities), return those values recomputed from
      the input tensors, so that higher-order derivatives flow through them;
    * how it is shown: ``elementwise``, ``symbol``, ``infix``, ``function_name``,
      ``local_notation`` (below).

    **Forward mode** (``cr.jvp``, ``cr.hvp``; :mod:`chainrule.func.forward`) needs
    nothing more: a gate's tangent comes from its backward. A gate may make it cheaper
    with ``jvp(self, *tangents)`` (the output's tangent from the inputs' tangents,
    ``None`` for zero, written in NumPy like backward) or ``linear = True`` (its output
    is linear in all its tensor inputs jointly, so the tangent is the gate run on the
    tangents); ``elementwise`` gates already use their backward directly.

    A subclass is registered when it is defined (``gate_classes()``); pass
    ``register=False`` for a throwaway gate (``class Probe(Gate, register=False)``).
    """

    __slots__ = ("_gy", "inputs", "needs", "seq")

    saves_output: bool = False
    saves_inputs: bool = True
    #: Names of saved attributes that are inputs or the output (None: match by identity).
    differentiable: ClassVar[tuple[str, ...] | None] = None
    out: Any = None
    hooks: Any = None

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

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "forward" in own:
            cls._forward = own["forward"]
            cls.forward = _by_hand_forward(own["forward"])
        if "backward" in own:
            cls._backward = own["backward"]
            cls.backward = _by_hand_backward(own["backward"])
        names = cls.differentiable
        if names is not None and (isinstance(names, str)
                                  or not all(isinstance(n, str) for n in names)):
            raise TypeError(f"{cls.__name__}.differentiable must be a tuple of attribute "
                            f"names, got {names!r}")
        if register and not cls.__name__.startswith("_"):
            _REGISTRY[cls] = None

    def _forward(self, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def _backward(self, upstream: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    forward = _by_hand_forward(_forward)
    backward = _by_hand_backward(_backward)

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

    def __del__(self, _g: GraphGCState = GraphGC) -> None:
        # The live-gate count of _graphgc (full collections deferred on large graphs).
        _g.live -= 1
        if _g.live < _g.low:
            _g.shrunk()


def registered_gates() -> list[type[Gate]]:
    """Every registered gate class, in the order they were defined."""
    return list(_REGISTRY)


def gate_classes() -> dict[str, type[Gate]]:
    """The library's own gate classes (defined in ``chainrule``), by class name."""
    return {cls.__name__: cls for cls in _REGISTRY
            if cls.__module__.split(".", 1)[0] == "chainrule"}


def unregister_gate(cls: type[Gate]) -> None:
    """Forget a registered gate class (for tests that define one for a moment)."""
    _REGISTRY.pop(cls, None)
