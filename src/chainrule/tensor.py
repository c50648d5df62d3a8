"""The Tensor: an ndarray that remembers which gate made it.

A :class:`Tensor` wraps a NumPy array (``.data``). When an operation runs on tensors
that require gradients, :func:`apply` calls the gate's ``forward`` on the plain arrays,
wraps the result in a new tensor and links that tensor to the gate (``.creator``); the
gate links back to its input tensors. That chain of links *is* the computational graph
of the seed notes, recorded while the program runs (define-by-run). ``backward`` then
walks it in reverse; see :mod:`chainrule.autograd`.
"""

from __future__ import annotations

import numbers
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from . import _config
from .errors import DtypeError, ShapeError

_GradMode = _config.GradMode
_clock = _config.clock
_new = object.__new__
_ndarray = np.ndarray
_asarray = np.asarray


class Tensor:
    """An n-dimensional array that can take part in automatic differentiation.

    Parameters
    ----------
    data:
        A Python number, a (nested) list, an ndarray or another Tensor. The values are
        copied (use :func:`from_numpy` to share an ndarray's memory instead).
    dtype:
        A NumPy dtype; by default it is inferred the way NumPy infers it (Python floats
        give float64; an ndarray keeps its dtype).
    requires_grad:
        Record operations on this tensor so that ``backward`` computes ``.grad`` for it.
        Only floating-point tensors can require gradients.
    name:
        An optional label, shown by ``repr``, ``cr.explain`` and ``cr.viz``.
    """

    __slots__ = ("__weakref__", "_hooks", "_version", "creator", "data", "grad", "name",
                 "requires_grad")

    # NumPy consults this before calling ``ndarray.__mul__(array, tensor)`` and friends,
    # so mixed expressions such as ``array * tensor`` dispatch to the tensor.
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False,
                 name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        arr = np.array(data, dtype=dtype, copy=True)
        if arr.dtype == object:
            raise DtypeError(
                f"tensor: cannot make a numeric array from {type(data).__name__} "
                f"(NumPy gave dtype=object); pass numbers, nested lists of numbers or an ndarray")
        self.data = arr
        self.grad: Tensor | None = None
        self.requires_grad = False
        self.creator = None
        self.name = name
        self._version = 0
        self._hooks: list | None = None
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape, as in NumPy."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def size(self) -> int:
        """Number of elements."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype of ``.data``."""
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded gate (inputs and parameters)."""
        return self.creator is None

    @property
    def grad_fn(self) -> Any:
        """The gate that produced this tensor (``None`` for leaves); PyTorch's name."""
        return self.creator

    @property
    def version(self) -> int:
        """Clock tick of the last in-place modification (0 if never modified)."""
        return self._version

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed), like ``ndarray.T``."""
        return transpose(self)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to a Python number, "
                f"this one has shape {self.data.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        return self.data.tolist()

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if not np.issubdtype(self.data.dtype, np.integer):
            raise TypeError("only integer one-element tensors can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != np.float64 and self.data.dtype != np.int64 \
                and self.data.dtype != np.bool_:
            extras.append(f"dtype={self.data.dtype}")
        if self.creator is not None:
            extras.append(f"grad_fn=<{type(self.creator).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Turn gradient tracking on (or off) for this leaf tensor, in place."""
        if requires_grad:
            kind = self.data.dtype.kind
            if kind not in "fc":
                raise DtypeError(
                    f"requires_grad: only floating-point tensors can require gradients, "
                    f"this one has dtype {self.data.dtype}; convert first, e.g. "
                    f"cr.tensor(data, dtype=np.float64, requires_grad=True)")
        elif self.creator is not None:
            raise ValueError("requires_grad_(False) on a non-leaf tensor: use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf tensor sharing this tensor's data, cut off from the graph."""
        t = _wrap(self.data)
        t.name = self.name
        return t

    def backward(self, grad: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Backpropagate from this tensor, accumulating ``.grad`` of every leaf.

        ``grad`` is the upstream gradient dL/dself; it may be omitted only when this
        tensor has one element (it is then 1). Gradients *accumulate*: call
        ``zero_grad`` (or set ``.grad = None``) between steps. The graph's saved values
        are released as backward goes, unless ``retain_graph=True``. With
        ``create_graph=True`` the gradients are themselves tensors with a graph, so they
        can be differentiated again (higher-order derivatives).
        """
        _autograd.backward(self, grad, retain_graph=retain_graph, create_graph=create_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (sets ``.grad`` to ``None``)."""
        self.grad = None

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``fn(grad)`` when this tensor's gradient has been computed.

        ``fn`` receives the gradient as a Tensor; if it returns a value, that value
        replaces the gradient for the rest of backward. Returns a handle whose
        ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise ValueError("register_hook: this tensor does not require grad, "
                             "so no gradient will ever be computed for it")
        if self.creator is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            hooks = self.creator.__dict__.setdefault("hooks", [])
        hooks.append(fn)
        return _HookHandle(hooks, fn)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor too (leaves always keep theirs)."""
        if self.creator is None:
            return
        ref = weakref.ref(self)

        def _store(g: Tensor) -> None:
            t = ref()
            if t is not None:
                t.grad = g if t.grad is None else Tensor(t.grad.data + g.data)

        self.register_hook(_store)

    # ------------------------------------------------------------------ in place
    def _check_inplace(self, what: str) -> None:
        if _GradMode.enabled and self.requires_grad:
            kind = "a leaf tensor that requires grad" if self.creator is None \
                else "a tensor that is part of a recorded graph"
            raise RuntimeError(
                f"{what}: in-place modification of {kind} would corrupt backward; "
                f"do it under `with cr.no_grad():` (e.g. an optimizer update) or use "
                f"an out-of-place operation")

    def _bump(self) -> None:
        """Record that ``.data`` was just modified in place (see ``InplaceLog``)."""
        tick = self._version = next(_clock)
        stamp_memory(self.data, tick)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        self.data[_unwrap_index(index)] = value.data if isinstance(value, Tensor) else value
        self._bump()

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the values in place with ``src`` (broadcast to this shape)."""
        self._check_inplace("copy_")
        np.copyto(self.data, src.data if isinstance(src, Tensor) else src, casting="same_kind")
        self._bump()
        return self

    def fill_(self, value: float) -> Tensor:
        """Set every element to ``value``, in place."""
        self._check_inplace("fill_")
        self.data.fill(value)
        self._bump()
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self += alpha * other``, in place."""
        self._check_inplace("add_")
        o = other.data if isinstance(other, Tensor) else other
        if alpha != 1.0:
            o = o * alpha
        np.add(self.data, o, out=self.data, casting="same_kind")
        self._bump()
        return self

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self -= alpha * other``, in place."""
        return self.add_(other, -alpha)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other``, in place."""
        self._check_inplace("mul_")
        np.multiply(self.data, other.data if isinstance(other, Tensor) else other,
                    out=self.data, casting="same_kind")
        self._bump()
        return self

    # ------------------------------------------------------------------ NumPy protocol
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        dtype = kwargs.pop("dtype", None) if method == "__call__" else None
        if method == "__call__" and not kwargs:
            fn = _UFUNCS.get(ufunc)
            if fn is not None:
                res = fn(*inputs)
                return res if dtype is None else astype(res, dtype)
            if ufunc in _UFUNC_NO_GRAD or not _any_requires_grad(inputs):
                res = ufunc(*[_plain(x) for x in inputs], dtype=dtype)
                return _wrap(_asarray(res)) if isinstance(res, (np.ndarray, np.generic)) \
                    else res
        extra = f" with {', '.join(kwargs)}" if kwargs else ""
        raise TypeError(
            f"np.{ufunc.__name__} (method {method!r}{extra}) has no chainrule gate, so it "
            f"cannot carry a gradient; use a chainrule function, or apply it to "
            f"t.detach().numpy()")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        fn = _FUNCTIONS.get(func)
        if fn is not None:
            return fn(*args, **kwargs)
        if func in _FUNCTIONS_NO_GRAD or not _any_requires_grad(args, kwargs):
            return func(*_plain_tree(args), **_plain_tree(kwargs))
        raise TypeError(
            f"np.{func.__name__} has no chainrule gate, so it cannot carry a gradient "
            f"for a tensor that requires grad; use a chainrule function, or apply it to "
            f"t.detach().numpy()")

    # Operator and method definitions are attached at the bottom of this module, once
    # the gates exist (they live in chainrule.ops, which imports this module).


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook away again."""

    __slots__ = ("_fn", "_hooks")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)


_InplaceLog = _config.InplaceLog


def memory_owner(a: np.ndarray) -> np.ndarray:
    """The ndarray that owns ``a``'s memory (``a`` itself unless ``a`` is a view)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def stamp_memory(a: np.ndarray, tick: int) -> None:
    """Log that the memory under ``a`` was modified in place at clock ``tick``."""
    owner = memory_owner(a)
    key = id(owner)
    entry = _InplaceLog.stamps.get(key)
    if entry is None or entry[0]() is not owner:
        ref = weakref.ref(owner, lambda _r, key=key: _InplaceLog.stamps.pop(key, None))
    else:
        ref = entry[0]
    _InplaceLog.stamps[key] = (ref, tick)
    _InplaceLog.last = tick


def modified_since(a: np.ndarray, tick: int) -> bool:
    """Whether the memory under ``a`` was modified in place after clock ``tick``."""
    owner = memory_owner(a)
    entry = _InplaceLog.stamps.get(id(owner))
    return entry is not None and entry[1] > tick and entry[0]() is owner


def _wrap(data: np.ndarray) -> Tensor:
    """A new leaf Tensor around ``data`` (an ndarray), without copying or checks."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t.creator = None
    t.name = None
    t._version = 0
    t._hooks = None
    return t


def _plain(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _plain_tree(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_tree(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain_tree(v) for k, v in x.items()}
    return x


def _any_requires_grad(*trees: Any) -> bool:
    stack = list(trees)
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            if x.requires_grad and _GradMode.enabled:
                return True
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    return False


def _unwrap_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


# ---------------------------------------------------------------------- recording
def _shape_error(gate: Any, args: Sequence[Any], err: Exception) -> ShapeError:
    shapes = ", ".join(str(np.shape(_plain(a))) for a in args)
    return ShapeError(f"{type(gate).__name__}: inputs of shapes {shapes} do not fit together "
                      f"({err}); check the shapes, or reshape/transpose one input")


def _as_output_array(gate: Any, y: Any) -> np.ndarray:
    """Turn a NumPy scalar result (from 0-d inputs) into a 0-d array.

    The gate may have saved the scalar for backward; it is re-pointed at the array so
    that the saved value stays identical to the output tensor's data.
    """
    arr = _asarray(y)
    saved = getattr(gate, "__dict__", None)
    if saved:
        for k, v in saved.items():
            if v is y:
                saved[k] = arr
    return arr


def apply(gate: Any, *args: Any) -> Tensor:
    """Run ``gate.forward`` on the arrays inside ``args`` and record it in the graph.

    Arguments that are not tensors (Python numbers, ndarrays) are constants: they reach
    ``forward`` as they are and get no gradient. The result is a new tensor; if any input
    requires grad (and grad mode is on), the gate is linked into the graph.
    """
    arrays = []
    req = False
    for a in args:
        if isinstance(a, Tensor):
            arrays.append(a.data)
            if a.requires_grad:
                req = True
        else:
            arrays.append(a)
    try:
        y = gate._forward(*arrays)
    except ShapeError:
        raise
    except ValueError as e:
        raise _shape_error(gate, args, e) from e
    if type(y) is not _ndarray:
        y = _as_output_array(gate, y)
    out = _wrap(y)
    if req and _GradMode.enabled:
        gate.inputs = args
        gate.needs = tuple([isinstance(a, Tensor) and a.requires_grad for a in args])
        gate.seq = next(_clock)
        if gate.saves_output:
            gate.out = weakref.ref(out)
        out.requires_grad = True
        out.creator = gate
    return out


def apply1(gate: Any, x: Tensor) -> Tensor:
    """:func:`apply` for a gate with one tensor input (the hot path of unary ops)."""
    try:
        y = gate._forward(x.data)
    except ShapeError:
        raise
    except ValueError as e:
        raise _shape_error(gate, (x,), e) from e
    if type(y) is not _ndarray:
        y = _as_output_array(gate, y)
    out = _new(Tensor)
    out.data = y
    out.grad = None
    out.name = None
    out._version = 0
    out._hooks = None
    if x.requires_grad and _GradMode.enabled:
        gate.inputs = (x,)
        gate.needs = (True,)
        gate.seq = next(_clock)
        if gate.saves_output:
            gate.out = weakref.ref(out)
        out.requires_grad = True
        out.creator = gate
    else:
        out.requires_grad = False
        out.creator = None
    return out


def apply2(gate: Any, a: Any, b: Any) -> Tensor:
    """:func:`apply` for a gate with two inputs (the hot path of arithmetic)."""
    if isinstance(a, Tensor):
        ad = a.data
        ra = a.requires_grad
    else:
        ad = a
        ra = False
    if isinstance(b, Tensor):
        bd = b.data
        rb = b.requires_grad
    else:
        bd = b
        rb = False
    try:
        y = gate._forward(ad, bd)
    except ShapeError:
        raise
    except ValueError as e:
        raise _shape_error(gate, (a, b), e) from e
    if type(y) is not _ndarray:
        y = _as_output_array(gate, y)
    out = _new(Tensor)
    out.data = y
    out.grad = None
    out.name = None
    out._version = 0
    out._hooks = None
    if (ra or rb) and _GradMode.enabled:
        gate.inputs = (a, b)
        gate.needs = (ra, rb)
        gate.seq = next(_clock)
        if gate.saves_output:
            gate.out = weakref.ref(out)
        out.requires_grad = True
        out.creator = gate
    else:
        out.requires_grad = False
        out.creator = None
    return out


# ---------------------------------------------------------------------- factories
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           name: str | None = None) -> Tensor:
    """Make a tensor from a number, nested list or ndarray (see :class:`Tensor`)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor that shares memory with ``array`` (``cr.tensor`` copies; this does not)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    t = _wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], Iterable):
        return tuple(shape[0])
    return shape


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros; ``zeros(2, 3)`` and ``zeros((2, 3))`` both work."""
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype), requires_grad=requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape filled with ``fill_value``."""
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values, as ``np.arange``."""
    return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.zeros_like(_plain(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.ones_like(_plain(t), dtype=dtype), requires_grad=requires_grad)


def randn(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the library's generator (see ``cr.manual_seed``)."""
    from .random import get_rng
    data = get_rng().standard_normal(_shape_arg(shape)).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the library's generator."""
    from .random import get_rng
    data = get_rng().random(_shape_arg(shape)).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Number)


# ---------------------------------------------------------------------- operators
# The gates import this module, so the operator table is filled in after they exist.
from . import autograd as _autograd  # noqa: E402
from .ops.arithmetic import add, div, mul, neg, pow, sub  # noqa: E402
from .ops.elementwise import (  # noqa: E402
    abs,
    astype,
    clip,
    cos,
    exp,
    log,
    maximum,
    minimum,
    relu,
    sigmoid,
    sin,
    sqrt,
    tanh,
    where,
)
from .ops.linalg import matmul  # noqa: E402
from .ops.reduction import (  # noqa: E402
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    softmax,
    sum,
    var,
)
from .ops.shape import (  # noqa: E402
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    getitem,
    reshape,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
)


def _r(fn: Callable) -> Callable:
    def reflected(self: Tensor, other: Any) -> Tensor:
        return fn(other, self)
    reflected.__name__ = f"r{fn.__name__}"
    return reflected


def _compare(op: Callable) -> Callable:
    def method(self: Tensor, other: Any) -> Tensor:
        return _wrap(_asarray(op(self.data, _plain(other))))
    return method


def _reshape_method(self: Tensor, *shape: Any) -> Tensor:
    return reshape(self, _shape_arg(shape))


def _transpose_method(self: Tensor, *axes: Any) -> Tensor:
    axes = _shape_arg(axes)
    return transpose(self, axes if axes else None)


Tensor.__add__ = add
Tensor.__radd__ = _r(add)
Tensor.__sub__ = sub
Tensor.__rsub__ = _r(sub)
Tensor.__mul__ = mul
Tensor.__rmul__ = _r(mul)
Tensor.__truediv__ = div
Tensor.__rtruediv__ = _r(div)
Tensor.__pow__ = pow
Tensor.__rpow__ = _r(pow)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _r(matmul)
Tensor.__neg__ = neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = abs
Tensor.__getitem__ = getitem
Tensor.__lt__ = _compare(np.less)
Tensor.__le__ = _compare(np.less_equal)
Tensor.__gt__ = _compare(np.greater)
Tensor.__ge__ = _compare(np.greater_equal)
Tensor.__eq__ = _compare(np.equal)
Tensor.__ne__ = _compare(np.not_equal)
Tensor.exp = exp
Tensor.log = log
Tensor.sqrt = sqrt
Tensor.abs = abs
Tensor.sin = sin
Tensor.cos = cos
Tensor.tanh = tanh
Tensor.sigmoid = sigmoid
Tensor.relu = relu
Tensor.clip = clip
Tensor.sum = sum
Tensor.mean = mean
Tensor.var = var
Tensor.max = max
Tensor.min = min
Tensor.logsumexp = logsumexp
Tensor.softmax = softmax
Tensor.log_softmax = log_softmax
Tensor.matmul = matmul
Tensor.dot = matmul
Tensor.reshape = _reshape_method
Tensor.transpose = _transpose_method
Tensor.swapaxes = swapaxes
Tensor.broadcast_to = broadcast_to
Tensor.sum_to = sum_to
Tensor.expand_dims = expand_dims
Tensor.squeeze = squeeze
Tensor.flatten = flatten
Tensor.astype = astype
Tensor.maximum = maximum
Tensor.minimum = minimum

_UFUNCS: dict[Any, Callable] = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div,
    np.negative: neg, np.power: pow, np.exp: exp, np.log: log, np.sqrt: sqrt,
    np.absolute: abs, np.sin: sin, np.cos: cos, np.tanh: tanh, np.maximum: maximum,
    np.minimum: minimum, np.matmul: matmul,
    np.square: lambda x: mul(x, x),
    np.positive: lambda x: x,
}
# Ufuncs whose result carries no gradient (comparisons, predicates, piecewise constants).
_UFUNC_NO_GRAD = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.sign, np.logical_and, np.logical_or,
    np.logical_not, np.floor, np.ceil, np.rint, np.signbit,
}
_FUNCTIONS: dict[Any, Callable] = {
    np.where: where, np.sum: sum, np.mean: mean, np.var: var, np.max: max, np.amax: max,
    np.min: min, np.amin: min, np.reshape: reshape, np.transpose: transpose,
    np.broadcast_to: broadcast_to, np.expand_dims: expand_dims, np.squeeze: squeeze,
    np.concatenate: concatenate, np.stack: stack, np.clip: clip, np.swapaxes: swapaxes,
    np.matmul: matmul, np.dot: matmul,
}
_FUNCTIONS_NO_GRAD = {
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.shape, np.ndim, np.size,
    np.argmax, np.argmin, np.argsort, np.count_nonzero, np.zeros_like, np.ones_like,
    np.empty_like, np.full_like, np.result_type, np.may_share_memory, np.shares_memory,
    np.nonzero, np.all, np.any, np.iscomplexobj, np.isrealobj,
    np.copyto, np.sort, np.unique, np.array2string, np.array_repr,
}
