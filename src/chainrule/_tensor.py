"""The Tensor: an ndarray that remembers which gate made it.

A :class:`Tensor` wraps a NumPy array (``.data``). When an operation runs on tensors
that require gradients, the engine (:mod:`chainrule.autograd`) calls the gate's
``forward`` on the plain arrays, wraps the result in a new tensor and links that tensor
to the gate (``.creator``); the gate links back to its input tensors. That chain of
links *is* the computational graph of the seed notes, recorded while the program runs
(define-by-run).

This module is the data type only: attributes, in-place updates (which stamp the memory
they change, for the engine's in-place check), the NumPy protocol entry points and the
factories. It knows no gate and no engine. The operators (``+ - * / ** @``), the
methods that run gates (``exp``, ``sum``, ``reshape``, ...) and the NumPy dispatch tables
(:data:`UFUNCS`, :data:`FUNCTIONS`) are attached from above when :mod:`chainrule.ops`
is imported (``ops/_bind.py``), and ``backward`` by :mod:`chainrule.autograd`.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import _config
from ._check import complex_grad_error
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
        Only real floating-point tensors can require gradients (complex tensors work
        without gradients: chainrule's autograd is real-valued).
    name:
        An optional label, shown by ``repr``, ``cr.explain`` and ``cr.viz``.
    """

    __slots__ = ("__weakref__", "_hooks", "creator", "data", "grad", "name", "requires_grad")

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
        """Clock tick of the last in-place change to this tensor's memory (0 if none).

        Read from the same stamps the engine checks, so a change through a view or
        ``detach()`` of the same memory counts too.
        """
        return stamp_of(self.data)

    @property
    def T(self) -> Tensor:
        """The transpose (axes reversed), like ``ndarray.T``."""
        return self.transpose()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if self.requires_grad and _GradMode.enabled:
            # np.asarray(t), np.array([t, u]), np.mean([t, u]), array[i] = t, and every
            # NumPy function without a gate land here: the result would silently lose
            # the gradient, so refuse, as PyTorch does.
            raise TypeError(
                f"cannot turn a tensor that requires grad (shape {self.data.shape}) into "
                f"a NumPy array: the gradient would be silently dropped. Use chainrule "
                f"functions (cr.stack([x, y]) for np.array([x, y]), cr.mean(cr.stack(...)) "
                f"for np.mean([x, y])), or detach it on purpose: x.detach().numpy() "
                f"or np.asarray(x.detach())")
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def numpy(self) -> np.ndarray:
        """The ndarray, shared (writes through it skip the in-place check unless
        ``t.mark_modified()`` follows); refused if ``t`` requires grad, as in PyTorch."""
        if self.requires_grad:
            raise RuntimeError("numpy(): cannot call numpy() on a tensor that requires "
                               "grad: writes through the array would bypass in-place "
                               "detection and the gradient would be dropped; use "
                               "t.detach().numpy() instead")
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

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor's value like a number."""
        if not spec:
            return str(self)
        if self.data.size != 1:
            raise TypeError(f"format spec {spec!r} needs a one-element tensor, this one has "
                            f"shape {self.data.shape}; format t.item() or t.tolist() items")
        return format(self.data.item(), spec)

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
            if kind == "c":
                raise complex_grad_error("requires_grad" if type(self) is Tensor else
                                         f"{type(self).__name__}", self.data.dtype)
            if kind != "f":
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
        t = wrap(self.data)
        t.name = self.name
        return t

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

    def mark_modified(self) -> None:
        """Record that ``.data`` was just modified in place, by code that wrote into it
        directly (an optimizer's NumPy update): backward through a gate that saved this
        memory before then raises ``InplaceModificationError`` instead of a wrong
        gradient. The tensor API's in-place methods call it themselves."""
        stamp_memory(self.data, next(_clock))

    def _inplace(self, what: str, ufunc: Any, other: Any) -> Tensor:
        """``self.data = ufunc(self.data, other)`` in its memory: NumPy's same_kind
        casting (never truncating, ``int_tensor += 0.5`` raises), the shape kept (a
        broadcast that would grow ``self`` raises), the memory stamped."""
        self._check_inplace(what)
        o = other.data if isinstance(other, Tensor) else other
        if not self.data.flags.writeable:
            raise ValueError(f"{what}: this tensor's memory is read-only; copy it first")
        try:
            ufunc(self.data, o, out=self.data, casting="same_kind")
        except TypeError as e:
            raise DtypeError(
                f"{what}: the result ({ufunc.__name__} of {self.data.dtype} and "
                f"{np.result_type(o)}) cannot be written into this {self.data.dtype} tensor "
                f"without changing its values ({e}); convert first: t.astype(...)") from e
        except ValueError as e:
            raise ShapeError(
                f"{what}: an in-place result keeps the shape {self.data.shape} of the "
                f"tensor written into, but the operand of shape {np.shape(o)} broadcasts "
                f"to another ({e}); compute out of place (t = t + other)") from e
        self.mark_modified()
        return self

    def _inplace_operator(self, other: Any, what: str, ufunc: Any, op: Callable) -> Tensor:
        if _GradMode.enabled and (self.requires_grad
                                  or (isinstance(other, Tensor) and other.requires_grad)):
            if self.creator is None and self.requires_grad:
                self._check_inplace(what)      # raises: a leaf that requires grad
            # In a recorded graph an in-place change cannot be recorded: the result is
            # recorded out of place and Python rebinds the name (t += u is t = t + u;
            # other references to the old tensor keep its value).
            return op(self, other)
        return self._inplace(what, ufunc, other)

    def __iadd__(self, other: Any) -> Tensor:
        """``t += u``: in place (no graph involved), see :meth:`_inplace_operator`."""
        return self._inplace_operator(other, "+=", np.add, operator.add)

    def __isub__(self, other: Any) -> Tensor:
        """``t -= u``: in place, so ``with cr.no_grad(): p -= lr * p.grad`` updates p."""
        return self._inplace_operator(other, "-=", np.subtract, operator.sub)

    def __imul__(self, other: Any) -> Tensor:
        """``t *= u``, in place as ``+=``."""
        return self._inplace_operator(other, "*=", np.multiply, operator.mul)

    def __itruediv__(self, other: Any) -> Tensor:
        """``t /= u``, in place as ``+=`` (an integer tensor refuses: float result)."""
        return self._inplace_operator(other, "/=", np.true_divide, operator.truediv)

    def __ipow__(self, other: Any) -> Tensor:
        """``t **= u``, in place as ``+=``."""
        return self._inplace_operator(other, "**=", np.power, operator.pow)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__")
        self.data[unwrap_index(index)] = value.data if isinstance(value, Tensor) else value
        self.mark_modified()

    def copy_(self, src: Any) -> Tensor:
        """Overwrite the values in place with ``src`` (broadcast to this shape)."""
        self._check_inplace("copy_")
        np.copyto(self.data, src.data if isinstance(src, Tensor) else src, casting="same_kind")
        self.mark_modified()
        return self

    def fill_(self, value: float) -> Tensor:
        """Set every element to ``value``, in place."""
        self._check_inplace("fill_")
        self.data.fill(value)
        self.mark_modified()
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self += alpha * other``, in place."""
        if alpha != 1.0:
            other = (other.data if isinstance(other, Tensor) else other) * alpha
        return self._inplace("add_", np.add, other)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        """``self -= alpha * other``, in place."""
        return self.add_(other, -alpha)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other``, in place."""
        return self._inplace("mul_", np.multiply, other)

    # ------------------------------------------------------------------ NumPy protocol
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        dtype = kwargs.pop("dtype", None) if method == "__call__" else None
        if method == "__call__" and not kwargs:
            fn = UFUNCS.get(ufunc)
            if fn is not None:
                res = fn(*inputs)
                return res if dtype is None else res.astype(dtype)
            if ufunc in UFUNC_NO_GRAD or not _any_requires_grad(inputs):
                res = ufunc(*[plain(x) for x in inputs], dtype=dtype)
                return wrap(_asarray(res)) if isinstance(res, (np.ndarray, np.generic)) \
                    else res
        extra = f" with {', '.join(kwargs)}" if kwargs else ""
        raise TypeError(
            f"np.{ufunc.__name__} (method {method!r}{extra}) has no chainrule gate, so it "
            f"cannot carry a gradient; use a chainrule function, or apply it to "
            f"t.detach().numpy()")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        fn = FUNCTIONS.get(func)
        if fn is not None:
            return fn(*args, **kwargs)
        if func in FUNCTIONS_NO_GRAD or not _any_requires_grad(args, kwargs):
            return func(*plain_tree(args), **plain_tree(kwargs))
        raise TypeError(
            f"np.{func.__name__} has no chainrule gate, so it cannot carry a gradient "
            f"for a tensor that requires grad; use a chainrule function, or apply it to "
            f"t.detach().numpy()")

    # The operators and the methods that run gates are attached by chainrule.ops
    # (ops/_bind.py), which imports this module; backward by chainrule.autograd.


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
    with _InplaceLog.lock:   # threads: a stamp never replaces a newer one, nor lowers `last`
        entry = _InplaceLog.stamps.get(key)
        if entry is None or entry[0]() is not owner:
            ref = weakref.ref(owner, lambda _r, key=key: _InplaceLog.stamps.pop(key, None))
        elif entry[1] > tick:
            return
        else:
            ref = entry[0]
        _InplaceLog.stamps[key] = (ref, tick)
        _InplaceLog.last = max(_InplaceLog.last, tick)


def stamp_of(a: np.ndarray) -> int:
    """Clock tick of the last in-place change to the memory under ``a`` (0 if none)."""
    owner = memory_owner(a)
    entry = _InplaceLog.stamps.get(id(owner))
    return entry[1] if entry is not None and entry[0]() is owner else 0


def modified_since(a: np.ndarray, tick: int) -> bool:
    """Whether the memory under ``a`` was modified in place after clock ``tick``."""
    return stamp_of(a) > tick


def wrap(data: np.ndarray) -> Tensor:
    """A new leaf Tensor around ``data`` (an ndarray), without copying or checks."""
    t = _new(Tensor)
    t.data = data
    t.grad = None
    t.requires_grad = False
    t.creator = None
    t.name = None
    t._hooks = None
    return t


def plain(x: Any) -> Any:
    """The array inside a Tensor; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


def plain_tree(x: Any) -> Any:
    """``plain`` applied through lists, tuples and dicts."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(plain_tree(v) for v in x)
    if isinstance(x, dict):
        return {k: plain_tree(v) for k, v in x.items()}
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


def unwrap_index(index: Any) -> Any:
    """An index with every Tensor in it replaced by its array."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


# ---------------------------------------------------------------------- factories
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False,
           name: str | None = None) -> Tensor:
    """Make a tensor from a number, nested list or ndarray (see :class:`Tensor`)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, name=name)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A tensor that shares memory with ``array`` (``cr.tensor`` copies; this does not)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    t = wrap(array)
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
    return Tensor(np.zeros_like(plain(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``t``."""
    return Tensor(np.ones_like(plain(t), dtype=dtype), requires_grad=requires_grad)


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


# ---------------------------------------------------------------------- NumPy dispatch
#: NumPy ufuncs and functions that run a gate, filled by ``chainrule.ops`` (ops/_bind.py).
UFUNCS: dict[Any, Callable] = {}
FUNCTIONS: dict[Any, Callable] = {}
#: Ufuncs and functions whose result carries no gradient (comparisons, predicates,
#: piecewise constants, shape queries): they run on the arrays and give a constant.
UFUNC_NO_GRAD = {
    np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal,
    np.isfinite, np.isnan, np.isinf, np.sign, np.logical_and, np.logical_or,
    np.logical_not, np.floor, np.ceil, np.rint, np.signbit,
}
FUNCTIONS_NO_GRAD = {
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.shape, np.ndim, np.size,
    np.argmax, np.argmin, np.argsort, np.count_nonzero, np.zeros_like, np.ones_like,
    np.empty_like, np.full_like, np.result_type, np.may_share_memory, np.shares_memory,
    np.nonzero, np.all, np.any, np.iscomplexobj, np.isrealobj,
    np.copyto, np.array2string, np.array_repr, np.searchsorted, np.isneginf, np.isposinf,
}
