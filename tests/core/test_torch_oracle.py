"""PyTorch as an oracle: same values, same gradients, in float64, to ~1e-10.

Two kinds of checks:

* every chainrule function individually against its PyTorch counterpart, with the
  argument conventions matched (NumPy's ``axis``/``keepdims`` vs torch's
  ``dim``/``keepdim``, ``var`` with ``ddof`` vs ``correction``...);
* random graphs: a seeded generator composes ops from the whole op set on a few
  inputs, building the same graph in both libraries side by side, then compares the
  output and the gradient of every input (and, for a few graphs, second derivatives
  through ``create_graph``).

PyTorch uses the same conventions at kinks and ties (relu'(0) = 0, abs'(0) = 0, ties
of max/amax/maximum share the gradient, clamp passes it at the bounds), so even
graphs that produce exact zeros or ties must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import chainrule as cr

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL = 1e-10
ATOL = 1e-12


def _pair(a: np.ndarray) -> tuple[cr.Tensor, Any]:
    return (cr.tensor(a, requires_grad=True),
            torch.tensor(a, dtype=torch.float64, requires_grad=True))


def _close(ours: cr.Tensor | np.ndarray, theirs: Any, what: str) -> None:
    a = ours.detach().numpy() if isinstance(ours, cr.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy(force=True)  # force: torch may return a ZeroTensor
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, err_msg=what)


def _dims(axis: Any, ndim: int) -> Any:
    if axis is None:
        return tuple(range(ndim))
    return axis


# ---------------------------------------------------------------------- one at a time
@dataclass
class Pair:
    ours: Callable[..., cr.Tensor]
    theirs: Callable[..., Any]
    inputs: Callable[[np.random.Generator], list[np.ndarray]]


def n(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.standard_normal(shape)


def p(*shape: int) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.uniform(0.3, 2.0, shape)


def ins(*makers: Callable) -> Callable[[np.random.Generator], list[np.ndarray]]:
    return lambda rng: [m(rng) for m in makers]


IDX = np.array([2, 0, 2, 1])
COND = np.array([[True, False, False, True]])
LABELS = np.array([1, 0, 3])

FUNCTIONS: dict[str, Pair] = {
    "add": Pair(cr.add, torch.add, ins(n(3, 1), n(4))),
    "sub": Pair(cr.sub, torch.sub, ins(n(2, 3), n(3))),
    "mul": Pair(cr.mul, torch.mul, ins(n(2, 1, 3), n(4, 1))),
    "div": Pair(cr.div, torch.div, ins(n(3), p(2, 3))),
    "neg": Pair(cr.neg, torch.neg, ins(n(2, 3))),
    "pow_tensor": Pair(cr.pow, torch.pow, ins(p(2, 3), n(3))),
    "pow_const": Pair(lambda x: cr.pow(x, 2.5), lambda x: torch.pow(x, 2.5), ins(p(5))),
    "rpow": Pair(lambda x: 3.0 ** x, lambda x: 3.0 ** x, ins(n(4))),
    "exp": Pair(cr.exp, torch.exp, ins(n(2, 3))),
    "log": Pair(cr.log, torch.log, ins(p(2, 3))),
    "sqrt": Pair(cr.sqrt, torch.sqrt, ins(p(2, 3))),
    "abs": Pair(cr.abs, torch.abs, ins(n(2, 3))),
    "sin": Pair(cr.sin, torch.sin, ins(n(2, 3))),
    "cos": Pair(cr.cos, torch.cos, ins(n(2, 3))),
    "tanh": Pair(cr.tanh, torch.tanh, ins(n(2, 3))),
    "sigmoid": Pair(cr.sigmoid, torch.sigmoid, ins(lambda rng: rng.standard_normal((3, 4)) * 6)),
    "relu": Pair(cr.relu, torch.relu, ins(n(3, 4))),
    "maximum": Pair(cr.maximum, torch.maximum, ins(n(3, 4), n(4))),
    "minimum": Pair(cr.minimum, torch.minimum, ins(n(3, 1), n(4))),
    "where": Pair(lambda a, b: cr.where(COND, a, b),
                  lambda a, b: torch.where(torch.tensor(COND), a, b), ins(n(3, 4), n(4))),
    "clip": Pair(lambda x: cr.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7),
                 ins(n(3, 4))),
    "sum": Pair(lambda x: cr.sum(x, axis=(0, 2), keepdims=True),
                lambda x: torch.sum(x, dim=(0, 2), keepdim=True), ins(n(2, 3, 4))),
    "mean": Pair(lambda x: cr.mean(x, axis=1), lambda x: torch.mean(x, dim=1), ins(n(2, 3, 4))),
    "var": Pair(lambda x: cr.var(x, axis=0), lambda x: torch.var(x, dim=0, correction=0),
                ins(n(5, 3))),
    "var_ddof1": Pair(lambda x: cr.var(x, axis=-1, ddof=1, keepdims=True),
                      lambda x: torch.var(x, dim=-1, correction=1, keepdim=True),
                      ins(n(3, 5))),
    "var_all": Pair(cr.var, lambda x: torch.var(x, correction=0), ins(n(3, 5))),
    "max": Pair(lambda x: cr.max(x, axis=1), lambda x: torch.amax(x, dim=1), ins(n(3, 4))),
    "max_all": Pair(cr.max, torch.amax, ins(n(3, 4))),
    "min": Pair(lambda x: cr.min(x, axis=(0, 1), keepdims=True),
                lambda x: torch.amin(x, dim=(0, 1), keepdim=True), ins(n(3, 4, 2))),
    "max_ties": Pair(lambda x: cr.max(x, axis=0), lambda x: torch.amax(x, dim=0),
                     ins(lambda rng: np.array([[1.0, 2.0], [1.0, 0.0], [0.5, 2.0]]))),
    "logsumexp": Pair(lambda x: cr.logsumexp(x, axis=-1),
                      lambda x: torch.logsumexp(x, dim=-1), ins(n(3, 4))),
    "logsumexp_all": Pair(cr.logsumexp, lambda x: torch.logsumexp(x, dim=(0, 1)),
                          ins(n(3, 4))),
    "softmax": Pair(lambda x: cr.softmax(x, axis=0), lambda x: torch.softmax(x, dim=0),
                    ins(n(3, 4))),
    "log_softmax": Pair(cr.log_softmax, lambda x: torch.log_softmax(x, dim=-1), ins(n(3, 4))),
    "matmul": Pair(cr.matmul, torch.matmul, ins(n(2, 1, 3, 4), n(5, 4, 2))),
    "matmul_vec": Pair(cr.matmul, torch.matmul, ins(n(4), n(2, 4, 3))),
    "affine": Pair(cr.affine, lambda x, w, b: x @ w + b, ins(n(5, 3), n(3, 2), n(2))),
    "reshape": Pair(lambda x: cr.reshape(x, (4, -1)), lambda x: torch.reshape(x, (4, -1)),
                    ins(n(2, 3, 2))),
    "transpose": Pair(lambda x: cr.transpose(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1),
                      ins(n(2, 3, 4))),
    "swapaxes": Pair(lambda x: cr.swapaxes(x, 0, 2), lambda x: torch.swapaxes(x, 0, 2),
                     ins(n(2, 3, 4))),
    "broadcast_to": Pair(lambda x: cr.broadcast_to(x, (2, 3, 4)),
                         lambda x: torch.broadcast_to(x, (2, 3, 4)), ins(n(3, 1))),
    "sum_to": Pair(lambda x: cr.sum_to(x, (3, 1)), lambda x: x.sum(dim=0).sum(
        dim=-1, keepdim=True), ins(n(2, 3, 4))),
    "expand_dims": Pair(lambda x: cr.expand_dims(x, 1), lambda x: torch.unsqueeze(x, 1),
                        ins(n(2, 3))),
    "squeeze": Pair(cr.squeeze, torch.squeeze, ins(n(1, 3, 1, 2))),
    "flatten": Pair(lambda x: cr.flatten(x, 1), lambda x: torch.flatten(x, 1),
                    ins(n(2, 3, 4))),
    "concatenate": Pair(lambda a, b: cr.concatenate([a, b], axis=1),
                        lambda a, b: torch.cat([a, b], dim=1), ins(n(2, 3), n(2, 1))),
    "stack": Pair(lambda a, b: cr.stack([a, b], axis=1),
                  lambda a, b: torch.stack([a, b], dim=1), ins(n(2, 3), n(2, 3))),
    "getitem_basic": Pair(lambda x: x[1:, ::2], lambda x: x[1:, ::2], ins(n(3, 5))),
    "getitem_advanced": Pair(lambda x: x[IDX], lambda x: x[torch.tensor(IDX)], ins(n(3, 2))),
    "getitem_pairs": Pair(lambda x: x[IDX, [0, 1, 1, 0]],
                          lambda x: x[torch.tensor(IDX), torch.tensor([0, 1, 1, 0])],
                          ins(n(3, 2))),
    "softmax_cross_entropy": Pair(lambda x: cr.softmax_cross_entropy(x, LABELS),
                                  lambda x: F.cross_entropy(x, torch.tensor(LABELS)),
                                  ins(n(3, 4))),
    "softmax_cross_entropy_sum": Pair(
        lambda x: cr.softmax_cross_entropy(x, LABELS, reduction="sum"),
        lambda x: F.cross_entropy(x, torch.tensor(LABELS), reduction="sum"), ins(n(3, 4))),
    "softmax_cross_entropy_none": Pair(
        lambda x: cr.softmax_cross_entropy(x, LABELS, reduction="none"),
        lambda x: F.cross_entropy(x, torch.tensor(LABELS), reduction="none"), ins(n(3, 4))),
    "softmax_cross_entropy_probs": Pair(
        cr.softmax_cross_entropy, F.cross_entropy, ins(n(3, 4), p(3, 4))),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_matches_torch(name: str) -> None:
    pair = FUNCTIONS[name]
    arrays = pair.inputs(np.random.default_rng(sum(map(ord, name))))
    ours, theirs = zip(*(_pair(a) for a in arrays))
    y, ty = pair.ours(*ours), pair.theirs(*theirs)
    _close(y, ty, f"{name} value")
    up = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(up)
    ty.backward(torch.tensor(up))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        _close(a.grad, b.grad, f"{name} gradient of input {i}")


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "log_softmax", "softmax", "logsumexp",
                                  "matmul", "div", "pow_tensor", "var", "affine",
                                  "softmax_cross_entropy", "softmax_cross_entropy_probs"])
def test_second_derivatives_match_torch(name: str) -> None:
    pair = FUNCTIONS[name]
    arrays = pair.inputs(np.random.default_rng(sum(map(ord, name))))
    ours, theirs = zip(*(_pair(a) for a in arrays))
    y, ty = pair.ours(*ours), pair.theirs(*theirs)
    rng = np.random.default_rng(2)
    up = rng.standard_normal(y.shape)
    gs = cr.grad(y, list(ours), grad_outputs=up, create_graph=True)
    tgs = torch.autograd.grad(ty, list(theirs), grad_outputs=torch.tensor(up),
                              create_graph=True)
    ws = [rng.standard_normal(a.shape) for a in arrays]
    s = sum((g * cr.tensor(w)).sum() for g, w in zip(gs, ws))
    ts = sum((g * torch.tensor(w)).sum() for g, w in zip(tgs, ws))
    _close(s, ts, f"{name} projected gradient")
    hs = cr.grad(s, list(ours), allow_unused=True)
    ths = torch.autograd.grad(ts, list(theirs), allow_unused=True)
    for i, (h, th) in enumerate(zip(hs, ths)):
        if th is None:
            assert h is None or np.all(h.detach().numpy() == 0)
        else:
            _close(np.zeros(arrays[i].shape) if h is None else h, th,
                   f"{name} second derivative, input {i}")


# ---------------------------------------------------------------------- random graphs
Node = tuple[cr.Tensor, Any]   # the same value in both libraries


def _squash(node: Node) -> Node:
    """Keep values moderate so that later exps and powers stay finite: tanh anything
    that grew beyond 20 (decided on our value, applied to both)."""
    a, b = node
    if a.size and np.max(np.abs(a.detach().numpy())) > 20:
        return cr.tanh(a), torch.tanh(b)
    return node


def _random_axis(rng: np.random.Generator, ndim: int) -> Any:
    choice = rng.integers(3)
    if choice == 0 or ndim == 1:
        return int(rng.integers(-ndim, ndim))
    if choice == 1:
        return None
    k = int(rng.integers(1, ndim + 1))
    return tuple(sorted(int(v) for v in rng.choice(ndim, k, replace=False)))


def _unary(rng: np.random.Generator, x: Node) -> Node | None:
    a, b = x
    nd = a.ndim
    ops: list[Callable[[], Node]] = [
        lambda: (-a, -b),
        lambda: (cr.exp(a), torch.exp(b)),
        lambda: (cr.log(a * a + 0.5), torch.log(b * b + 0.5)),
        lambda: (cr.sqrt(a * a + 0.5), torch.sqrt(b * b + 0.5)),
        lambda: (cr.abs(a), torch.abs(b)),
        lambda: (cr.sin(a), torch.sin(b)),
        lambda: (cr.cos(a), torch.cos(b)),
        lambda: (cr.tanh(a), torch.tanh(b)),
        lambda: (cr.sigmoid(a), torch.sigmoid(b)),
        lambda: (cr.relu(a), torch.relu(b)),
        lambda: (cr.clip(a, -0.8, 0.9), torch.clamp(b, -0.8, 0.9)),
        lambda: (a ** 3, b ** 3),
        lambda: (a ** 2, b ** 2),
        lambda: ((a * a + 1.0) ** -0.5, (b * b + 1.0) ** -0.5),
        lambda: (2.0 ** a, 2.0 ** b),
        lambda: (1.0 / (a * a + 0.5), 1.0 / (b * b + 0.5)),
        lambda: (a * 1.7 - 0.3, b * 1.7 - 0.3),
        # float32 round trip: the same rounding in both libraries.
        lambda: (a.astype(np.float32).astype(np.float64) * 1.0,
                 b.to(torch.float32).to(torch.float64) * 1.0),
    ]
    if 1 in a.shape:
        ops.append(lambda: (cr.squeeze(a), torch.squeeze(b)))
    if nd >= 1:
        ax = _random_axis(rng, nd)
        keep = bool(rng.integers(2))
        dims = _dims(ax, nd)
        one = int(rng.integers(-nd, nd))
        ops += [
            lambda: (cr.sum(a, axis=ax, keepdims=keep), torch.sum(b, dim=dims, keepdim=keep)),
            lambda: (cr.mean(a, axis=ax, keepdims=keep), torch.mean(b, dim=dims, keepdim=keep)),
            lambda: (cr.max(a, axis=ax, keepdims=keep), torch.amax(b, dim=dims, keepdim=keep)),
            lambda: (cr.min(a, axis=ax, keepdims=keep), torch.amin(b, dim=dims, keepdim=keep)),
            lambda: (cr.logsumexp(a, axis=ax, keepdims=keep),
                     torch.logsumexp(b, dim=dims, keepdim=keep)),
            lambda: (cr.softmax(a, axis=one), torch.softmax(b, dim=one)),
            lambda: (cr.log_softmax(a, axis=one), torch.log_softmax(b, dim=one)),
            lambda: (cr.expand_dims(a, 0), torch.unsqueeze(b, 0)),
            lambda: (cr.reshape(a, (-1,)), torch.reshape(b, (-1,))),
            lambda: (cr.transpose(a), b.permute(*reversed(range(nd)))),
            lambda: (a[::-1], torch.flip(b, (0,))),
            lambda: (a[[0, 0, -1]], b[torch.tensor([0, 0, -1])]),
        ]
        if a.shape[0] > 1:
            ops.append(lambda: (a[1:], b[1:]))
        ops.append(lambda: (cr.var(a, axis=ax, keepdims=keep),
                            torch.var(b, dim=dims, keepdim=keep, correction=0)))
    if nd == 2 and a.shape[1] > 0:
        labels = np.arange(a.shape[0]) % a.shape[1]
        ops.append(lambda: (cr.softmax_cross_entropy(a, labels),
                            F.cross_entropy(b, torch.tensor(labels))))
    if nd == 0:
        ops.append(lambda: (cr.broadcast_to(a, (2, 3)), torch.broadcast_to(b, (2, 3))))
    return ops[int(rng.integers(len(ops)))]()


def _binary(rng: np.random.Generator, x: Node, y: Node) -> Node | None:
    a, b = x
    c, d = y
    try:
        np.broadcast_shapes(a.shape, c.shape)
        broadcastable = True
    except ValueError:
        broadcastable = False
    ops: list[Callable[[], Node]] = []
    if broadcastable:
        ops += [
            lambda: (a + c, b + d),
            lambda: (a - c, b - d),
            lambda: (a * c, b * d),
            lambda: (a / (c * c + 0.5), b / (d * d + 0.5)),
            lambda: ((a * a + 0.5) ** c, (b * b + 0.5) ** d),
            lambda: (cr.maximum(a, c), torch.maximum(b, d)),
            lambda: (cr.minimum(a, c), torch.minimum(b, d)),
        ]
        shape = np.broadcast_shapes(a.shape, c.shape)
        cond = rng.random(shape) < 0.5
        ops.append(lambda: (cr.where(cond, a, c), torch.where(torch.tensor(cond), b, d)))
    if a.ndim >= 1 and c.ndim >= 1 and a.shape[-1] == c.shape[0] and c.ndim <= 2:
        ops.append(lambda: (a @ c, b @ d))
    if a.ndim == 2 and c.ndim == 2 and a.shape[1] == c.shape[0]:
        ops.append(lambda: (cr.affine(a, c), b @ d))
    if a.shape == c.shape:
        ops.append(lambda: (cr.stack([a, c]), torch.stack([b, d])))
    if a.ndim >= 1 and a.shape[1:] == c.shape[1:] and c.ndim == a.ndim:
        ops.append(lambda: (cr.concatenate([a, c]), torch.cat([b, d])))
    if not ops:
        return None
    return ops[int(rng.integers(len(ops)))]()


INPUT_SHAPES = [(3, 4), (4,), (3, 1), (), (4, 2)]


def _build(seed: int, steps: int = 10) -> tuple[list[Node], Node]:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 4))
    shapes = [INPUT_SHAPES[int(i)] for i in rng.choice(len(INPUT_SHAPES), k, replace=False)]
    inputs = [_pair(rng.uniform(-1.5, 1.5, s)) for s in shapes]
    pool: list[Node] = list(inputs)
    for _ in range(steps):
        node = None
        while node is None:
            if rng.random() < 0.5:
                node = _unary(rng, pool[int(rng.integers(len(pool)))])
            else:
                i, j = rng.integers(len(pool), size=2)
                node = _binary(rng, pool[int(i)], pool[int(j)])
        pool.append(_squash(node))
    # One scalar from everything in the pool: every input gets a gradient.
    a_out: Any = 0.0
    t_out: Any = 0.0
    for a, b in pool:
        w = rng.standard_normal(a.shape)
        a_out = (a * cr.tensor(w)).sum() + a_out
        t_out = (b * torch.tensor(w)).sum() + t_out
    return inputs, (a_out, t_out)


@pytest.mark.parametrize("seed", range(60))
def test_random_graph_matches_torch(seed: int) -> None:
    inputs, (y, ty) = _build(seed)
    _close(y, ty, f"graph {seed} value")
    y.backward()
    ty.backward()
    for i, (a, b) in enumerate(inputs):
        _close(a.grad, b.grad, f"graph {seed} gradient of input {i} (shape {a.shape})")


@pytest.mark.parametrize("seed", range(100, 115))
def test_random_graph_second_order_matches_torch(seed: int) -> None:
    inputs, (y, ty) = _build(seed, steps=6)
    ours = [a for a, _ in inputs]
    theirs = [b for _, b in inputs]
    gs = cr.grad(y, ours, create_graph=True)
    tgs = torch.autograd.grad(ty, theirs, create_graph=True)
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(a.shape) for a in ours]
    s = sum((g * cr.tensor(w)).sum() for g, w in zip(gs, ws))
    ts = sum((g * torch.tensor(w)).sum() for g, w in zip(tgs, ws))
    _close(s, ts, f"graph {seed} projected gradient")
    if not ts.requires_grad:
        return  # piecewise-linear graph: no second derivative anywhere
    hs = cr.grad(s, ours, allow_unused=True) if s.requires_grad else [None] * len(ours)
    ths = torch.autograd.grad(ts, theirs, allow_unused=True)
    for i, (h, th) in enumerate(zip(hs, ths)):
        want = np.zeros(ours[i].shape) if th is None else th.detach().numpy(force=True)
        got = np.zeros(ours[i].shape) if h is None else h.detach().numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11,
                                   err_msg=f"graph {seed} second derivative, input {i}")
