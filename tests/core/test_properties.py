"""Property tests (hypothesis): gradients are right for shapes nobody wrote down.

* binary ops on random mutually-broadcastable shapes: each gradient has its input's
  shape and passes gradcheck;
* random compositions of unary and binary ops (smooth, in their safe domains) pass
  gradcheck;
* reductions over random axes, with and without keepdims, have the right shapes and
  pass gradcheck; max/min use distinct values so that no finite-difference step
  crosses a tie.

Examples are small and few, so the whole file runs in seconds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr

SETTINGS = settings(max_examples=40, deadline=None)

shapes2 = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


def _array(shape: tuple[int, ...], lo: float, hi: float) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                            allow_subnormal=False))


def _distinct(seed: int, shape: tuple[int, ...], offset: float = 0.0) -> np.ndarray:
    """Shuffled values on the grid 0.3 k + offset: no near-ties within one array, and
    none across two arrays whose offsets differ by 0.15."""
    n = int(np.prod(shape, dtype=np.int64))
    rng = np.random.default_rng(seed)
    return ((rng.permutation(n) - n // 2) * 0.3 + offset).reshape(shape)


def _leaves(*arrays: np.ndarray) -> list[cr.Tensor]:
    return [cr.tensor(a, requires_grad=True) for a in arrays]


def _check_shapes_and_gradcheck(fn: Callable[..., cr.Tensor], xs: list[cr.Tensor]) -> None:
    out = fn(*xs)
    grads = cr.grad(out, xs, grad_outputs=np.ones(out.shape), allow_unused=True)
    for x, g in zip(xs, grads):
        assert g is not None
        assert g.shape == x.shape
        assert g.dtype == x.dtype
    assert cr.gradcheck(fn, xs)


# ---------------------------------------------------------------------- binary ops
SMOOTH_BINARY = {
    "add": cr.add, "sub": cr.sub, "mul": cr.mul,
    "div": lambda a, b: a / (1.5 + b),          # denominator in [0.5, 2.5]
    "pow": lambda a, b: (a + 2.0) ** b,         # base in [1, 3]
}


@SETTINGS
@given(shapes=shapes2, op=st.sampled_from(sorted(SMOOTH_BINARY)), data=st.data())
def test_binary_ops_on_broadcast_shapes(shapes, op: str, data) -> None:
    sa, sb = shapes.input_shapes
    a = data.draw(_array(sa, -1.0, 1.0), label="a")
    b = data.draw(_array(sb, -1.0, 1.0), label="b")
    xs = _leaves(a, b)
    out = SMOOTH_BINARY[op](*xs)
    assert out.shape == shapes.result_shape
    _check_shapes_and_gradcheck(SMOOTH_BINARY[op], xs)


@SETTINGS
@given(shapes=shapes2, op=st.sampled_from(["maximum", "minimum"]), seed=st.integers(0, 2**16))
def test_maximum_minimum_on_broadcast_shapes(shapes, op: str, seed: int) -> None:
    sa, sb = shapes.input_shapes
    xs = _leaves(_distinct(seed, sa), _distinct(seed + 1, sb, offset=0.15))
    _check_shapes_and_gradcheck(getattr(cr, op), xs)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       seed=st.integers(0, 2**16))
def test_where_on_broadcast_shapes(shapes, seed: int) -> None:
    sc, sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    cond = rng.random(sc) < 0.5
    xs = _leaves(rng.standard_normal(sa), rng.standard_normal(sb))
    _check_shapes_and_gradcheck(lambda a, b: cr.where(cond, a, b), xs)


@SETTINGS
@given(shapes=hnp.mutually_broadcastable_shapes(
    signature="(n?,k),(k,m?)->(n?,m?)", max_dims=4, max_side=3),
    seed=st.integers(0, 2**16))
def test_matmul_on_broadcast_shapes(shapes, seed: int) -> None:
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    xs = _leaves(rng.standard_normal(sa), rng.standard_normal(sb))
    assert cr.matmul(*xs).shape == shapes.result_shape
    _check_shapes_and_gradcheck(cr.matmul, xs)


# ---------------------------------------------------------------------- compositions
# Unary ops that map [-2, 2]-ish inputs to bounded outputs, and keep every later op in
# its smooth region whatever the composition.
UNARY: dict[str, Callable[[cr.Tensor], cr.Tensor]] = {
    "sin": cr.sin, "cos": cr.cos, "tanh": cr.tanh, "sigmoid": cr.sigmoid,
    "neg": cr.neg, "square": lambda t: t * t,
    "exp_tanh": lambda t: cr.exp(cr.tanh(t)),
    "log1p_sq": lambda t: cr.log(1.0 + t * t),
    "sqrt1p_sq": lambda t: cr.sqrt(1.0 + t * t),
    "inv1p_sq": lambda t: 1.0 / (1.0 + t * t),
    "cube_pow": lambda t: cr.tanh(t) ** 3,
    "softplus": lambda t: cr.logsumexp(cr.stack([t, cr.zeros_like(t)]), axis=0),
}
BINARY: dict[str, Callable[[cr.Tensor, cr.Tensor], cr.Tensor]] = {
    "add": cr.add, "sub": cr.sub, "mul": cr.mul,
    "div": lambda a, b: a / (2.0 + cr.tanh(b)),
}

# An expression is a nested tuple: ("x", i) | ("u", name, expr) | ("b", name, e1, e2).
leaf_expr = st.tuples(st.just("x"), st.integers(0, 2))
exprs = st.recursive(
    leaf_expr,
    lambda sub: st.one_of(
        st.tuples(st.just("u"), st.sampled_from(sorted(UNARY)), sub),
        st.tuples(st.just("b"), st.sampled_from(sorted(BINARY)), sub, sub)),
    max_leaves=6)


def _evaluate(expr: tuple, xs: tuple[cr.Tensor, ...]) -> cr.Tensor:
    kind = expr[0]
    if kind == "x":
        return xs[expr[1]]
    if kind == "u":
        return UNARY[expr[1]](_evaluate(expr[2], xs))
    return BINARY[expr[1]](_evaluate(expr[2], xs), _evaluate(expr[3], xs))


@settings(max_examples=60, deadline=None)
@given(expr=exprs, shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=2,
                                                            max_side=3),
       seed=st.integers(0, 2**16))
def test_random_compositions_pass_gradcheck(expr: tuple, shapes, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = _leaves(*(rng.uniform(-1.5, 1.5, s) for s in shapes.input_shapes))

    def f(*ts: cr.Tensor) -> cr.Tensor:
        # Every input takes part, so each one has a gradient to check.
        return _evaluate(expr, ts) + 0.0 * (ts[0].sum() + ts[1].sum() + ts[2].sum())

    out = f(*xs)
    assert np.all(np.isfinite(out.detach().numpy()))
    assert cr.gradcheck(f, xs)


@settings(max_examples=25, deadline=None)
@given(expr=exprs, seed=st.integers(0, 2**16))
def test_random_compositions_pass_gradgradcheck(expr: tuple, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = _leaves(*(rng.uniform(-1.5, 1.5, (2,)) for _ in range(3)))

    def f(*ts: cr.Tensor) -> cr.Tensor:
        return _evaluate(expr, ts) + 0.0 * (ts[0].sum() + ts[1].sum() + ts[2].sum())

    assert cr.gradgradcheck(f, xs)


# ---------------------------------------------------------------------- reductions
@st.composite
def shape_and_axis(draw) -> tuple[tuple[int, ...], int | tuple[int, ...] | None, bool]:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    nd = len(shape)
    axis = draw(st.one_of(
        st.none(),
        st.integers(-nd, nd - 1),
        st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)))
    keepdims = draw(st.booleans())
    return shape, axis, keepdims


def _reduced_shape(shape, axis, keepdims) -> tuple[int, ...]:
    return np.sum(np.zeros(shape), axis=axis, keepdims=keepdims).shape


@SETTINGS
@given(sak=shape_and_axis(), op=st.sampled_from(["sum", "mean", "logsumexp", "var"]),
       seed=st.integers(0, 2**16))
def test_smooth_reductions_over_random_axes(sak, op: str, seed: int) -> None:
    shape, axis, keepdims = sak
    x = _leaves(np.random.default_rng(seed).standard_normal(shape))

    def f(t: cr.Tensor) -> cr.Tensor:
        return getattr(cr, op)(t, axis=axis, keepdims=keepdims)

    y = f(*x)
    assert y.shape == _reduced_shape(shape, axis, keepdims)
    expected = {"sum": np.sum, "mean": np.mean, "var": np.var,
                "logsumexp": lambda a, axis, keepdims: np.log(np.sum(
                    np.exp(a), axis=axis, keepdims=keepdims))}[op]
    np.testing.assert_allclose(y.detach().numpy(), expected(x[0].detach().numpy(), axis=axis,
                                                   keepdims=keepdims), rtol=1e-12,
                               atol=1e-12)
    _check_shapes_and_gradcheck(f, x)


@SETTINGS
@given(sak=shape_and_axis(), op=st.sampled_from(["max", "min"]), seed=st.integers(0, 2**16))
def test_max_min_over_random_axes(sak, op: str, seed: int) -> None:
    shape, axis, keepdims = sak
    x = _leaves(_distinct(seed, shape))

    def f(t: cr.Tensor) -> cr.Tensor:
        return getattr(cr, op)(t, axis=axis, keepdims=keepdims)

    y = f(*x)
    np.testing.assert_array_equal(
        y.detach().numpy(), getattr(np, op)(x[0].detach().numpy(), axis=axis, keepdims=keepdims))
    _check_shapes_and_gradcheck(f, x)
    # The gradient of a max is one-hot per reduced slice: it sums to the output size.
    (g,) = cr.grad(y.sum(), x)
    assert g.detach().numpy().sum() == y.size


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), data=st.data(),
       op=st.sampled_from(["softmax", "log_softmax"]), seed=st.integers(0, 2**16))
def test_softmax_family_over_random_axis(shape, data, op: str, seed: int) -> None:
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), label="axis")
    x = _leaves(np.random.default_rng(seed).standard_normal(shape) * 3)

    def f(t: cr.Tensor) -> cr.Tensor:
        return getattr(cr, op)(t, axis=axis)

    y = f(*x)
    p = np.exp(y.detach().numpy()) if op == "log_softmax" else y.detach().numpy()
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
    _check_shapes_and_gradcheck(f, x)


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=st.integers(0, 2**16),
       data=st.data())
def test_reshape_transpose_round_trip(shape, seed: int, data) -> None:
    perm = data.draw(st.permutations(range(len(shape))), label="perm")
    x = _leaves(np.random.default_rng(seed).standard_normal(shape))

    def f(t: cr.Tensor) -> cr.Tensor:
        return cr.transpose(t, perm).reshape(-1) * cr.arange(float(t.size))

    _check_shapes_and_gradcheck(f, x)
