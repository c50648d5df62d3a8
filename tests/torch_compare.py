"""One comparison with PyTorch shared by the op, activation and loss oracle tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import chainrule as cr


def compare_with_torch(ours: Callable, theirs: Callable, arrays: list[np.ndarray], *,
                       second: bool = True, rtol: float = 1e-9) -> None:
    """Same values, same vector-Jacobian products and (when ``second``) the same second
    derivatives of every input, in float64, for ``ours`` (chainrule) and ``theirs``."""
    import torch

    rng = np.random.default_rng(5)
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(y.shape)
    gs = cr.grad(y, xs, grad_outputs=v, create_graph=True)
    tgs = torch.autograd.grad(ty, ts, grad_outputs=torch.tensor(v), create_graph=True)
    for g, tg in zip(gs, tgs):
        np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy(), rtol=rtol, atol=1e-11)
    if not second:
        return
    for k, (g, tg) in enumerate(zip(gs, tgs)):
        if not (g.requires_grad and tg.requires_grad):
            continue
        w = rng.standard_normal(g.shape)
        ggs = cr.grad(g, xs, grad_outputs=w, allow_unused=True, retain_graph=True)
        tggs = torch.autograd.grad(tg, ts, grad_outputs=torch.tensor(w), allow_unused=True,
                                   retain_graph=True)
        for a, b in zip(ggs, tggs):
            a = np.zeros(1) if a is None else a.detach().numpy()
            b = np.zeros(1) if b is None else b.detach().numpy()
            np.testing.assert_allclose(a, b, rtol=max(rtol, 1e-8), atol=1e-10,
                                       err_msg=f"second derivative through input {k}")
