"""Gradient checking: backprop verified against numerical differentiation.

The seed notes' recipe: compute the gradient twice, once by backpropagation (fast, but
easy to get wrong) and once by central differences
``(f(x + eps) - f(x - eps)) / (2 eps)`` (slow, but hard to get wrong), and compare.
Do it in float64: in float32 the difference quotient loses most of its digits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._tensor import Tensor, wrap
from ..autograd import grad as _grad
from ..autograd import no_grad
from ..errors import GradcheckError


def _to_float(v: Any, where: str) -> float:
    if isinstance(v, Tensor):
        v = v.data
    arr = np.asarray(v)
    if arr.size != 1:
        raise ValueError(f"{where}: f must return a single number, it returned shape "
                         f"{arr.shape}; reduce it (e.g. .sum()) first")
    return float(arr.reshape(()))


def numerical_grad(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6,
                   record: bool = False) -> tuple[np.ndarray, ...]:
    """Central-difference gradient of a scalar-valued ``f`` with respect to each input.

    ``f`` is called with arguments of the same kind as ``inputs`` (ndarrays, numbers or
    Tensors). Each element is perturbed by ``+eps`` and ``-eps`` in turn, so this costs
    two calls of ``f`` per element: fine for checking, far too slow for training.
    Returns one float64 ndarray per input, in its shape. ``f`` runs under ``no_grad``
    unless ``record=True`` (then tensor inputs keep ``requires_grad``, for checking
    functions that differentiate inside, as :func:`gradgradcheck` does).
    """
    kinds = [isinstance(x, Tensor) for x in inputs]
    req = [isinstance(x, Tensor) and x.requires_grad and record for x in inputs]
    work = [np.array(x.data if isinstance(x, Tensor) else x, dtype=np.float64) for x in inputs]

    def call() -> float:
        args = [(Tensor(w, requires_grad=r) if r else wrap(w)) if k
                else (w if w.ndim else float(w)) for w, k, r in zip(work, kinds, req)]
        if record:
            return _to_float(f(*args), "numerical_grad")
        with no_grad():
            return _to_float(f(*args), "numerical_grad")

    grads = []
    for w in work:
        g = np.zeros_like(w)
        flat = w.reshape(-1)
        gflat = g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = call()
            flat[i] = old - eps
            fm = call()
            flat[i] = old
            gflat[i] = (fp - fm) / (2 * eps)
        grads.append(g)
    return tuple(grads)


def _describe(i: int, t: Tensor) -> str:
    return f"input {i}" + (f" ({t.name!r})" if t.name else "") + f" of shape {t.shape}"


def _projection(out: Tensor, seed: int) -> np.ndarray | None:
    """The fixed random vector a non-scalar output is projected on (None for a scalar)."""
    if out.size == 1:
        return None
    return np.random.default_rng(seed).standard_normal(out.shape)


def gradcheck(f: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              seed: int = 0) -> bool:
    """Compare backprop with central differences for every input that requires grad.

    ``f(*inputs)`` may return any shape: a non-scalar output is checked through a fixed
    random projection ``sum(v * f(x))`` (a vector-Jacobian product, which is exactly
    what backward computes). An element fails when
    ``|backprop - numerical| > atol + rtol * |numerical|``.

    Returns True, or raises :class:`GradcheckError` naming the input, the worst element,
    both values and the tolerance (returns False instead if ``raise_exception=False``).
    """
    return _gradcheck(f, inputs, eps, atol, rtol, raise_exception, seed, record=False)


def _gradcheck(f: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float,
               atol: float, rtol: float, raise_exception: bool, seed: int,
               record: bool) -> bool:
    """:func:`gradcheck`; ``record`` keeps recording while ``f`` is differenced (for
    :func:`gradgradcheck`, whose ``f`` differentiates inside)."""
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, t in enumerate(ins) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; create them with "
                         "requires_grad=True")
    for i in checked:
        if ins[i].dtype != np.float64:
            warnings.warn(f"gradcheck: {_describe(i, ins[i])} is {ins[i].dtype}; numerical "
                          f"differentiation needs float64 to be meaningful", stacklevel=2)
    out = f(*ins)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
    v = _projection(out, seed)
    if out.requires_grad:
        analytic = _grad(out, [ins[i] for i in checked], grad_outputs=v, allow_unused=True)
    else:
        # Nothing recorded connects the output to the inputs: backprop's answer is zero
        # (compared below with the numerical gradient, which may well disagree).
        analytic = (None,) * len(checked)

    def scalar_f(*args: Any) -> float:
        y = f(*args)
        y = y.data if isinstance(y, Tensor) else np.asarray(y)
        return float(np.sum(y * v)) if v is not None else float(y.reshape(()))

    for k, i in enumerate(checked):
        def fi(xi: Any, i: int = i) -> float:
            args = list(ins)
            args[i] = xi
            return scalar_f(*args)
        (num,) = numerical_grad(fi, ins[i], eps=eps, record=record)
        a = analytic[k]
        ana = np.zeros_like(num) if a is None else np.asarray(a.data, dtype=np.float64)
        if ana.shape != num.shape:
            msg = (f"gradcheck: backprop gave a gradient of shape {ana.shape} for "
                   f"{_describe(i, ins[i])}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
        err = np.abs(ana - num)
        bound = atol + rtol * np.abs(num)
        bad = ~(err <= bound)
        if bad.any():
            excess = np.where(bad, err - bound, -np.inf)
            excess = np.where(np.isnan(err), np.inf, excess)
            worst = np.unravel_index(int(np.argmax(excess)), num.shape)
            w = tuple(int(j) for j in worst)
            msg = (f"gradcheck failed for {_describe(i, ins[i])}: at element {list(w)} "
                   f"backprop gives {ana[w]!r} but numerical differentiation gives "
                   f"{num[w]!r}; |difference| = {err[w]:.3g} exceeds the tolerance "
                   f"atol + rtol*|numerical| = {bound[w]:.3g} (atol={atol}, rtol={rtol}); "
                   f"{int(bad.sum())} of {num.size} elements fail")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(f: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 1) -> bool:
    """Check second derivatives: gradcheck of the first-order gradients of ``f``.

    The first-order gradients are computed with ``create_graph=True`` for a random
    upstream gradient ``v`` and projected on fixed random vectors ``w``: the checked
    function is ``sum_i <w_i, (dy/dx_i)^T v>``. As in PyTorch's ``gradgradcheck``, it is
    differentiated with respect to the inputs *and* to ``v``, so gates whose gradient
    does not depend on their inputs (add, reshape, sum...) are checked too: their
    backward must still be a recorded, correct function of the upstream gradient.
    """
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    diff = [i for i, t in enumerate(ins) if isinstance(t, Tensor) and t.requires_grad]
    rng = np.random.default_rng(seed)
    probe = f(*ins)
    if not isinstance(probe, Tensor):
        raise TypeError(f"gradgradcheck: f must return a Tensor, got {type(probe).__name__}")
    v = Tensor(rng.standard_normal(probe.shape), requires_grad=True, name="grad_output")
    ws = [rng.standard_normal(ins[i].shape) for i in diff]
    n = len(ins)

    def first_order(*args: Any) -> Tensor:
        xs, v_ = args[:n], args[n]
        y = f(*xs)
        gs = _grad(y, [xs[i] for i in diff], grad_outputs=v_, create_graph=True,
                   allow_unused=True)
        total: Any = 0.0
        for g, w in zip(gs, ws):
            if g is not None:
                total = (g * w).sum() + total
        if not isinstance(total, Tensor):
            total = Tensor(np.float64(total))
        return total

    return _gradcheck(first_order, [*ins, v], eps, atol, rtol, raise_exception, seed,
                      record=True)
