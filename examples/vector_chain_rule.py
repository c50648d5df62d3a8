"""The vector chain rule of seed note 003, with every Jacobian computed and composed.

x = s ⊙ t (Hadamard product), y = s - t and z = "the mean of x and y", which we read,
as in chain_rule_st.py, as z = (1/n) Σ_i (x_i + y_i), for n = 3, s = (1, 2, 3) and
t = (4, 5, 6). The seed note's point: dz/ds is a 1 x n row, and Jacobian shapes
compose, (m, n) · (n, o) = (m, p).

Each stage's Jacobian comes from ``cr.jacobian``; their matrix products give
dz/ds = dz/dx · dx/ds + dz/dy · dy/ds (and the same for t), which must equal what
backprop gives in one backward pass. Exact values: dz/ds = (t + 1)/n = (5/3, 2, 7/3)
and dz/dt = (s - 1)/n = (0, 1/3, 2/3).

Run: ``python examples/vector_chain_rule.py``
"""

from __future__ import annotations

import _seedprint as sp
import numpy as np

import chainrule as cr

S = np.array([1.0, 2.0, 3.0])
T = np.array([4.0, 5.0, 6.0])
N = S.size


def stage1(s: cr.Tensor, t: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
    return s * t, s - t                       # x = s ⊙ t, y = s - t


def stage2(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
    return cr.sum(x + y) / N                  # z = (1/n) Σ (x_i + y_i)


def show(name: str, j: np.ndarray) -> None:
    rows = np.array2string(j, precision=4, suppress_small=True, separator=", ")
    print(f"  {name}: shape {j.shape}")
    print("    " + rows.replace("\n", "\n    "))


def main() -> None:
    sp.title("The vector chain rule: Jacobians per stage, composed", "seed note 003")
    print(f"s = {S.tolist()}, t = {T.tolist()}, n = {N}")
    print()

    print("1. Stage Jacobians (cr.jacobian):")
    (dx_ds, dx_dt), (dy_ds, dy_dt) = cr.jacobian(stage1, S, T)
    x, y = S * T, S - T
    dz_dx, dz_dy = cr.jacobian(stage2, x, y)
    # z is a scalar: its Jacobian is a row, shape (1, n) as the note writes it.
    dz_dx = dz_dx.detach().numpy().reshape(1, N)
    dz_dy = dz_dy.detach().numpy().reshape(1, N)
    for name, j in (("dx/ds = diag(t)", dx_ds.detach().numpy()),
                    ("dx/dt = diag(s)", dx_dt.detach().numpy()),
                    ("dy/ds = I", dy_ds.detach().numpy()),
                    ("dy/dt = -I", dy_dt.detach().numpy()),
                    ("dz/dx = 1/n", dz_dx), ("dz/dy = 1/n", dz_dy)):
        show(name, j)
    print()

    print("2. Composed by matrix products: (1, n) · (n, n) + (1, n) · (n, n) = (1, n)")
    dz_ds = dz_dx @ dx_ds.detach().numpy() + dz_dy @ dy_ds.detach().numpy()
    dz_dt = dz_dx @ dx_dt.detach().numpy() + dz_dy @ dy_dt.detach().numpy()
    print(f"  dz/ds: shape {dz_ds.shape}  {sp.fmt(dz_ds.ravel())}")
    print(f"  dz/dt: shape {dz_dt.shape}  {sp.fmt(dz_dt.ravel())}")
    print()

    print("3. The same from one backward pass, and from the closed forms:")
    s = cr.tensor(S, requires_grad=True)
    t = cr.tensor(T, requires_grad=True)
    z = stage2(*stage1(s, t))
    z.backward()
    sp.check("dz/ds, composed vs backprop", dz_ds.ravel(), s.grad.numpy())
    sp.check("dz/dt, composed vs backprop", dz_dt.ravel(), t.grad.numpy())
    sp.check("dz/ds = (t + 1)/n", dz_ds.ravel(), (T + 1) / N)
    sp.check("dz/dt = (s - 1)/n", dz_dt.ravel(), (S - 1) / N)
    print()

    print("4. The whole map at once: cr.jacobian of z in (s, t), rows of shape (1, n):")
    whole_s, whole_t = cr.jacobian(lambda a, b: stage2(*stage1(a, b)), S, T, mode="fwd")
    sp.check("forward mode, dz/ds", whole_s.detach().numpy(), dz_ds.ravel())
    sp.check("forward mode, dz/dt", whole_t.detach().numpy(), dz_dt.ravel())


if __name__ == "__main__":
    main()
