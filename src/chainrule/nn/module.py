"""``Module`` and ``Parameter``: the containers that layers, models and losses are made of.

A :class:`Module` holds :class:`Parameter` tensors (learned), *buffers* (state that is
not learned, such as BatchNorm's running statistics) and other modules, registered
automatically when assigned as attributes::

    class TwoLayerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 50)
            self.fc2 = nn.Linear(50, 10)

        def forward(self, x):
            return self.fc2(cr.relu(self.fc1(x)))

A module computes nothing of its own calculus: ``forward`` calls gates (``cr.affine``,
``cr.relu``...), and backward runs through those gates.

Names
-----
Every parameter gets a dotted name, relative to the outermost module it has been
assigned into (``fc1.weight``, ``layers.0.bias``). The same name is written into the
parameter's ``.name``, so ``repr``, ``cr.explain`` and ``cr.viz`` can label it (a name
you gave the parameter yourself, ``Parameter(..., name="W1")``, is kept). Models are
built bottom up, so assigning a module into a parent re-prefixes everything inside it.

Scopes
------
When a module is called while gradients are being recorded, the clock ticks of the
start and the end of its ``forward`` are logged with the module's qualified name
(``chainrule.scopes.record_scope``). Every gate takes a tick from the same clock, so
the gates created during the call are exactly those whose ``seq`` falls inside that
interval; ``chainrule.scopes.scope_resolver()`` maps a gate to the innermost such
module, and graph drawings cluster each layer's gates that way. The qualified name is
the module's dotted name inside its outermost module (``0``, ``layers.1``), or its class
name for the outermost module itself. It costs one append per call and nothing per
gate, and it survives backward. Set ``chainrule.nn.module.RECORD_SCOPES = False`` to
skip it; nothing is logged under ``cr.no_grad()``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from .. import _config
from .._check import check_device, is_device
from .._tensor import Tensor, from_numpy
from ..autograd import no_grad
from ..errors import DtypeError
from ..scopes import record_scope
from ..serialization import CheckpointError, StateDictKeys, check_state_dict
from .hooks import RemovableHandle, add_hook, call_with_hooks
from .torch_weights import refuse_torch_layout, torch_layout_hint

__all__ = ["RECORD_SCOPES", "Module", "Parameter", "current_scope"]

_GradMode = _config.GradMode
_clock = _config.clock

#: Log each module call's interval of clock ticks with its qualified name, so drawings
#: can cluster a layer's gates (``chainrule.scopes``). Read at every call, so it can be
#: switched at any time.
RECORD_SCOPES: bool = True



class _ScopeStack(threading.local):
    """The names of the modules whose ``forward`` is running, per thread."""

    def __init__(self) -> None:
        self.names: list[str] = []


_SCOPE_STACK = _ScopeStack()


def current_scope() -> str | None:
    """Qualified name of the innermost module whose ``forward`` is running, if any.

    Only maintained while gradients are recorded and :data:`RECORD_SCOPES` is true
    (exactly when module calls are logged as scopes); returns ``None`` otherwise.
    """
    names = _SCOPE_STACK.names
    return names[-1] if names else None


def _join(prefix: str, name: str) -> str:
    if not prefix:
        return name
    if not name:
        return prefix
    return prefix + "." + name


class Parameter(Tensor):
    """A tensor that is a learned parameter of a :class:`Module`.

    It is an ordinary :class:`~chainrule.Tensor` (every operation works on it) that
    requires grad by default; assigning one as a module attribute registers it, so it
    shows up in ``parameters()``, ``state_dict()`` and optimizers. The values are
    copied from ``data``.
    """

    __slots__ = ("_auto_name",)

    def __init__(self, data: Any, requires_grad: bool = True, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(data, dtype=dtype, requires_grad=requires_grad, name=name)
        self._auto_name = name is None

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()



def _set_param_name(p: Parameter, name: str) -> None:
    if p.name is None or getattr(p, "_auto_name", False):
        p.name = name
        p._auto_name = True


def _refuse_plain_container(owner: Any, name: str, value: Any) -> None:
    """A list/tuple/dict holding modules or parameters not registered otherwise would
    hide them from parameters(), state_dict() and optimizers: refuse it."""
    items = list(value.values()) if isinstance(value, dict) else list(value)
    has_mod = any(isinstance(v, Module) for v in items)
    has_par = any(isinstance(v, Parameter) for v in items)
    if not (has_mod or has_par):
        return
    # Aliases of what is already registered (a dict of the book's names) lose nothing.
    known = {id(m) for m in owner.modules()} | {id(p) for p in owner.parameters()}
    if all(id(v) in known for v in items if isinstance(v, (Module, Parameter))):
        return
    kind = type(value).__name__
    if isinstance(value, dict):
        fix = "nn.ModuleDict" if has_mod else "nn.ParameterDict"
    else:
        fix = "nn.ModuleList" if has_mod else "nn.ParameterList"
    what = "modules" if has_mod else "parameters"
    raise TypeError(
        f"{type(owner).__name__}.{name}: a plain {kind} of {what} would not be registered "
        f"(their parameters would be missing from parameters(), state_dict() and the "
        f"optimizer); wrap it: self.{name} = {fix}(...)")


class Module:
    """Base class of every layer, loss and model.

    Subclasses call ``super().__init__()`` first, assign parameters (:class:`Parameter`)
    and submodules as attributes, and define ``forward``. Calling the module calls
    ``forward``. See the module documentation for how names and scopes are assigned.
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_modules"] = {}
        d["_prefix"] = ""
        d["_forward_pre_hooks"] = {}
        d["_forward_hooks"] = {}
        d["_backward_hooks"] = {}

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward(); "
                                  f"subclasses of nn.Module must implement it")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d.get("_forward_pre_hooks") or d.get("_forward_hooks") or d.get("_backward_hooks"):
            return call_with_hooks(self, args, kwargs, self._scoped_call)
        return self._scoped_call(args, kwargs)

    def _scoped_call(self, args: tuple, kwargs: dict) -> Any:
        if not RECORD_SCOPES or not _GradMode.enabled:
            return self.forward(*args, **kwargs)
        scope = self.__dict__.get("_prefix") or type(self).__name__
        start = next(_clock)
        names = _SCOPE_STACK.names
        names.append(scope)
        try:
            out = self.forward(*args, **kwargs)
        finally:
            names.pop()
        record_scope(start, next(_clock), scope)
        return out

    # ------------------------------------------------------------------ hooks
    def _hook_registry(self, kind: str) -> dict:
        return self.__dict__.setdefault(kind, {})

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` before each ``forward``; a returned value (a
        tuple, or one value) replaces the positional arguments. See :mod:`.hooks`."""
        return add_hook(self._hook_registry("_forward_pre_hooks"), hook,
                        f"{type(self).__name__}.register_forward_pre_hook", prepend,
                        with_kwargs)

    def register_forward_hook(self, hook: Callable[..., Any], *, prepend: bool = False,
                              with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each ``forward``; a returned value
        replaces the output. See :mod:`.hooks`."""
        return add_hook(self._hook_registry("_forward_hooks"), hook,
                        f"{type(self).__name__}.register_forward_hook", prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable[..., Any], *,
                                    prepend: bool = False) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` during backward, once the
        gradients of this call's inputs are known (PyTorch's signature; see
        :mod:`.hooks` for what may be returned)."""
        return add_hook(self._hook_registry("_backward_hooks"), hook,
                        f"{type(self).__name__}.register_full_backward_hook", prepend)

    # ------------------------------------------------------------------ registration
    def _registry(self, what: str) -> dict:
        try:
            return self.__dict__["_" + what]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__}: cannot register a {what[:-1]} before "
                f"Module.__init__() has run; call super().__init__() first in "
                f"{type(self).__name__}.__init__") from None

    def _forget(self, name: str) -> None:
        for reg in ("_parameters", "_buffers", "_modules"):
            self.__dict__.get(reg, {}).pop(name, None)

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            params = self._registry("parameters")
            self._forget(name)
            params[name] = value
            d[name] = value
            _set_param_name(value, _join(d["_prefix"], name))
            return
        if isinstance(value, (list, tuple, dict)) and type(value) in (list, tuple, dict):
            _refuse_plain_container(self, name, value)
        if isinstance(value, Module):
            mods = self._registry("modules")
            self._forget(name)
            mods[name] = value
            d[name] = value
            value._set_prefix(_join(d["_prefix"], name))
            return
        params = d.get("_parameters")
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign an "
                                f"nn.Parameter (or None), not a {type(value).__name__}")
            params[name] = None
            d[name] = None
            return
        mods = d.get("_modules")
        if mods is not None and name in mods:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a submodule: assign an "
                                f"nn.Module (or None), not a {type(value).__name__}")
            mods[name] = None
            d[name] = None
            return
        bufs = d.get("_buffers")
        if bufs is not None and name in bufs:
            value = self._as_buffer(name, value)
            bufs[name] = value
            d[name] = value
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _as_buffer(self, name: str, value: Any) -> Tensor | None:
        if value is None or isinstance(value, Tensor):
            return value
        if isinstance(value, np.ndarray):
            return from_numpy(value)
        raise TypeError(f"{type(self).__name__}: buffer {name!r} must be a Tensor, an "
                        f"ndarray or None, not a {type(value).__name__}")

    def _set_prefix(self, prefix: str) -> None:
        for rel, m in self.named_modules():
            mp = _join(prefix, rel)
            m.__dict__["_prefix"] = mp
            for pname, p in m._parameters.items():
                if p is not None:
                    _set_param_name(p, _join(mp, pname))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a placeholder ``None``, e.g. for an absent bias)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_parameter: invalid name {name!r} (a non-empty string "
                           f"without dots is needed)")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None, "
                            f"not a {type(param).__name__}")
        params = self._registry("parameters")
        if param is None:
            self._forget(name)
            params[name] = None
            self.__dict__[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, value: Any) -> None:
        """Register state that is saved in ``state_dict`` but not learned.

        ``value`` is a Tensor, an ndarray (wrapped without copying) or ``None``. Assign
        to the attribute later to replace it.
        """
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: invalid name {name!r} (a non-empty string "
                           f"without dots is needed)")
        bufs = self._registry("buffers")
        value = self._as_buffer(name, value)
        self._forget(name)
        bufs[name] = value
        self.__dict__[name] = value

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (same as assigning the attribute)."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"add_module: invalid name {name!r} (a non-empty string "
                           f"without dots is needed)")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be an nn.Module or None, "
                            f"not a {type(module).__name__}")
        if module is None:
            self._registry("modules")[name] = None
            self.__dict__[name] = None
        else:
            setattr(self, name, module)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``prefix``) and every
        descendant, depth first, each module once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            kids = [(_join(name, k), c) for k, c in m._modules.items() if c is not None]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for each direct child."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct children."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, kind: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, m in mods:
            for k, v in m.__dict__[kind].items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield _join(mname, k), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs, e.g. ``("layers.0.weight", p)``.

        A parameter shared by several modules is listed once (unless
        ``remove_duplicate=False``). A parameter without a ``.name`` gets this one.
        """
        for name, p in self._named_members("_parameters", prefix, recurse, remove_duplicate):
            if p.name is None:
                _set_param_name(p, name)
            yield name, p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter (each once), in registration order; what optimizers take."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs (e.g. ``bn.running_mean``)."""
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(m)`` on every descendant, then on this module (e.g. custom init)."""
        mods = [m for _, m in self.named_modules()]
        for m in reversed(mods):
            fn(m)
        return self

    # ------------------------------------------------------------------ modes, grads
    def train(self, mode: bool = True) -> Module:
        """Put this module and all its descendants in training mode (or eval if False)."""
        mode = bool(mode)
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout is the identity, BatchNorm uses running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (``.grad = None``, or zeros in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.data.fill(0)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradient tracking on or off for every parameter (freezing a model)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Convert every floating-point parameter and buffer to ``dtype``, in place.

        ``model.to(np.float64)``, ``model.to("float64")``, ``model.to(dtype=...)``.
        A device is accepted for PyTorch code: ``"cpu"`` (or ``torch.device("cpu")``)
        changes nothing, since chainrule computes with NumPy on the CPU; any other
        device (``"cuda"``, ``"mps"``) is an error. Gradients are dropped. Convert before
        creating an optimizer (its state has the parameters' old dtype).
        """
        where = f"{type(self).__name__}.to"
        if len(args) > 2:
            raise TypeError(f"{where}: expected at most a device and a dtype, got "
                            f"{len(args)} arguments")
        for a in args:
            if is_device(a):
                if device is not None:
                    raise TypeError(f"{where}: the device is given twice")
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise TypeError(f"{where}: the dtype is given twice ({dtype!r}, {a!r})")
        if device is not None:
            check_device(device, where)
        if dtype is None:
            return self
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"{where}: {dtype!r} is neither a dtype (np.float32, "
                            f"'float64') nor a device ('cpu')") from None
        if dt.kind != "f":
            raise DtypeError(f"{where}: parameters need a floating-point "
                             f"dtype, got {dt}")
        for _, t in [*self.named_parameters(), *self.named_buffers()]:
            if t.data.dtype.kind == "f" and t.data.dtype != dt:
                t.data = t.data.astype(dt)
                t.grad = None
                t.mark_modified()
        return self

    def float(self) -> Module:
        """Convert parameters and buffers to float32 (the default of the layers)."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Convert parameters and buffers to float64 (what gradient checking needs)."""
        return self.to(np.float64)

    # ------------------------------------------------------------------ state
    def _state_items(self) -> list[tuple[str, Tensor]]:
        out = []
        for mname, m in self.named_modules():
            for k, p in m._parameters.items():
                if p is not None:
                    out.append((_join(mname, k), p))
            for k, b in m._buffers.items():
                if b is not None:
                    out.append((_join(mname, k), b))
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{dotted name: ndarray}`` for every parameter and buffer, as copies.

        Parameters and buffers of each module come first, then its children's, in the
        order they were registered. ``cr.save(model.state_dict(), path)`` stores it.
        """
        return {name: np.array(t.data, copy=True) for name, t in self._state_items()}

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> StateDictKeys:
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        Names and shapes are validated before anything is written: with ``strict``
        (default) missing and unexpected names are errors too; otherwise they are
        skipped and returned. Values are cast to each parameter's dtype (e.g. a float64
        checkpoint into a float32 model); a cast that would change the kind (float into
        an integer buffer) is an error.

        Returns
        -------
        StateDictKeys
            ``(missing_keys, unexpected_keys)``.

        Raises
        ------
        chainrule.serialization.CheckpointError
            (a ``ValueError``) listing every missing, unexpected and mismatched entry.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{type(self).__name__}.load_state_dict: expected a mapping of "
                            f"names to arrays, got {type(state_dict).__name__}")
        refuse_torch_layout(self, state_dict)
        items = self._state_items()
        targets = dict(items)
        try:
            result = check_state_dict(targets, state_dict, strict=strict,
                                      what=f"state dict given to {type(self).__name__}")
        except CheckpointError as e:
            hint = torch_layout_hint(self, state_dict)
            raise (CheckpointError(f"{e}\n{hint}") if hint else e) from None
        plan = []
        bad = []
        for name, t in items:
            if name not in state_dict:
                continue
            v = state_dict[name]
            arr = np.asarray(v.data if isinstance(v, Tensor) else v)
            if not np.can_cast(arr.dtype, t.data.dtype, casting="same_kind"):
                bad.append(f"    {name!r}: cannot cast {arr.dtype} to {t.data.dtype}")
            plan.append((t, arr))
        if bad:
            raise CheckpointError(f"state dict given to {type(self).__name__} does not match "
                                  f"the model:\n  dtype mismatches ({len(bad)}):\n"
                                  + "\n".join(bad))
        with no_grad():
            for t, arr in plan:
                if t.data.flags.writeable:
                    np.copyto(t.data, arr, casting="same_kind")
                else:
                    t.data = arr.astype(t.data.dtype, copy=True)
                t.mark_modified()
        return result

    def summary(self, *inputs: Any, **kwargs: Any) -> Any:
        """Layers, output shapes (when given an example input) and parameter counts;
        ``print(model.summary(x))``. See :func:`chainrule.nn.summary.summary`."""
        from .summary import summary
        return summary(self, *inputs, **kwargs)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        head = type(self).__name__ + "("
        if not lines:
            return head + extra + ")"
        parts = ([extra] if extra else []) + lines
        return head + "\n  " + "\n  ".join(parts) + "\n)"
