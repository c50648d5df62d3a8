"""Specs of the first gates: arithmetic, elementwise, reductions, shape, linalg, losses.

Inputs are chosen in each gate's smooth region: positive for log/sqrt/pow, away from 0
for abs/relu, away from the bounds for clip, and well-separated distinct values for
max/min/maximum/minimum so that a finite-difference step never crosses a tie or a kink.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor import tensor
from .spec import (
    BOOL_MASK,
    INDEX_REPEAT,
    WHERE_COND,
    C,
    GateSpec,
    InputMaker,
    Variant,
    away0,
    binary_cases,
    normal,
    positive,
    spread,
    unary_cases,
)
from .spec import spec as _S
from .spec import variant as _V


def _shifted_spread(*shape: int) -> InputMaker:
    return spread(*shape, offset=0.15)


SPECS: list[GateSpec] = [
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



#: Extra engine-level cases for gates with options or other kinds of input.
VARIANTS: tuple[Variant, ...] = (
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
    _V(ops.Clip, "lower bound only", lambda x: ops.clip(x, a_min=0.0), away0(5)),
    _V(ops.Clip, "upper bound only", lambda x: ops.clip(x, max=0.0), away0(5)),
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

