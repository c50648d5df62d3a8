"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check_number

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's update rule.

    For each parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p                      (if weight_decay)
        b = g                                         (first step)
        b = momentum * b + (1 - dampening) * g        (later steps; if momentum)
        g = g + momentum * b  if nesterov  else  b    (if momentum)
        p = p - lr * g

    Plain SGD (``momentum=0``) is the seed notes' ``W -= lr * dW``. Momentum keeps a
    running "velocity" ``b`` per parameter (in ``state[p]["momentum_buffer"]``).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "nesterov": bool(nesterov), "weight_decay": weight_decay})

    def _check_hyper(self, group: Mapping[str, Any]) -> None:
        super()._check_hyper(group)
        name = type(self).__name__
        _check_number(name, "momentum", group["momentum"], lo=0.0)
        _check_number(name, "dampening", group["dampening"], lo=0.0)
        _check_number(name, "weight_decay", group["weight_decay"], lo=0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{name}: Nesterov momentum needs momentum > 0 and "
                             f"dampening = 0, got momentum={group['momentum']}, "
                             f"dampening={group['dampening']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = group["lr"]
        momentum = group["momentum"]
        dampening = group["dampening"]
        nesterov = group["nesterov"]
        wd = group["weight_decay"]
        # Temporaries are fresh arrays (see Optimizer._scratch for why).
        for p, d, g in self._with_grads(group):
            if wd:
                g = self._plus_weight_decay(d, g, wd)
            if momentum:
                st = self._state_for(p)
                mb = st.get("momentum_buffer")
                if mb is None:
                    mb = st["momentum_buffer"] = np.array(g, dtype=d.dtype, copy=True)
                else:
                    mb *= momentum
                    if dampening:
                        mb += np.multiply(g, 1.0 - dampening, dtype=d.dtype)
                    else:
                        mb += g
                g = np.multiply(mb, momentum, dtype=d.dtype) + g if nesterov else mb
            d -= np.multiply(g, lr, dtype=d.dtype)
            p.mark_modified()
