"""Optimizers with per-parameter adaptive step sizes: Adagrad, RMSprop, Adam, AdamW.

Each follows PyTorch's update rule exactly (same defaults, same order of operations),
works in place on the parameter's array in the parameter's dtype, and keeps its
running averages in ``state[p]`` (plus a ``"step"`` count), which ``state_dict``
exports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check_number

__all__ = ["Adagrad", "Adam", "AdamW", "RMSprop"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011): divide each step by the root of the summed squares.

    ::

        g = g + weight_decay * p                      (if weight_decay)
        h = h + g * g                                 (h starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(h) + eps),   lr_t = lr / (1 + (t - 1) * lr_decay)

    Parameters that received large gradients get smaller steps. ``state[p]["sum"]`` is h.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps})

    def _check_hyper(self, group: Mapping[str, Any]) -> None:
        super()._check_hyper(group)
        name = type(self).__name__
        _check_number(name, "lr_decay", group["lr_decay"], lo=0.0)
        _check_number(name, "weight_decay", group["weight_decay"], lo=0.0)
        _check_number(name, "initial_accumulator_value", group["initial_accumulator_value"],
                      lo=0.0)
        _check_number(name, "eps", group["eps"], lo=0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        wd = group["weight_decay"]
        scratch = self._scratch
        for p, d, g in self._with_grads(group):
            st = self._state_for(p)
            if not st:
                st["step"] = 0
                st["sum"] = np.full_like(d, group["initial_accumulator_value"])
            st["step"] += 1
            if wd:
                g = self._plus_weight_decay(d, g, wd)
            clr = lr / (1 + (st["step"] - 1) * lr_decay)
            h = st["sum"]
            tmp = scratch(d)
            np.multiply(g, g, out=tmp)
            h += tmp
            np.sqrt(h, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            tmp *= -clr
            d += tmp
            p.mark_modified()


class RMSprop(Optimizer):
    """RMSprop (Hinton): divide by a running root-mean-square of recent gradients.

    ::

        g = g + weight_decay * p                      (if weight_decay)
        v = alpha * v + (1 - alpha) * g * g
        a = alpha * a + (1 - alpha) * g;  d = sqrt(v - a * a) + eps   (if centered)
        d = sqrt(v) + eps                                             (otherwise)
        b = momentum * b + g / d;  p = p - lr * b                     (if momentum)
        p = p - lr * g / d                                            (otherwise)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": bool(centered)})

    def _check_hyper(self, group: Mapping[str, Any]) -> None:
        super()._check_hyper(group)
        name = type(self).__name__
        _check_number(name, "alpha", group["alpha"], lo=0.0, hi=1.0)
        _check_number(name, "eps", group["eps"], lo=0.0)
        _check_number(name, "weight_decay", group["weight_decay"], lo=0.0)
        _check_number(name, "momentum", group["momentum"], lo=0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        scratch = self._scratch
        for p, d, g in self._with_grads(group):
            st = self._state_for(p)
            if not st:
                st["step"] = 0
                st["square_avg"] = np.zeros_like(d)
                if momentum > 0:
                    st["momentum_buffer"] = np.zeros_like(d)
                if centered:
                    st["grad_avg"] = np.zeros_like(d)
            st["step"] += 1
            if wd:
                g = self._plus_weight_decay(d, g, wd)
            tmp = scratch(d)
            v = st["square_avg"]
            v *= alpha
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - alpha
            v += tmp
            if centered:
                a = st.get("grad_avg")
                if a is None:
                    a = st["grad_avg"] = np.zeros_like(d)
                np.subtract(g, a, out=tmp)
                tmp *= 1.0 - alpha
                a += tmp
                np.multiply(a, a, out=tmp)
                np.subtract(v, tmp, out=tmp)
                np.sqrt(tmp, out=tmp)
            else:
                np.sqrt(v, out=tmp)
            tmp += eps
            if momentum > 0:
                b = st.get("momentum_buffer")
                if b is None:
                    b = st["momentum_buffer"] = np.zeros_like(d)
                b *= momentum
                np.divide(g, tmp, out=tmp)
                b += tmp
                np.multiply(b, -lr, out=tmp)
            else:
                np.divide(g, tmp, out=tmp)
                tmp *= -lr
            d += tmp
            p.mark_modified()


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015): momentum and RMSprop, with bias correction.

    ::

        g = g + weight_decay * p              (if weight_decay: L2 added to the gradient)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                 (if amsgrad; then used in place of v)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``state[p]`` holds ``step`` (t), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with
    ``amsgrad``, ``max_exp_avg_sq``.
    """

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": bool(amsgrad)})

    def _check_hyper(self, group: Mapping[str, Any]) -> None:
        super()._check_hyper(group)
        name = type(self).__name__
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_number(name, "beta1", betas[0], lo=0.0, hi=1.0, hi_open=True)
        _check_number(name, "beta2", betas[1], lo=0.0, hi=1.0, hi_open=True)
        _check_number(name, "eps", group["eps"], lo=0.0)
        _check_number(name, "weight_decay", group["weight_decay"], lo=0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd, amsgrad = group["lr"], group["eps"], group["weight_decay"], group["amsgrad"]
        beta1, beta2 = group["betas"]
        decoupled = self._decoupled
        scratch = self._scratch
        for p, d, g in self._with_grads(group):
            st = self._state_for(p)
            if not st:
                st["step"] = 0
                st["exp_avg"] = np.zeros_like(d)
                st["exp_avg_sq"] = np.zeros_like(d)
                if amsgrad:
                    st["max_exp_avg_sq"] = np.zeros_like(d)
            step = st["step"] = st["step"] + 1
            if wd:
                if decoupled:
                    d *= 1.0 - lr * wd
                else:
                    g = self._plus_weight_decay(d, g, wd)
            m, v = st["exp_avg"], st["exp_avg_sq"]
            tmp = scratch(d)
            np.subtract(g, m, out=tmp)          # m = lerp(m, g, 1 - beta1)
            tmp *= 1.0 - beta1
            m += tmp
            v *= beta2                           # v = beta2 v + (1 - beta2) g^2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - beta2
            v += tmp
            if amsgrad:
                vmax = st.get("max_exp_avg_sq")
                if vmax is None:
                    vmax = st["max_exp_avg_sq"] = np.zeros_like(d)
                np.maximum(vmax, v, out=vmax)
                v = vmax
            step_size = lr / (1.0 - beta1 ** step)
            bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
            np.sqrt(v, out=tmp)                  # denominator sqrt(v) / sqrt(bc2) + eps
            tmp /= bc2_sqrt
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= -step_size
            d += tmp
            p.mark_modified()


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Instead of adding ``weight_decay * p`` to the gradient (which Adam's scaling then
    distorts), the parameter itself shrinks first: ``p = p * (1 - lr * weight_decay)``;
    then the Adam step. Default ``weight_decay`` is 1e-2, as in PyTorch.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
