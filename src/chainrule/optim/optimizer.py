"""The optimizer base class: parameter groups, zero_grad, step, state dicts.

An optimizer holds the parameters it updates in *parameter groups*: dicts with a
``"params"`` list and the hyperparameters for those parameters (``lr``, ...), so that
different parts of a model can use different settings::

    opt = cr.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                        {"params": model[2].parameters()}], lr=0.01, momentum=0.9)

``step()`` applies one update to every parameter that has a gradient. Updates happen
in place on the parameters' arrays (the graph records nothing) and bump each
parameter's version, so a backward through a graph built *before* the update raises
``InplaceModificationError`` instead of silently using the new values.

``state_dict()`` returns plain nested dicts and lists of numbers and ndarrays (copies),
which ``cr.save`` stores; ``load_state_dict`` restores it into an optimizer built for the
same parameters. Per-parameter state is keyed by the parameter's position across the
groups (0, 1, ...), as in PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..autograd import enable_grad
from ..errors import DtypeError

__all__ = ["Optimizer"]


class Optimizer:
    """Base class of the optimizers; subclasses implement :meth:`_update_group`.

    Parameters
    ----------
    params:
        An iterable of tensors (e.g. ``model.parameters()``), or of dicts defining
        parameter groups (each with a ``"params"`` entry and optional hyperparameters).
    defaults:
        Hyperparameters used by every group that does not set its own.
    """

    def __init__(self, params: Iterable[Any], defaults: Mapping[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors "
                            f"(e.g. model.parameters() or [w, b]), not a single Tensor")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass "
                             f"model.parameters() (does the model have any parameters?)")
        if not isinstance(groups[0], Mapping):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------------ groups
    def _check_hyper(self, group: Mapping[str, Any]) -> None:
        """Validate a group's hyperparameters (subclasses extend this)."""
        _check_number(type(self).__name__, "learning rate", group.get("lr"), lo=0.0)

    def add_param_group(self, param_group: Mapping[str, Any]) -> None:
        """Add a group of parameters (with optional hyperparameters of its own)."""
        if not isinstance(param_group, Mapping):
            raise TypeError(f"{type(self).__name__}.add_param_group: a parameter group is a "
                            f"dict with a 'params' entry, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{type(self).__name__}.add_param_group: the group has no "
                             f"'params' entry")
        group = dict(param_group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for i, p in enumerate(ps):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} of a group is a "
                                f"{type(p).__name__}; optimizers update Tensors only")
            if not p.is_leaf:
                raise ValueError(f"{type(self).__name__}: parameter {i} of a group "
                                 f"(shape {p.shape}) is not a leaf tensor (it was computed "
                                 f"by a gate); optimize the leaves it was computed from")
            if p.data.dtype.kind != "f":
                raise DtypeError(f"{type(self).__name__}: parameter {i} has dtype "
                                 f"{p.data.dtype}; only floating-point tensors can be "
                                 f"optimized")
        ids = {id(p) for p in ps}
        if len(ids) != len(ps):
            raise ValueError(f"{type(self).__name__}: a parameter group lists the same "
                             f"tensor twice")
        for g in self.param_groups:
            if any(id(p) in ids for p in g["params"]):
                raise ValueError(f"{type(self).__name__}: some parameters appear in more "
                                 f"than one parameter group")
        group["params"] = ps
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self._check_hyper(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``.grad = None`` (default) or zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.data.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, once.

        ``closure``, if given, is called first (with gradient recording on) and should
        zero the gradients, recompute the loss, call ``backward`` and return the loss;
        its result is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} does not implement an update")

    def _scratch(self, like: np.ndarray) -> np.ndarray:
        """A work array of ``like``'s shape and dtype, fresh for each parameter.

        Fresh rather than a buffer kept between steps: in whole training steps, with the
        implementations' order shuffled round by round, a kept buffer, a fresh array and
        a small cache-sized buffer used block by block measured the same (within 1%);
        the fresh array is the simplest. What does cost is keeping ``.grad`` intact
        (about 2% of the MLP step against overwriting it, as hand-written NumPy does).
        """
        return np.empty(like.shape, like.dtype)

    def _with_grads(self, group: dict[str, Any]) -> Iterator[tuple[Tensor, np.ndarray,
                                                                   np.ndarray]]:
        """``(param, param.data, grad array)`` for each parameter of ``group`` that has a
        gradient, after checking the gradient has the parameter's shape."""
        for p in group["params"]:
            gt = p.grad
            if gt is None:
                continue
            d = p.data
            g = gt.data
            if g.shape != d.shape:
                _check_grad(self, p, g)
            yield p, d, g

    def _plus_weight_decay(self, d: np.ndarray, g: np.ndarray, wd: float) -> np.ndarray:
        """``g + wd * d`` in a work array (``.grad`` itself is left untouched)."""
        buf = self._scratch(d)
        np.multiply(d, wd, out=buf)
        np.add(buf, g, out=buf)
        return buf

    def _state_for(self, p: Tensor) -> dict[str, Any]:
        st = self.state.get(p)
        if st is None:
            st = self.state[p] = {}
        return st

    # ------------------------------------------------------------------ state dicts
    def _index(self) -> dict[int, int]:
        index: dict[int, int] = {}
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
        return index

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Arrays are copies, so the snapshot does not change as training goes on.
        """
        index = self._index()
        groups = []
        for group in self.param_groups:
            g = {k: (list(v) if isinstance(v, list) else v)
                 for k, v in group.items() if k != "params"}
            g["params"] = [index[id(p)] for p in group["params"]]
            groups.append(g)
        state: dict[int, dict[str, Any]] = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {
                        k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                        for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (e.g. after ``cr.load``).

        The optimizer must have been built for the same parameters in the same groups.
        Everything is validated before anything changes: the number of groups and of
        parameters per group, and the shape of every saved array.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict \
                or "state" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups' (from Optimizer.state_dict())")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has "
                             f"{len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (sg, g) in enumerate(zip(saved_groups, self.param_groups)):
            saved_ids = list(sg.get("params", []))
            if len(saved_ids) != len(g["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(g['params'])} parameters but the saved group has "
                                 f"{len(saved_ids)}")
            for sid, p in zip(saved_ids, g["params"]):
                by_index[int(sid)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, st in dict(state_dict["state"]).items():
            k = int(key)
            if k not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, which "
                                 f"no saved group lists")
            p = by_index[k]
            entry: dict[str, Any] = {}
            for sk, v in dict(st).items():
                if isinstance(v, Tensor):
                    v = v.data
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state {sk!r} of parameter "
                                         f"{k} has shape {v.shape}, but the parameter has "
                                         f"shape {p.shape}")
                    dt = p.data.dtype if v.dtype.kind == "f" else v.dtype
                    v = np.array(v, dtype=dt, copy=True)
                elif isinstance(v, (np.ndarray, np.generic)):
                    v = v.item()
                entry[sk] = v
            new_state[p] = entry
        groups = []
        for sg, g in zip(saved_groups, self.param_groups):
            ng = dict(g)
            for k, v in sg.items():
                if k == "params":
                    continue
                if isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0:
                    v = v.item()
                if isinstance(self.defaults.get(k), tuple) and isinstance(v, (list, tuple)):
                    v = tuple(v)
                ng[k] = v
            self._check_hyper(ng)
            groups.append(ng)
        for g, ng in zip(self.param_groups, groups):
            g.clear()
            g.update(ng)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        lines.append(")")
        return "\n".join(lines)


def _check_number(where: str, what: str, v: Any, lo: float | None = None,
                  hi: float | None = None, lo_open: bool = False, hi_open: bool = False
                  ) -> None:
    """Raise a clear ValueError unless ``v`` is a finite number in the given range."""
    ok = not isinstance(v, bool) and isinstance(v, (int, float, np.integer, np.floating)) \
        and math.isfinite(v)
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        lo_s = "" if lo is None else f"{'>' if lo_open else '>='} {lo}"
        hi_s = "" if hi is None else f"{'<' if hi_open else '<='} {hi}"
        rng = " and ".join(s for s in (lo_s, hi_s) if s)
        raise ValueError(f"{where}: invalid {what} {v!r}; it must be a finite number"
                         + (f" {rng}" if rng else ""))


def _check_grad(opt: Optimizer, p: Tensor, g: np.ndarray) -> None:
    """Raise if a gradient does not have its parameter's shape."""
    from ..errors import ShapeError
    label = f" {p.name!r}" if p.name else ""
    raise ShapeError(f"{type(opt).__name__}.step: the gradient of parameter{label} has shape "
                     f"{g.shape} but the parameter has shape {p.shape}; a gradient set by "
                     f"hand must have its parameter's shape")
