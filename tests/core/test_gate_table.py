"""Every gate, gradient-checked: one table entry per class in ``cr.ops.gate_classes()``.

Each entry says how to build the gate with its public function (``fn``), how to drive
it by hand (``hand``: the gate object and the arguments of ``forward``), and a few
input cases, broadcasting ones included wherever the gate broadcasts. For every entry
and case the suite checks

* that ``fn`` really records that gate (so the table cannot silently test another op),
* first derivatives against central differences (``cr.gradcheck``, float64),
* second derivatives through ``create_graph`` (``cr.gradgradcheck``),
* the by-hand API of the seed notes: ``gate.forward(...)`` then ``gate.backward(up)``
  returns one gradient per input, in that input's shape, equal to what the engine
  computes for the same upstream gradient.

A new gate without an entry fails ``test_table_covers_every_gate``.

Inputs are chosen in each gate's smooth region: positive for log/sqrt/pow, away from
0 for abs/relu, away from the bounds for clip, and well-separated distinct values for
max/min/maximum/minimum so that a finite-difference step never crosses a tie (ties
and kinks have their own tests in test_numerics.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops

Arrays = list[np.ndarray]


# ---------------------------------------------------------------------- input makers
def normal(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def positive(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away0(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    """Values with |v| in [0.3, 1.5] and a random sign: no kink at 0 within reach."""
    def make(rng: np.random.Generator) -> np.ndarray:
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape)
    return make


def spread(*shape: int, offset: float = 0.0) -> Callable[[np.random.Generator], np.ndarray]:
    """Distinct values on the grid 0.3 k + offset (shuffled): no two within 0.3 of
    each other, and none within 0.1 of a grid with another offset (0.0 vs 0.15)."""
    def make(rng: np.random.Generator) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        return ((rng.permutation(n) - n // 2) * 0.3 + offset).reshape(shape)
    return make


@dataclass
class Case:
    label: str
    makers: list[Callable[[np.random.Generator], np.ndarray]]

    def make(self, seed: int) -> Arrays:
        rng = np.random.default_rng(seed)
        return [m(rng) for m in self.makers]


@dataclass
class Entry:
    fn: Callable[..., cr.Tensor]
    hand: Callable[..., tuple[cr.Gate, tuple]]
    cases: list[Case]
    # Extra tolerance arguments for gradcheck/gradgradcheck where needed.
    tol: dict[str, float] = field(default_factory=dict)


def C(label: str, *makers: Callable[[np.random.Generator], np.ndarray]) -> Case:
    return Case(label, list(makers))


def binary_cases(make_x: Callable, make_y: Callable | None = None) -> list[Case]:
    """Same shape, scalar-with-array, and two-sided broadcasting."""
    make_y = make_y or make_x
    return [
        C("same (2,3)", make_x(2, 3), make_y(2, 3)),
        C("0-d and (3,)", make_x(), make_y(3)),
        C("(4,) and 0-d", make_x(4), make_y()),
        C("(3,1) and (1,4)", make_x(3, 1), make_y(1, 4)),
        C("(2,1,3) and (4,1)", make_x(2, 1, 3), make_y(4, 1)),
    ]


def unary_cases(make: Callable) -> list[Case]:
    return [C("0-d", make()), C("(5,)", make(5)), C("(2,3,2)", make(2, 3, 2))]


INDEX_REPEAT = (np.array([0, 2, 0, 0]),)
BOOL_MASK = np.array([[True, False, True], [False, False, True]])

TABLE: dict[str, Entry] = {
    # ------------------------------------------------------------- arithmetic
    "Add": Entry(cr.add, lambda x, y: (ops.Add(), (x, y)), binary_cases(normal)),
    "Sub": Entry(cr.sub, lambda x, y: (ops.Sub(), (x, y)), binary_cases(normal)),
    "Mul": Entry(cr.mul, lambda x, y: (ops.Mul(), (x, y)), binary_cases(normal)),
    "Div": Entry(cr.div, lambda x, y: (ops.Div(), (x, y)), binary_cases(normal, away0)),
    "Neg": Entry(cr.neg, lambda x: (ops.Neg(), (x,)), unary_cases(normal)),
    "Pow": Entry(cr.pow, lambda x, p: (ops.Pow(), (x, p)),
                 [*binary_cases(positive, normal),
                  C("tensor exponent (3,) on 0-d base", positive(), normal(3))]),
    # ------------------------------------------------------------- elementwise
    "Exp": Entry(cr.exp, lambda x: (ops.Exp(), (x,)), unary_cases(normal)),
    "Log": Entry(cr.log, lambda x: (ops.Log(), (x,)), unary_cases(positive)),
    "Sqrt": Entry(cr.sqrt, lambda x: (ops.Sqrt(), (x,)), unary_cases(positive)),
    "Abs": Entry(cr.abs, lambda x: (ops.Abs(), (x,)), unary_cases(away0)),
    "Sin": Entry(cr.sin, lambda x: (ops.Sin(), (x,)), unary_cases(normal)),
    "Cos": Entry(cr.cos, lambda x: (ops.Cos(), (x,)), unary_cases(normal)),
    "Tanh": Entry(cr.tanh, lambda x: (ops.Tanh(), (x,)), unary_cases(normal)),
    "Sigmoid": Entry(cr.sigmoid, lambda x: (ops.Sigmoid(), (x,)),
                     [*unary_cases(normal),
                      C("large |x| (3,)", lambda rng: np.array([-8.0, 0.1, 8.0]))]),
    "ReLU": Entry(cr.relu, lambda x: (ops.ReLU(), (x,)), unary_cases(away0)),
    "Maximum": Entry(cr.maximum, lambda x, y: (ops.Maximum(), (x, y)),
                     binary_cases(spread, lambda *s: spread(*s, offset=0.15))),
    "Minimum": Entry(cr.minimum, lambda x, y: (ops.Minimum(), (x, y)),
                     binary_cases(spread, lambda *s: spread(*s, offset=0.15))),
    "Where": Entry(
        lambda a, b: cr.where(np.array([[True], [False], [True]]), a, b),
        lambda a, b: (ops.Where(), (np.array([[True], [False], [True]]), a, b)),
        [C("cond (3,1), (1,4) and (4,)", normal(1, 4), normal(4)),
         C("cond (3,1), (3,4) and 0-d", normal(3, 4), normal()),
         C("cond (3,1), (3,1) and (3,1)", normal(3, 1), normal(3, 1))]),
    "Clip": Entry(lambda x: cr.clip(x, -0.2, 0.2), lambda x: (ops.Clip(-0.2, 0.2), (x,)),
                  [C("(5,) straddling both bounds", lambda rng: np.array(
                      [-1.0, -0.1, 0.05, 0.15, 0.7])),
                   C("(2,3) straddling", spread(2, 3, offset=0.05))]),
    "Cast": Entry(lambda x: cr.astype(x, np.longdouble),
                  lambda x: (ops.Cast(np.longdouble), (x,)), unary_cases(normal)),
    # ------------------------------------------------------------- reductions
    "Sum": Entry(lambda x: cr.sum(x, axis=1), lambda x: (ops.Sum(1), (x,)),
                 [C("(2,3)", normal(2, 3)), C("(2,3,4)", normal(2, 3, 4))]),
    "Mean": Entry(lambda x: cr.mean(x, axis=(0, 2), keepdims=True),
                  lambda x: (ops.Mean((0, 2), True), (x,)),
                  [C("(2,3,4)", normal(2, 3, 4)), C("(1,2,5)", normal(1, 2, 5))]),
    "Var": Entry(lambda x: cr.var(x, axis=-1, ddof=1), lambda x: (ops.Var(-1, False, 1), (x,)),
                 [C("(4,)", normal(4)), C("(3,5)", normal(3, 5))]),
    "Max": Entry(lambda x: cr.max(x, axis=0), lambda x: (ops.Max(0), (x,)),
                 [C("(4,)", spread(4)), C("(3,4)", spread(3, 4)),
                  C("(2,3,2)", spread(2, 3, 2))]),
    "Min": Entry(lambda x: cr.min(x, axis=-1, keepdims=True),
                 lambda x: (ops.Min(-1, True), (x,)),
                 [C("(4,)", spread(4)), C("(3,4)", spread(3, 4))]),
    "LogSumExp": Entry(lambda x: cr.logsumexp(x, axis=-1), lambda x: (ops.LogSumExp(-1), (x,)),
                       [C("(5,)", normal(5)), C("(3,4)", normal(3, 4)),
                        C("(2,3,4)", normal(2, 3, 4))]),
    "Softmax": Entry(lambda x: cr.softmax(x, axis=0), lambda x: (ops.Softmax(0), (x,)),
                     [C("(5,)", normal(5)), C("(3,4)", normal(3, 4))]),
    "LogSoftmax": Entry(cr.log_softmax, lambda x: (ops.LogSoftmax(), (x,)),
                        [C("(5,)", normal(5)), C("(3,4)", normal(3, 4))]),
    # ------------------------------------------------------------- shape
    "Reshape": Entry(lambda x: cr.reshape(x, (3, -1)), lambda x: (ops.Reshape((3, -1)), (x,)),
                     [C("(6,)", normal(6)), C("(2,3,2)", normal(2, 3, 2))]),
    "Transpose": Entry(lambda x: cr.transpose(x, (1, 2, 0)),
                       lambda x: (ops.Transpose((1, 2, 0)), (x,)),
                       [C("(2,3,4)", normal(2, 3, 4)), C("(1,2,3)", normal(1, 2, 3))]),
    "BroadcastTo": Entry(lambda x: cr.broadcast_to(x, (2, 3, 4)),
                         lambda x: (ops.BroadcastTo((2, 3, 4)), (x,)),
                         [C("(4,)", normal(4)), C("(3,1)", normal(3, 1)),
                          C("0-d", normal()), C("(2,1,4)", normal(2, 1, 4))]),
    "SumTo": Entry(lambda x: cr.sum_to(x, (3, 1)), lambda x: (ops.SumTo((3, 1)), (x,)),
                   [C("(2,3,4)", normal(2, 3, 4)), C("(3,5)", normal(3, 5))]),
    "ExpandDims": Entry(lambda x: cr.expand_dims(x, (0, 2)),
                        lambda x: (ops.ExpandDims((0, 2)), (x,)),
                        [C("(3,)", normal(3)), C("(2,3)", normal(2, 3))]),
    "Squeeze": Entry(cr.squeeze, lambda x: (ops.Squeeze(), (x,)),
                     [C("(1,3,1)", normal(1, 3, 1)), C("(2,1,2)", normal(2, 1, 2))]),
    "Concatenate": Entry(lambda *xs: cr.concatenate(xs, axis=1),
                         lambda *xs: (ops.Concatenate(1), xs),
                         [C("(2,1) (2,3) (2,2)", normal(2, 1), normal(2, 3), normal(2, 2)),
                          C("(2,2,1) (2,1,1)", normal(2, 2, 1), normal(2, 1, 1))]),
    "Stack": Entry(lambda *xs: cr.stack(xs, axis=-1), lambda *xs: (ops.Stack(-1), xs),
                   [C("3 x (2,3)", normal(2, 3), normal(2, 3), normal(2, 3)),
                    C("2 x 0-d", normal(), normal())]),
    "GetItem": Entry(lambda x: x[1:, ::2], lambda x: (ops.GetItem((slice(1, None),
                                                                  slice(None, None, 2))), (x,)),
                     [C("(3,5) basic slice", normal(3, 5)),
                      C("(3,4,2) basic slice", normal(3, 4, 2))]),
    "ScatterAdd": Entry(lambda x: ops.scatter_add(x, (3, 2), INDEX_REPEAT),
                        lambda x: (ops.ScatterAdd((3, 2), INDEX_REPEAT), (x,)),
                        [C("(4,2) into (3,2), row 0 three times", normal(4, 2)),
                         C("(2,) broadcast into the indexed rows", normal(2))]),
    # ------------------------------------------------------------- linalg
    "MatMul": Entry(cr.matmul, lambda x, y: (ops.MatMul(), (x, y)),
                    [C("(2,3)@(3,4)", normal(2, 3), normal(3, 4)),
                     C("(3,)@(3,4)", normal(3), normal(3, 4)),
                     C("(2,3)@(3,)", normal(2, 3), normal(3)),
                     C("(3,)@(3,)", normal(3), normal(3)),
                     C("(2,1,2,3)@(4,3,2) batch broadcast", normal(2, 1, 2, 3),
                       normal(4, 3, 2)),
                     C("(3,)@(2,3,2) batched 1-D", normal(3), normal(2, 3, 2))]),
    "Affine": Entry(cr.affine, lambda x, w, b: (ops.Affine(), (x, w, b)),
                    [C("X (2,), W (2,3), B (3,)", normal(2), normal(2, 3), normal(3)),
                     C("X (4,3), W (3,2), B (2,)", normal(4, 3), normal(3, 2), normal(2)),
                     C("X (2,4,3), W (3,2), B (2,)", normal(2, 4, 3), normal(3, 2),
                       normal(2))]),
    # ------------------------------------------------------------- losses
    "SoftmaxCrossEntropy": Entry(
        cr.softmax_cross_entropy,
        lambda x, t: (ops.SoftmaxCrossEntropy(), (x, t)),
        # Targets are differentiable weights; they need not sum to 1.
        [C("logits (4,3), soft targets (4,3)", normal(4, 3), positive(4, 3)),
         C("logits (5,), soft target (5,)", normal(5), positive(5))]),
}

# Extra engine-level cases for gates with options or alternate input kinds; each is
# (gate name, label, function of the differentiable tensors, makers).
VARIANTS: list[tuple[str, str, Callable[..., cr.Tensor], list[Callable]]] = [
    ("Sum", "axis=None", lambda x: cr.sum(x), [normal(2, 3)]),
    ("Sum", "keepdims, axes (0,2)", lambda x: cr.sum(x, axis=(0, 2), keepdims=True),
     [normal(2, 3, 4)]),
    ("Mean", "axis=None", lambda x: cr.mean(x), [normal(3, 4)]),
    ("Var", "axis=None, ddof=0", lambda x: cr.var(x), [normal(3, 4)]),
    ("Var", "axes (0,1), keepdims", lambda x: cr.var(x, axis=(0, 1), keepdims=True),
     [normal(2, 3, 2)]),
    ("Max", "axis=None", lambda x: cr.max(x), [spread(3, 4)]),
    ("Max", "axes (0,2), keepdims", lambda x: cr.max(x, axis=(0, 2), keepdims=True),
     [spread(2, 3, 2)]),
    ("Min", "axis=None", lambda x: cr.min(x), [spread(3, 4)]),
    ("LogSumExp", "axis=None", lambda x: cr.logsumexp(x), [normal(3, 4)]),
    ("LogSumExp", "axes (0,2), keepdims", lambda x: cr.logsumexp(x, axis=(0, 2),
                                                                  keepdims=True),
     [normal(2, 3, 4)]),
    ("LogSoftmax", "axis=0, 3-D", lambda x: cr.log_softmax(x, axis=0), [normal(3, 2, 2)]),
    ("Softmax", "axis=-1, 3-D", lambda x: cr.softmax(x, axis=-1), [normal(2, 2, 3)]),
    ("Pow", "constant exponent 3", lambda x: x ** 3, [normal(2, 3)]),
    ("Pow", "constant exponent 2 on negatives", lambda x: x ** 2, [normal(4)]),
    ("Pow", "constant exponent -1.5", lambda x: x ** -1.5, [positive(4)]),
    ("Pow", "number base, tensor exponent", lambda p: 2.0 ** p, [normal(3)]),
    ("Div", "number over tensor", lambda y: 1.0 / y, [away0(3)]),
    ("Sub", "number minus tensor", lambda y: 1.0 - y, [normal(3)]),
    ("Where", "cond is a Tensor", lambda a, b: cr.where(cr.tensor([True, False]), a, b),
     [normal(2), normal(2)]),
    ("Clip", "lower bound only", lambda x: cr.clip(x, lo=0.0), [away0(5)]),
    ("Clip", "upper bound only", lambda x: cr.clip(x, hi=0.0), [away0(5)]),
    ("GetItem", "advanced, repeated index", lambda x: x[[0, 2, 0, 0]], [normal(3, 2)]),
    ("GetItem", "advanced pair of index arrays", lambda x: x[[0, 1, 1], [2, 0, 2]],
     [normal(2, 3)]),
    ("GetItem", "boolean mask", lambda x: x[BOOL_MASK], [normal(2, 3)]),
    ("GetItem", "integer and None", lambda x: x[1, None], [normal(3, 2)]),
    ("GetItem", "Ellipsis and negative step", lambda x: x[..., ::-1], [normal(2, 3)]),
    ("Transpose", ".T of 2-D", lambda x: x.T, [normal(2, 3)]),
    ("Reshape", "method with varargs", lambda x: x.reshape(2, 3), [normal(3, 2)]),
    ("Squeeze", "one axis", lambda x: cr.squeeze(x, 0), [normal(1, 3, 1)]),
    ("Concatenate", "axis=0 1-D", lambda a, b: cr.concatenate([a, b]), [normal(2), normal(3)]),
    ("Affine", "no bias", lambda x, w: cr.affine(x, w), [normal(4, 3), normal(3, 2)]),
    ("SoftmaxCrossEntropy", "targets that are a softmax",
     lambda x, t: cr.softmax_cross_entropy(x, cr.softmax(t)), [normal(4, 3), normal(4, 3)]),
    ("SoftmaxCrossEntropy", "integer class targets",
     lambda x: cr.softmax_cross_entropy(x, np.array([2, 0, 1, 2])), [normal(4, 3)]),
    ("SoftmaxCrossEntropy", "one-hot targets, reduction=sum",
     lambda x: cr.softmax_cross_entropy(x, np.eye(3)[[1, 0]], reduction="sum"),
     [normal(2, 3)]),
    ("SoftmaxCrossEntropy", "reduction=none",
     lambda x: cr.softmax_cross_entropy(x, np.array([0, 1, 1]), reduction="none"),
     [normal(3, 4)]),
    ("SoftmaxCrossEntropy", "single sample, class index",
     lambda x: cr.softmax_cross_entropy(x, np.int64(3)), [normal(5)]),
]

TABLE_CASES = [(name, case) for name, entry in TABLE.items() for case in entry.cases]
IDS = [f"{name}-{case.label}" for name, case in TABLE_CASES]


def _tensors(arrays: Arrays) -> list[cr.Tensor]:
    return [cr.tensor(a, requires_grad=True) for a in arrays]


def _seed(name: str, label: str) -> int:
    return sum(map(ord, name + label))


# ---------------------------------------------------------------------- coverage
def test_table_covers_every_gate() -> None:
    gates = set(cr.ops.gate_classes())
    missing = sorted(gates - set(TABLE))
    extra = sorted(set(TABLE) - gates)
    assert not missing, f"gates without an entry in the gradient-check table: {missing}"
    assert not extra, f"table entries for gates that do not exist: {extra}"
    assert {name for name, *_ in VARIANTS} <= gates


@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_function_records_its_gate(name: str, case: Case) -> None:
    xs = _tensors(case.make(_seed(name, case.label)))
    out = TABLE[name].fn(*xs)
    assert type(out.creator) is cr.ops.gate_classes()[name]


# ---------------------------------------------------------------------- first order
@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_gradcheck(name: str, case: Case) -> None:
    xs = _tensors(case.make(_seed(name, case.label)))
    out = TABLE[name].fn(*xs)
    assert np.all(np.isfinite(out.data))
    assert cr.gradcheck(TABLE[name].fn, xs, **TABLE[name].tol)


VARIANT_IDS = [f"{n}-{label}" for n, label, _, _ in VARIANTS]


@pytest.mark.parametrize(("name", "label", "fn", "makers"), VARIANTS, ids=VARIANT_IDS)
def test_gradcheck_variants(name: str, label: str, fn: Callable, makers: list) -> None:
    xs = _tensors(Case(label, makers).make(_seed(name, label)))
    out = fn(*xs)
    # The variant really goes through the gate it is filed under.
    seen = set()
    stack = [out.creator]
    while stack:
        g = stack.pop()
        if g is None or g in seen:
            continue
        seen.add(g)
        stack.extend(t.creator for t in g.inputs if isinstance(t, cr.Tensor))
    assert name in {type(g).__name__ for g in seen}
    assert cr.gradcheck(fn, xs)


# ---------------------------------------------------------------------- second order
@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_gradgradcheck(name: str, case: Case) -> None:
    xs = _tensors(case.make(_seed(name, case.label)))
    assert cr.gradgradcheck(TABLE[name].fn, xs, **TABLE[name].tol)


@pytest.mark.parametrize(("name", "label", "fn", "makers"), VARIANTS, ids=VARIANT_IDS)
def test_gradgradcheck_variants(name: str, label: str, fn: Callable, makers: list) -> None:
    xs = _tensors(Case(label, makers).make(_seed(name, label)))
    assert cr.gradgradcheck(fn, xs)


# ---------------------------------------------------------------------- by hand
def _engine_grads(entry: Entry, arrays: Arrays, upstream: np.ndarray) -> list[np.ndarray]:
    xs = _tensors(arrays)
    out = entry.fn(*xs)
    gs = cr.grad(out, xs, grad_outputs=upstream, allow_unused=True)
    return [np.zeros_like(a) if g is None else g.numpy() for g, a in zip(gs, arrays)]


@pytest.mark.parametrize(("name", "case"), TABLE_CASES, ids=IDS)
def test_by_hand_forward_backward(name: str, case: Case) -> None:
    entry = TABLE[name]
    arrays = case.make(_seed(name, case.label))
    copies = [a.copy() for a in arrays]
    gate, args = entry.hand(*copies)
    assert isinstance(gate, cr.ops.gate_classes()[name])
    # Where each differentiable array sits among forward's arguments (the others, such
    # as where's condition, are constants).
    positions = [next(j for j, a in enumerate(args) if a is c) for c in copies]
    y = gate.forward(*args)
    with cr.no_grad():
        expected = entry.fn(*[cr.tensor(a) for a in arrays])
    np.testing.assert_allclose(np.asarray(y, dtype=np.float64),
                               expected.numpy().astype(np.float64), rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(7).standard_normal(np.shape(y))
    grads = gate.backward(upstream)
    if not isinstance(grads, tuple):
        grads = (grads,)
    assert len(grads) == len(args), "backward must return one gradient per forward input"
    want = _engine_grads(entry, arrays, upstream)
    for k, j in enumerate(positions):
        g = grads[j]
        assert g is not None
        assert np.shape(g) == np.shape(args[j]), (
            f"{name}.backward: gradient {j} has shape {np.shape(g)}, input has "
            f"{np.shape(args[j])}")
        np.testing.assert_allclose(np.asarray(g, dtype=np.float64), want[k],
                                   rtol=1e-10, atol=1e-12)


def test_by_hand_on_python_numbers() -> None:
    """Python numbers in, Python floats out (the seed notes' style)."""
    mul = ops.Mul()
    assert mul.forward(100.0, 2.0) == 200.0
    d_apple, d_num = mul.backward(1.0)
    assert (d_apple, d_num) == (2.0, 100.0)
    assert type(d_apple) is float and type(d_num) is float
    add = ops.Add()
    assert add.forward(1.0, 2.0) == 3.0
    assert add.backward(5.0) == (5.0, 5.0)
    sig = ops.Sigmoid()
    y = sig.forward(0.0)
    assert y == 0.5 and type(y) is float
    assert sig.backward(1.0) == 0.25


def test_by_hand_backward_before_forward_is_a_clear_error() -> None:
    with pytest.raises(cr.BackwardError, match="call forward first"):
        ops.Mul().backward(1.0)


def test_by_hand_broadcast_gradients_are_summed_to_input_shape() -> None:
    add = ops.Add()
    add.forward(np.ones((2, 3)), np.ones(3))
    gx, gy = add.backward(np.ones((2, 3)))
    assert gx.shape == (2, 3)
    np.testing.assert_array_equal(gy, [2.0, 2.0, 2.0])
