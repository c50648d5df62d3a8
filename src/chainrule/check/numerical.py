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


#: Float dtypes nudged in place (the others are differenced on float64 copies).
_IN_PLACE = (np.dtype(np.float64), np.dtype(np.longdouble))


def numerical_grad(f: Callable[..., Any], *inputs: Any, eps: float = 1e-6,
                   record: bool = False) -> tuple[np.ndarray, ...]:
    """Central-difference gradient of a scalar-valued ``f`` with respect to each input.

    **The caller's arrays are nudged in place**, one element at a time, exactly as
    *Deep Learning from Scratch*'s ``numerical_gradient`` does, and restored afterwards
    (also when ``f`` raises). So both idioms work: ``f`` may use the argument it is given
    (``numerical_grad(lambda W: loss(W), W)``), or ignore it and read the array from
    elsewhere (``numerical_grad(lambda W: net.loss(x, t), net.params["W1"])``, where the
    nudged array *is* the parameter). This holds for float64 ndarrays and Tensors (whose
    ``.data`` is nudged; ``f`` receives the tensor itself). Python numbers, integer
    arrays and lower-precision floats (float32, whose difference quotient keeps few
    digits; a warning says so) are differenced on float64 copies instead, which ``f``
    must then use.

    Each element is perturbed by ``+eps`` and ``-eps`` in turn, so this costs two calls
    of ``f`` per element: fine for checking, far too slow for training. Returns one float64
    ndarray per input, in its shape. ``f`` runs under ``no_grad`` unless ``record=True``
    (for checking functions that differentiate inside, as :func:`gradgradcheck` does).
    """
    slots: list[Any] = []      # what f receives for each input
    arrays: list[np.ndarray] = []
    for x in inputs:
        data = x.data if isinstance(x, Tensor) else x
        if isinstance(data, np.ndarray) and data.dtype in _IN_PLACE and data.flags.writeable:
            arrays.append(data)
            slots.append(x)
        else:
            if isinstance(data, np.ndarray) and data.dtype.kind == "f":
                why = (f"a {data.dtype} difference quotient keeps few digits"
                       if data.dtype not in _IN_PLACE else "the array is read-only")
                warnings.warn(
                    f"numerical_grad: a {data.dtype} input is differenced on a float64 "
                    f"copy ({why}), so f must use the argument it is given; for the "
                    f"in-place idiom (f reads the array from elsewhere), pass a writable "
                    f"float64 array", stacklevel=2)
            w = np.array(data, dtype=np.float64)
            arrays.append(w)
            slots.append(wrap(w) if isinstance(x, Tensor) else w)

    def call() -> float:
        args = [s if isinstance(s, Tensor) or s.ndim else float(s) for s in slots]
        if record:
            return _to_float(f(*args), "numerical_grad")
        with no_grad():
            return _to_float(f(*args), "numerical_grad")

    grads = []
    for w in arrays:
        g = np.zeros(w.shape, dtype=np.float64)
        flat = w.reshape(-1)       # a view: writes reach the caller's array
        if w.size and not np.shares_memory(flat, w):  # pragma: no cover - non-contiguous
            raise ValueError("numerical_grad: the input array is not contiguous, so it "
                             "cannot be nudged in place; pass np.ascontiguousarray(x)")
        gflat = g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            try:
                flat[i] = old + eps
                up = flat[i]
                fp = call()
                flat[i] = old - eps
                down = flat[i]
                fm = call()
            finally:
                flat[i] = old
            gflat[i] = (fp - fm) / (float(up) - float(down))
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
              seed: int = 0, modes: Sequence[str] = ("rev",)) -> bool:
    """Compare backprop with central differences for every input that requires grad.

    ``f(*inputs)`` may return any shape: a non-scalar output is checked through a fixed
    random projection ``sum(v * f(x))`` (a vector-Jacobian product, which is exactly
    what backward computes). An element fails when
    ``|backprop - numerical| > atol + rtol * |numerical|``.

    ``modes`` (as HIPS autograd's ``check_grads``): ``"rev"`` checks reverse mode as
    above; ``"fwd"`` checks forward mode, ``cr.jvp`` along a fixed random tangent,
    against the directional difference ``(f(x + eps v) - f(x - eps v)) / (2 eps)``.

    Returns True, or raises :class:`GradcheckError` naming the input, the worst element,
    both values and the tolerance (returns False instead if ``raise_exception=False``).
    """
    bad = [m for m in modes if m not in ("rev", "fwd")]
    if bad or not modes:
        raise ValueError(f"gradcheck: modes must name 'rev' and/or 'fwd', got {modes!r}")
    ok = True
    if "rev" in modes:
        ok = _gradcheck(f, inputs, eps, atol, rtol, raise_exception, seed, record=False)
    if ok and "fwd" in modes:
        ok = _fwdcheck(f, inputs, eps, atol, rtol, raise_exception, seed)
    return ok


def _fwdcheck(f: Callable[..., Any], inputs: Tensor | Sequence[Any], eps: float,
              atol: float, rtol: float, raise_exception: bool, seed: int) -> bool:
    """Forward mode (``cr.jvp``) against a central directional difference."""
    from ..func import jvp
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    checked = [i for i, t in enumerate(ins) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; create them with "
                         "requires_grad=True")
    rng = np.random.default_rng(seed + 7)
    tangents = [rng.standard_normal(t.shape) if i in checked else
                np.zeros(np.shape(t.data if isinstance(t, Tensor) else t))
                for i, t in enumerate(ins)]
    positions = [i for i, t in enumerate(ins) if isinstance(t, Tensor)]

    def g(*ts: Tensor) -> Any:
        args = list(ins)
        for i, t in zip(positions, ts):
            args[i] = t
        return f(*args)

    _, jv = jvp(g, tuple(ins[i] for i in positions), tuple(tangents[i] for i in positions))
    analytic = np.asarray(jv.data, dtype=np.float64)

    def shifted(sign: float) -> np.ndarray:
        args = [Tensor(np.asarray(ins[i].data, dtype=np.float64) + sign * eps * tangents[i])
                for i in positions]
        with no_grad():
            y = g(*args)
        return np.asarray(y.data if isinstance(y, Tensor) else y, dtype=np.float64)

    num = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    err = np.abs(analytic - num)
    bound = atol + rtol * np.abs(num)
    if analytic.shape != num.shape or not np.all(err <= bound):
        where = "" if analytic.shape != num.shape else \
            f" (worst |difference| {float(np.nanmax(err)):.3g})"
        msg = (f"gradcheck (forward mode) failed: cr.jvp along a random tangent gives "
               f"{analytic.ravel()[:4]!r}... but the directional difference gives "
               f"{num.ravel()[:4]!r}...{where}; atol={atol}, rtol={rtol}")
        if raise_exception:
            raise GradcheckError(msg)
        return False
    return True


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
        with warnings.catch_warnings():   # gradcheck has warned about float32 already
            warnings.filterwarnings("ignore", message="numerical_grad: a ")
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
