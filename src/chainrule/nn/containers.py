"""Containers that register what they hold: ``ModuleList``, ``ModuleDict``,
``ParameterList``, ``ParameterDict`` (PyTorch's names and behaviour).

A plain Python list of layers assigned to a module attribute would hide them from
``parameters()``, ``state_dict()`` and optimizers; chainrule refuses that assignment
with an error naming these containers (PyTorch ignores it silently). The children are
registered under their position (``layers.0.weight``) or key (``heads.cls.weight``),
so ``state_dict`` keys are PyTorch's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._check import is_int
from .._tensor import Tensor
from .module import Module, Parameter

__all__ = ["ModuleDict", "ModuleList", "ParameterDict", "ParameterList"]


def _index(where: str, idx: Any, n: int) -> int:
    if not is_int(idx):
        raise TypeError(f"{where} indices must be integers or slices, not "
                        f"{type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{where} index {idx} is out of range for {n} entries")
    return int(idx) % n if n else 0


def _check_key(where: str, key: Any) -> str:
    if not isinstance(key, str) or not key or "." in key:
        raise KeyError(f"{where}: keys must be non-empty strings without dots, got "
                       f"{key!r}")
    return key


class ModuleList(Module):
    """A list of modules, each registered (``self.layers = nn.ModuleList([...])``).

    Indexing, slicing (a new ModuleList sharing the modules), ``len``, iteration,
    ``append``, ``extend``, ``insert`` and ``+=`` work as for a list. It has no
    ``forward``: iterate over it in your own module's ``forward``.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _check(self, m: Any, where: str) -> Module:
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList.{where}: expected an nn.Module, got a "
                            f"{type(m).__name__}")
        return m

    def _reset(self, mods: list[Module]) -> None:
        for k in list(self._modules):
            del self.__dict__[k]
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, idx: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            # Built without re-registering, so the modules keep their names.
            sub = ModuleList()
            for i, m in enumerate(mods[idx]):
                sub._modules[str(i)] = m
                sub.__dict__[str(i)] = m
            return sub
        return mods[_index("ModuleList", idx, len(mods))]

    def __setitem__(self, idx: int, module: Module) -> None:
        i = _index("ModuleList", idx, len(self))
        self.add_module(str(i), self._check(module, "__setitem__"))

    def __delitem__(self, idx: int | slice) -> None:
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            del mods[idx]
        else:
            del mods[_index("ModuleList", idx, len(mods))]
        self._reset(mods)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), self._check(module, "append"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end."""
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList,)):
            raise TypeError("ModuleList.extend: expected an iterable of modules, got a "
                            f"single {type(modules).__name__}; use append")
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        mods = list(self._modules.values())
        mods.insert(int(index), self._check(module, "insert"))
        self._reset(mods)


class ModuleDict(Module):
    """An ordered dict of modules, each registered under its key.

    ``d[key]``, ``d[key] = m``, ``del d[key]``, ``in``, ``len``, iteration over keys,
    ``keys()``, ``values()``, ``items()``, ``update()`` and ``pop()`` work as for a dict.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]
                 | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict has no module {key!r}; keys: "
                           f"{list(self._modules)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict[{key!r}]: expected an nn.Module, got a "
                            f"{type(module).__name__}")
        self.add_module(_check_key("ModuleDict", key), module)

    def __delitem__(self, key: str) -> None:
        self[key]  # the KeyError that lists the keys
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._modules)

    def values(self) -> list[Module]:
        """The modules, in insertion order."""
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        """``(key, module)`` pairs, in insertion order."""
        return list(self._modules.items())

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace entries from a mapping or from ``(key, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for k, m in pairs:
            self[k] = m

    def pop(self, key: str) -> Module:
        """Remove ``key`` and return its module."""
        m = self[key]
        del self[key]
        return m

    def clear(self) -> None:
        """Remove every entry."""
        for k in self.keys():
            del self[k]


class ParameterList(Module):
    """A list of parameters, each registered (named ``0``, ``1``, ...).

    Values that are not Parameters (arrays, tensors, lists of numbers) are wrapped in
    one, as PyTorch does. Indexing, ``len``, iteration, ``append`` and ``extend`` work.
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def __getitem__(self, idx: int | slice) -> Any:
        ps = list(self._parameters.values())
        if isinstance(idx, slice):
            # Built without re-registering, so the parameters keep their names.
            sub = ParameterList()
            for i, p in enumerate(ps[idx]):
                sub._parameters[str(i)] = p
                sub.__dict__[str(i)] = p
            return sub
        return ps[_index("ParameterList", idx, len(ps))]

    def __setitem__(self, idx: int, value: Any) -> None:
        i = _index("ParameterList", idx, len(self))
        setattr(self, str(i), _as_parameter(value))

    def append(self, value: Any) -> ParameterList:
        """Add ``value`` (wrapped in a Parameter if it is not one) at the end."""
        setattr(self, str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Append each of ``values``."""
        for v in list(values):
            self.append(v)
        return self

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter of shape {tuple(p.shape)} ({p.dtype})"
                         for i, p in enumerate(self))


class ParameterDict(Module):
    """An ordered dict of parameters, each registered under its key.

    Values that are not Parameters are wrapped in one. ``d[key]``, ``d[key] = v``,
    ``del``, ``in``, ``len``, iteration over keys, ``keys()``, ``values()``, ``items()``,
    ``update()`` and ``pop()`` work.
    """

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]
                 | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        try:
            return self._parameters[key]
        except KeyError:
            raise KeyError(f"ParameterDict has no parameter {key!r}; keys: "
                           f"{list(self._parameters)}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, _check_key("ParameterDict", key), _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        self[key]  # the KeyError that lists the keys
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def keys(self) -> list[str]:
        """The keys, in insertion order."""
        return list(self._parameters)

    def values(self) -> list[Parameter]:
        """The parameters, in insertion order."""
        return list(self._parameters.values())

    def items(self) -> list[tuple[str, Parameter]]:
        """``(key, parameter)`` pairs, in insertion order."""
        return list(self._parameters.items())

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add or replace entries from a mapping or from ``(key, value)`` pairs."""
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for k, v in pairs:
            self[k] = v

    def pop(self, key: str) -> Parameter:
        """Remove ``key`` and return its parameter."""
        p = self[key]
        del self[key]
        return p

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter of shape {tuple(p.shape)} ({p.dtype})"
                         for k, p in self.items())


def _as_parameter(value: Any) -> Parameter:
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.data)   # requires grad, as PyTorch's wrapping does
    return Parameter(value)
