"""How to gradient-check every gate of :mod:`chainrule.ops`: one spec per gate class.

Each :class:`GateSpec` says

* which gate class it covers (``gate``; its ``name`` is the class name),
* how to build that gate with its public function (``fn``, called with Tensors),
* how to drive it by hand the way the seed notes do (``hand``: returns the gate object
  and the arguments of ``gate.forward``),
* a few input cases (:class:`Case`: a label and one input generator per argument),
  broadcasting ones included wherever the gate broadcasts,
* tolerance overrides for ``gradcheck`` (``tol``) and whether second derivatives
  (``gradgradcheck``) apply (``second_order``).

:data:`GATE_VARIANTS` adds engine-level cases for gates with options or other kinds of
input (``axis=None``, keepdims, constant exponents, advanced indexing...).

Inputs are chosen in each gate's smooth region: positive for log/sqrt/pow, away from 0
for abs/relu, away from the bounds for clip, and well-separated distinct values for
max/min/maximum/minimum so that a finite-difference step never crosses a tie or a kink.

The same table drives ``tests/core/test_gate_table.py`` and ``chainrule gradcheck``;
:func:`check_gate` runs one spec's checks and reports the errors it measured::

    from chainrule.check.gates import GATE_SPECS, check_gate
    for result in check_gate(GATE_SPECS["Mul"]):
        print(result.label, result.max_abs_error, result.ok)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .. import ops
from .._tensor import Tensor, tensor
from ..autograd import Gate, registered_gates
from ..autograd import grad as _grad
from ..errors import GradcheckError
from .numerical import gradcheck, gradgradcheck, numerical_grad

#: An input generator: draws one float64 array from a NumPy generator.
InputMaker = Callable[[np.random.Generator], np.ndarray]
Arrays = list[np.ndarray]

#: ``cr.gradcheck``'s defaults, used where neither the spec nor the caller sets one.
DEFAULT_EPS = 1e-6
DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-3


# ---------------------------------------------------------------------- input makers
def normal(*shape: int) -> InputMaker:
    """Standard normal values of the given shape (no arguments: a 0-d array)."""
    return lambda rng: rng.standard_normal(shape)


def positive(*shape: int) -> InputMaker:
    """Values in [0.5, 2): inside the domain of log, sqrt and real powers."""
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away0(*shape: int) -> InputMaker:
    """Values with |v| in [0.3, 1.5] and a random sign: no kink at 0 within reach."""
    def make(rng: np.random.Generator) -> np.ndarray:
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape)
    return make


def spread(*shape: int, offset: float = 0.0) -> InputMaker:
    """Distinct values on the grid 0.3 k + offset (shuffled): no two within 0.3 of
    each other, and none within 0.1 of a grid with another offset (0.0 vs 0.15)."""
    def make(rng: np.random.Generator) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        return ((rng.permutation(n) - n // 2) * 0.3 + offset).reshape(shape)
    return make


# ---------------------------------------------------------------------- specs
@dataclass(frozen=True)
class Case:
    """One set of inputs for a gate: a label and one generator per differentiable input."""

    label: str
    makers: Sequence[InputMaker]

    def make(self, seed: int) -> Arrays:
        """The inputs, drawn in order from ``np.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        return [m(rng) for m in self.makers]


@dataclass(frozen=True)
class GateSpec:
    """How to build, drive by hand, and gradient-check one gate class."""

    gate: type[Gate]
    fn: Callable[..., Tensor]
    hand: Callable[..., tuple[Gate, tuple]]
    cases: Sequence[Case]
    #: Tolerance overrides (``eps``, ``atol``, ``rtol``) for gradcheck/gradgradcheck.
    tol: Mapping[str, float] = field(default_factory=dict)
    #: Whether second derivatives are checked (``cr.gradgradcheck``).
    second_order: bool = True

    @property
    def name(self) -> str:
        """The gate's class name, as in ``cr.ops.gate_classes()``."""
        return self.gate.__name__


@dataclass(frozen=True)
class Variant:
    """An extra engine-level case filed under a gate: ``fn`` must record that gate
    somewhere in its graph (not necessarily as the last one)."""

    gate: type[Gate]
    label: str
    fn: Callable[..., Tensor]
    makers: Sequence[InputMaker]

    @property
    def gate_name(self) -> str:
        return self.gate.__name__


def C(label: str, *makers: InputMaker) -> Case:
    """Shorthand for ``Case(label, makers)``."""
    return Case(label, makers)


def binary_cases(make_x: Callable[..., InputMaker],
                 make_y: Callable[..., InputMaker] | None = None) -> list[Case]:
    """Same shape, scalar-with-array, and two-sided broadcasting."""
    make_y = make_y or make_x
    return [
        C("same (2,3)", make_x(2, 3), make_y(2, 3)),
        C("0-d and (3,)", make_x(), make_y(3)),
        C("(4,) and 0-d", make_x(4), make_y()),
        C("(3,1) and (1,4)", make_x(3, 1), make_y(1, 4)),
        C("(2,1,3) and (4,1)", make_x(2, 1, 3), make_y(4, 1)),
    ]


def unary_cases(make: Callable[..., InputMaker]) -> list[Case]:
    """A 0-d, a 1-D and a 3-D input."""
    return [C("0-d", make()), C("(5,)", make(5)), C("(2,3,2)", make(2, 3, 2))]


INDEX_REPEAT = (np.array([0, 2, 0, 0]),)
BOOL_MASK = np.array([[True, False, True], [False, False, True]])
WHERE_COND = np.array([[True], [False], [True]])
for _const in (*INDEX_REPEAT, BOOL_MASK, WHERE_COND):
    _const.flags.writeable = False  # shared by every call: nothing may change them


def _shifted_spread(*shape: int) -> InputMaker:
    return spread(*shape, offset=0.15)


def _S(gate: type[Gate], fn: Callable[..., Tensor], hand: Callable[..., tuple[Gate, tuple]],
       cases: list[Case]) -> GateSpec:
    return GateSpec(gate, fn, hand, tuple(cases))


_SPECS: list[GateSpec] = [
    # ------------------------------------------------------------- arithmetic
    _S(ops.Add, ops.add, lambda x, y: (ops.Add(), (x, y)), binary_cases(normal)),
    _S(ops.Sub, ops.sub, lambda x, y: (ops.Sub(), (x, y)), binary_cases(normal)),
    _S(ops.Mul, ops.mul, lambda x, y: (ops.Mul(), (x, y)), binary_cases(normal)),
    _S(ops.Div, ops.div, lambda x, y: (ops.Div(), (x, y)), binary_cases(normal, away0)),
    _S(ops.Neg, ops.neg, lambda x: (ops.Neg(), (x,)), unary_cases(normal)),
    _S(ops.Pow, ops.pow, lambda x, p: (ops.Pow(), (x, p)),
       [*binary_cases(positive, normal),
        C("tensor exponent (3,) on 0-d base", positive(), normal(3))]),
    # ------------------------------------------------------------- elementwise
    _S(ops.Exp, ops.exp, lambda x: (ops.Exp(), (x,)), unary_cases(normal)),
    _S(ops.Log, ops.log, lambda x: (ops.Log(), (x,)), unary_cases(positive)),
    _S(ops.Sqrt, ops.sqrt, lambda x: (ops.Sqrt(), (x,)), unary_cases(positive)),
    _S(ops.Abs, ops.abs, lambda x: (ops.Abs(), (x,)), unary_cases(away0)),
    _S(ops.Sin, ops.sin, lambda x: (ops.Sin(), (x,)), unary_cases(normal)),
    _S(ops.Cos, ops.cos, lambda x: (ops.Cos(), (x,)), unary_cases(normal)),
    _S(ops.Tanh, ops.tanh, lambda x: (ops.Tanh(), (x,)), unary_cases(normal)),
    _S(ops.Sigmoid, ops.sigmoid, lambda x: (ops.Sigmoid(), (x,)),
       [*unary_cases(normal),
        C("large |x| (3,)", lambda rng: np.array([-8.0, 0.1, 8.0]))]),
    _S(ops.ReLU, ops.relu, lambda x: (ops.ReLU(), (x,)), unary_cases(away0)),
    _S(ops.Maximum, ops.maximum, lambda x, y: (ops.Maximum(), (x, y)),
       binary_cases(spread, _shifted_spread)),
    _S(ops.Minimum, ops.minimum, lambda x, y: (ops.Minimum(), (x, y)),
       binary_cases(spread, _shifted_spread)),
    _S(ops.Where,
       lambda a, b: ops.where(WHERE_COND, a, b),
       lambda a, b: (ops.Where(), (WHERE_COND.copy(), a, b)),
       [C("cond (3,1), (1,4) and (4,)", normal(1, 4), normal(4)),
        C("cond (3,1), (3,4) and 0-d", normal(3, 4), normal()),
        C("cond (3,1), (3,1) and (3,1)", normal(3, 1), normal(3, 1))]),
    _S(ops.Clip, lambda x: ops.clip(x, -0.2, 0.2), lambda x: (ops.Clip(-0.2, 0.2), (x,)),
       [C("(5,) straddling both bounds", lambda rng: np.array([-1.0, -0.1, 0.05, 0.15, 0.7])),
        C("(2,3) straddling", spread(2, 3, offset=0.05))]),
    _S(ops.Cast, lambda x: ops.astype(x, np.longdouble),
       lambda x: (ops.Cast(np.longdouble), (x,)), unary_cases(normal)),
    # ------------------------------------------------------------- reductions
    _S(ops.Sum, lambda x: ops.sum(x, axis=1), lambda x: (ops.Sum(1), (x,)),
       [C("(2,3)", normal(2, 3)), C("(2,3,4)", normal(2, 3, 4))]),
    _S(ops.Mean, lambda x: ops.mean(x, axis=(0, 2), keepdims=True),
       lambda x: (ops.Mean((0, 2), True), (x,)),
       [C("(2,3,4)", normal(2, 3, 4)), C("(1,2,5)", normal(1, 2, 5))]),
    _S(ops.Var, lambda x: ops.var(x, axis=-1, ddof=1), lambda x: (ops.Var(-1, False, 1), (x,)),
       [C("(4,)", normal(4)), C("(3,5)", normal(3, 5))]),
    _S(ops.Max, lambda x: ops.max(x, axis=0), lambda x: (ops.Max(0), (x,)),
       [C("(4,)", spread(4)), C("(3,4)", spread(3, 4)), C("(2,3,2)", spread(2, 3, 2))]),
    _S(ops.Min, lambda x: ops.min(x, axis=-1, keepdims=True),
       lambda x: (ops.Min(-1, True), (x,)),
       [C("(4,)", spread(4)), C("(3,4)", spread(3, 4))]),
    _S(ops.LogSumExp, lambda x: ops.logsumexp(x, axis=-1), lambda x: (ops.LogSumExp(-1), (x,)),
       [C("(5,)", normal(5)), C("(3,4)", normal(3, 4)), C("(2,3,4)", normal(2, 3, 4))]),
    _S(ops.Softmax, lambda x: ops.softmax(x, axis=0), lambda x: (ops.Softmax(0), (x,)),
       [C("(5,)", normal(5)), C("(3,4)", normal(3, 4))]),
    _S(ops.LogSoftmax, ops.log_softmax, lambda x: (ops.LogSoftmax(), (x,)),
       [C("(5,)", normal(5)), C("(3,4)", normal(3, 4))]),
    # ------------------------------------------------------------- shape
    _S(ops.Reshape, lambda x: ops.reshape(x, (3, -1)), lambda x: (ops.Reshape((3, -1)), (x,)),
       [C("(6,)", normal(6)), C("(2,3,2)", normal(2, 3, 2))]),
    _S(ops.Transpose, lambda x: ops.transpose(x, (1, 2, 0)),
       lambda x: (ops.Transpose((1, 2, 0)), (x,)),
       [C("(2,3,4)", normal(2, 3, 4)), C("(1,2,3)", normal(1, 2, 3))]),
    _S(ops.BroadcastTo, lambda x: ops.broadcast_to(x, (2, 3, 4)),
       lambda x: (ops.BroadcastTo((2, 3, 4)), (x,)),
       [C("(4,)", normal(4)), C("(3,1)", normal(3, 1)), C("0-d", normal()),
        C("(2,1,4)", normal(2, 1, 4))]),
    _S(ops.SumTo, lambda x: ops.sum_to(x, (3, 1)), lambda x: (ops.SumTo((3, 1)), (x,)),
       [C("(2,3,4)", normal(2, 3, 4)), C("(3,5)", normal(3, 5))]),
    _S(ops.ExpandDims, lambda x: ops.expand_dims(x, (0, 2)),
       lambda x: (ops.ExpandDims((0, 2)), (x,)),
       [C("(3,)", normal(3)), C("(2,3)", normal(2, 3))]),
    _S(ops.Squeeze, ops.squeeze, lambda x: (ops.Squeeze(), (x,)),
       [C("(1,3,1)", normal(1, 3, 1)), C("(2,1,2)", normal(2, 1, 2))]),
    _S(ops.Concatenate, lambda *xs: ops.concatenate(xs, axis=1),
       lambda *xs: (ops.Concatenate(1), xs),
       [C("(2,1) (2,3) (2,2)", normal(2, 1), normal(2, 3), normal(2, 2)),
        C("(2,2,1) (2,1,1)", normal(2, 2, 1), normal(2, 1, 1))]),
    _S(ops.Stack, lambda *xs: ops.stack(xs, axis=-1), lambda *xs: (ops.Stack(-1), xs),
       [C("3 x (2,3)", normal(2, 3), normal(2, 3), normal(2, 3)),
        C("2 x 0-d", normal(), normal())]),
    _S(ops.GetItem, lambda x: x[1:, ::2],
       lambda x: (ops.GetItem((slice(1, None), slice(None, None, 2))), (x,)),
       [C("(3,5) basic slice", normal(3, 5)), C("(3,4,2) basic slice", normal(3, 4, 2))]),
    _S(ops.ScatterAdd, lambda x: ops.scatter_add(x, (3, 2), INDEX_REPEAT),
       lambda x: (ops.ScatterAdd((3, 2), INDEX_REPEAT), (x,)),
       [C("(4,2) into (3,2), row 0 three times", normal(4, 2)),
        C("(2,) broadcast into the indexed rows", normal(2))]),
    # ------------------------------------------------------------- linalg
    _S(ops.MatMul, ops.matmul, lambda x, y: (ops.MatMul(), (x, y)),
       [C("(2,3)@(3,4)", normal(2, 3), normal(3, 4)),
        C("(3,)@(3,4)", normal(3), normal(3, 4)),
        C("(2,3)@(3,)", normal(2, 3), normal(3)),
        C("(3,)@(3,)", normal(3), normal(3)),
        C("(2,1,2,3)@(4,3,2) batch broadcast", normal(2, 1, 2, 3), normal(4, 3, 2)),
        C("(3,)@(2,3,2) batched 1-D", normal(3), normal(2, 3, 2))]),
    _S(ops.Affine, ops.affine, lambda x, w, b: (ops.Affine(), (x, w, b)),
       [C("X (2,), W (2,3), B (3,)", normal(2), normal(2, 3), normal(3)),
        C("X (4,3), W (3,2), B (2,)", normal(4, 3), normal(3, 2), normal(2)),
        C("X (2,4,3), W (3,2), B (2,)", normal(2, 4, 3), normal(3, 2), normal(2))]),
    # ------------------------------------------------------------- losses
    # Targets are differentiable weights here; they need not sum to 1.
    _S(ops.SoftmaxCrossEntropy, ops.softmax_cross_entropy,
       lambda x, t: (ops.SoftmaxCrossEntropy(), (x, t)),
       [C("logits (4,3), soft targets (4,3)", normal(4, 3), positive(4, 3)),
        C("logits (5,), soft target (5,)", normal(5), positive(5))]),
]

#: One spec per gate class of :mod:`chainrule.ops`, by class name, in the order above
#: (arithmetic, elementwise, reductions, shape, linalg, losses).
GATE_SPECS: Mapping[str, GateSpec] = MappingProxyType({s.name: s for s in _SPECS})
if len(GATE_SPECS) != len(_SPECS):  # pragma: no cover - guards edits of the table
    raise RuntimeError("chainrule.check.gates: two specs cover the same gate")


def _V(gate: type[Gate], label: str, fn: Callable[..., Tensor], *makers: InputMaker) -> Variant:
    return Variant(gate, label, fn, makers)


#: Extra engine-level cases for gates with options or other kinds of input.
GATE_VARIANTS: tuple[Variant, ...] = (
    _V(ops.Sum, "axis=None", lambda x: ops.sum(x), normal(2, 3)),
    _V(ops.Sum, "keepdims, axes (0,2)", lambda x: ops.sum(x, axis=(0, 2), keepdims=True),
       normal(2, 3, 4)),
    _V(ops.Mean, "axis=None", lambda x: ops.mean(x), normal(3, 4)),
    _V(ops.Var, "axis=None, ddof=0", lambda x: ops.var(x), normal(3, 4)),
    _V(ops.Var, "axes (0,1), keepdims", lambda x: ops.var(x, axis=(0, 1), keepdims=True),
       normal(2, 3, 2)),
    _V(ops.Max, "axis=None", lambda x: ops.max(x), spread(3, 4)),
    _V(ops.Max, "axes (0,2), keepdims", lambda x: ops.max(x, axis=(0, 2), keepdims=True),
       spread(2, 3, 2)),
    _V(ops.Min, "axis=None", lambda x: ops.min(x), spread(3, 4)),
    _V(ops.LogSumExp, "axis=None", lambda x: ops.logsumexp(x), normal(3, 4)),
    _V(ops.LogSumExp, "axes (0,2), keepdims",
       lambda x: ops.logsumexp(x, axis=(0, 2), keepdims=True), normal(2, 3, 4)),
    _V(ops.LogSoftmax, "axis=0, 3-D", lambda x: ops.log_softmax(x, axis=0), normal(3, 2, 2)),
    _V(ops.Softmax, "axis=-1, 3-D", lambda x: ops.softmax(x, axis=-1), normal(2, 2, 3)),
    _V(ops.Pow, "constant exponent 3", lambda x: x ** 3, normal(2, 3)),
    _V(ops.Pow, "constant exponent 2 on negatives", lambda x: x ** 2, normal(4)),
    _V(ops.Pow, "constant exponent -1.5", lambda x: x ** -1.5, positive(4)),
    _V(ops.Pow, "number base, tensor exponent", lambda p: 2.0 ** p, normal(3)),
    _V(ops.Div, "number over tensor", lambda y: 1.0 / y, away0(3)),
    _V(ops.Sub, "number minus tensor", lambda y: 1.0 - y, normal(3)),
    _V(ops.Where, "cond is a Tensor", lambda a, b: ops.where(tensor([True, False]), a, b),
       normal(2), normal(2)),
    _V(ops.Clip, "lower bound only", lambda x: ops.clip(x, lo=0.0), away0(5)),
    _V(ops.Clip, "upper bound only", lambda x: ops.clip(x, hi=0.0), away0(5)),
    _V(ops.GetItem, "advanced, repeated index", lambda x: x[[0, 2, 0, 0]], normal(3, 2)),
    _V(ops.GetItem, "advanced pair of index arrays", lambda x: x[[0, 1, 1], [2, 0, 2]],
       normal(2, 3)),
    _V(ops.GetItem, "boolean mask", lambda x: x[BOOL_MASK], normal(2, 3)),
    _V(ops.GetItem, "integer and None", lambda x: x[1, None], normal(3, 2)),
    _V(ops.GetItem, "Ellipsis and negative step", lambda x: x[..., ::-1], normal(2, 3)),
    _V(ops.Transpose, ".T of 2-D", lambda x: x.T, normal(2, 3)),
    _V(ops.Reshape, "method with varargs", lambda x: x.reshape(2, 3), normal(3, 2)),
    _V(ops.Squeeze, "one axis", lambda x: ops.squeeze(x, 0), normal(1, 3, 1)),
    _V(ops.Concatenate, "axis=0 1-D", lambda a, b: ops.concatenate([a, b]),
       normal(2), normal(3)),
    _V(ops.Affine, "no bias", lambda x, w: ops.affine(x, w), normal(4, 3), normal(3, 2)),
    _V(ops.SoftmaxCrossEntropy, "targets that are a softmax",
       lambda x, t: ops.softmax_cross_entropy(x, ops.softmax(t)), normal(4, 3), normal(4, 3)),
    _V(ops.SoftmaxCrossEntropy, "integer class targets",
       lambda x: ops.softmax_cross_entropy(x, np.array([2, 0, 1, 2])), normal(4, 3)),
    _V(ops.SoftmaxCrossEntropy, "one-hot targets, reduction=sum",
       lambda x: ops.softmax_cross_entropy(x, np.eye(3)[[1, 0]], reduction="sum"),
       normal(2, 3)),
    _V(ops.SoftmaxCrossEntropy, "reduction=none",
       lambda x: ops.softmax_cross_entropy(x, np.array([0, 1, 1]), reduction="none"),
       normal(3, 4)),
    _V(ops.SoftmaxCrossEntropy, "single sample, class index",
       lambda x: ops.softmax_cross_entropy(x, np.int64(3)), normal(5)),
)


def case_seed(name: str, label: str) -> int:
    """The seed of a case's inputs: fixed per (gate, label), so every run and every
    caller draws the same numbers."""
    return sum(map(ord, name + label))


def missing_specs() -> list[str]:
    """Registered gate classes without a spec: the library's, and any gate class
    defined since (a user's, a test's) unless it was made with ``register=False``.
    Library gates are named by class name, others by ``module.QualName``."""
    covered = {s.gate for s in GATE_SPECS.values()}
    return sorted(c.__name__ if c.__module__.startswith("chainrule.") else
                  f"{c.__module__}.{c.__qualname__}"
                  for c in registered_gates() if c not in covered)


def gate_specs(names: Iterable[str] | None = None) -> list[GateSpec]:
    """The specs of the named gates (all of them when ``names`` is None), in table order.

    Names match the gate class names case-insensitively (``relu`` finds ``ReLU``); an
    unknown name raises ``KeyError`` listing the valid ones.
    """
    if names is None:
        return list(GATE_SPECS.values())
    by_lower = {k.lower(): k for k in GATE_SPECS}
    wanted: list[str] = []
    for n in names:
        key = by_lower.get(str(n).lower())
        if key is None:
            raise KeyError(f"no gate named {n!r} in chainrule.ops; the gates are: "
                           f"{', '.join(GATE_SPECS)}")
        if key not in wanted:
            wanted.append(key)
    return [s for s in GATE_SPECS.values() if s.name in wanted]


def variants_of(name: str) -> list[Variant]:
    """The extra cases filed under gate ``name`` (exact class name)."""
    return [v for v in GATE_VARIANTS if v.gate_name == name]


# ---------------------------------------------------------------------- checking
@dataclass
class CaseResult:
    """What checking one case measured.

    ``max_abs_error`` is the largest ``|backprop - numerical|`` over every element of
    every input's gradient; for an output with more than one element both sides are
    vector-Jacobian products with the same fixed random vector (what ``cr.gradcheck``
    compares). ``max_rel_error`` is the largest ``|backprop - numerical| /
    max(|backprop|, |numerical|)`` over the elements where that maximum is at least
    ``atol`` (None when there is none: tiny gradients are judged by ``atol`` alone).
    ``first_order_ok`` is ``cr.gradcheck``'s verdict, ``second_order_ok`` that of
    ``cr.gradgradcheck`` (None when not checked). ``messages`` explains each failure.
    """

    gate: str
    label: str
    shapes: tuple[tuple[int, ...], ...]
    max_abs_error: float = float("nan")
    max_rel_error: float | None = None
    first_order_ok: bool = False
    second_order_ok: bool | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every check that ran passed."""
        return self.first_order_ok and self.second_order_ok is not False


def _gates_in_graph(out: Tensor) -> set[type]:
    """Classes of every gate that contributed to ``out`` (iterative walk)."""
    seen: set[int] = set()
    kinds: set[type] = set()
    stack = [out.creator]
    while stack:
        g = stack.pop()
        if g is None or id(g) in seen:
            continue
        seen.add(id(g))
        kinds.add(type(g))
        stack.extend(t.creator for t in g.inputs if isinstance(t, Tensor))
    return kinds


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"


def check_case(gate: type[Gate], label: str, fn: Callable[..., Tensor], arrays: Arrays, *,
               direct: bool = True, eps: float = DEFAULT_EPS, atol: float = DEFAULT_ATOL,
               rtol: float = DEFAULT_RTOL, second_order: bool = True) -> CaseResult:
    """Gradient-check ``fn`` (which must record ``gate``) on float64 copies of ``arrays``.

    Checks, in order: that ``fn`` records ``gate`` (as its last gate when ``direct``,
    anywhere in the graph otherwise), that its output is finite, first derivatives
    against central differences (``cr.gradcheck``) and, when ``second_order``, second
    derivatives (``cr.gradgradcheck``). Errors raised by the gate are reported in the
    result, not raised.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    res = CaseResult(gate.__name__, label, tuple(a.shape for a in arrays))
    xs = [tensor(a, requires_grad=True) for a in arrays]
    try:
        out = fn(*xs)
    except Exception as e:
        res.messages.append(f"forward failed: {_error(e)}")
        return res
    if not isinstance(out, Tensor) or out.creator is None:
        res.messages.append("the function recorded no gate")
        return res
    recorded = {type(out.creator)} if direct else _gates_in_graph(out)
    if gate not in recorded:
        res.messages.append(f"the function does not record {gate.__name__} (it records "
                            f"{', '.join(sorted(k.__name__ for k in recorded))})")
        return res
    if not np.all(np.isfinite(out.data)):
        res.messages.append("the output is not finite")
        return res

    # The errors, measured the way cr.gradcheck measures them (same projection, seed 0).
    v = None if out.size == 1 else np.random.default_rng(0).standard_normal(out.shape)
    try:
        analytic = _grad(out, xs, grad_outputs=v, allow_unused=True)

        def scalar(*ts: Tensor) -> float:
            y = np.asarray(fn(*ts).data, dtype=np.float64)
            return float(np.sum(y * v)) if v is not None else float(y.reshape(()))

        numeric = numerical_grad(scalar, *[tensor(a) for a in arrays], eps=eps)
    except Exception as e:
        res.messages.append(f"first order: {_error(e)}")
        return res
    abs_err = 0.0
    rel_err: float | None = None
    for a, n, x in zip(analytic, numeric, arrays):
        ana = np.zeros_like(x) if a is None else np.asarray(a.data, dtype=np.float64)
        if ana.shape != n.shape:
            continue  # gradcheck below reports the wrong shape
        err = np.abs(ana - n)
        if err.size:
            abs_err = max(abs_err, float(np.max(err)))
            scale = np.maximum(np.abs(ana), np.abs(n))
            big = scale >= atol
            if big.any():
                r = float(np.max(err[big] / scale[big]))
                rel_err = r if rel_err is None else max(rel_err, r)
    res.max_abs_error = abs_err
    res.max_rel_error = rel_err
    try:
        res.first_order_ok = gradcheck(fn, xs, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError as e:
        res.messages.append(f"first order: {e}")
    except Exception as e:
        res.messages.append(f"first order: {_error(e)}")
    if second_order:
        try:
            res.second_order_ok = gradgradcheck(fn, xs, eps=eps, atol=atol, rtol=rtol)
        except GradcheckError as e:
            res.second_order_ok = False
            res.messages.append(f"second order: {e}")
        except Exception as e:
            res.second_order_ok = False
            res.messages.append(f"second order: {_error(e)}")
    return res


def check_gate(spec: GateSpec, *, seed: int = 0, eps: float | None = None,
               atol: float | None = None, rtol: float | None = None,
               second_order: bool = True, variants: bool = True) -> list[CaseResult]:
    """Check every case of ``spec`` (and its :data:`GATE_VARIANTS` when ``variants``).

    Each case's inputs are drawn with seed ``case_seed(name, label) + seed`` (``seed=0``
    gives the inputs the test suite uses). A tolerance left as None comes from the
    spec's ``tol``, else ``cr.gradcheck``'s default. Second derivatives are checked
    when ``second_order`` and the spec allows it.
    """
    tol = {"eps": DEFAULT_EPS, "atol": DEFAULT_ATOL, "rtol": DEFAULT_RTOL, **spec.tol}
    for key, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if value is not None:
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"check_gate: {key} must be a finite number > 0, got "
                                 f"{value!r}")
            tol[key] = value
    second = second_order and spec.second_order
    name = spec.name
    results = []
    for case in spec.cases:
        arrays = case.make(case_seed(name, case.label) + seed)
        results.append(check_case(spec.gate, case.label, spec.fn, arrays, direct=True,
                                  second_order=second, **tol))
    if variants:
        for var in variants_of(name):
            arrays = Case(var.label, var.makers).make(case_seed(name, var.label) + seed)
            results.append(check_case(spec.gate, var.label, var.fn, arrays, direct=False,
                                      second_order=second, **tol))
    return results


__all__ = [
    "BOOL_MASK", "DEFAULT_ATOL", "DEFAULT_EPS", "DEFAULT_RTOL", "GATE_SPECS",
    "GATE_VARIANTS", "INDEX_REPEAT", "WHERE_COND", "C", "Case", "CaseResult", "GateSpec",
    "InputMaker", "Variant", "away0", "binary_cases", "case_seed", "check_case",
    "check_gate", "gate_specs", "missing_specs", "normal", "positive", "spread",
    "unary_cases", "variants_of",
]
