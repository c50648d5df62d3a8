"""The multivariable chain rule of seed note 003.

Scalars: z = x^2 - y^2 with x = s - sin t and y = e^s + cos t. The note derives

    dz/ds = dz/dx dx/ds + dz/dy dy/ds = 2x (1) + (-2y)(e^s)
    dz/dt = dz/dx dx/dt + dz/dy dy/dt = 2x (-cos t) + (-2y)(-sin t)

Vectors: x = s ⊙ t (Hadamard product) and y = s - t, and z is "the mean of x and y";
we read the note's formula as z = (1/n) Σ_i (x_i + y_i). Then dz/ds = (t + 1)/n and
dz/dt = (s - 1)/n: one entry per element, the shape of s and t (the note's 1 x n).

Finally the note's rule for Jacobian shapes: composing maps whose Jacobians are
(m, n), (n, o) and (o, p) gives an (m, p) Jacobian.

Run: ``python examples/chain_rule_st.py``
"""

from __future__ import annotations

import _seedprint as sp
import numpy as np

import chainrule as cr

S, T = 0.5, 1.2


def scalar_version() -> None:
    print(f"1. z = x^2 - y^2, x = s - sin t, y = e^s + cos t, at s = {S}, t = {T}")
    print()
    s = cr.tensor(S, requires_grad=True)
    t = cr.tensor(T, requires_grad=True)
    sin_t, e_s, cos_t = cr.sin(t), cr.exp(s), cr.cos(t)
    x = s - sin_t
    y = e_s + cos_t
    x2, y2 = x ** 2, y ** 2
    z = x2 - y2
    for v in (sin_t, e_s, cos_t, x, y, x2, y2):
        v.retain_grad()  # keep the gradient under every intermediate edge too
    z.backward()

    sp.edge_table([
        ("z = x^2 - y^2", z, 1.0),
        ("x^2", x2, x2.grad),
        ("y^2", y2, y2.grad),
        ("x = s - sin t", x, x.grad),
        ("y = e^s + cos t", y, y.grad),
        ("sin t", sin_t, sin_t.grad),
        ("e^s", e_s, e_s.grad),
        ("cos t", cos_t, cos_t.grad),
        ("s (two paths: via x and via y)", s, s.grad),
        ("t (two paths: via x and via y)", t, t.grad),
    ], "gradient dz / d edge")

    xv, yv = x.item(), y.item()
    print("  The note's closed forms, term by term:")
    print(f"    dz/ds = 2x * 1 + (-2y) * e^s = ({sp.fmt(2 * xv)}) + "
          f"({sp.fmt(-2 * yv * np.exp(S))})")
    print(f"    dz/dt = 2x * (-cos t) + (-2y) * (-sin t) = ({sp.fmt(-2 * xv * np.cos(T))}) + "
          f"({sp.fmt(2 * yv * np.sin(T))})")
    sp.check("dz/ds", s.grad, 2 * xv - 2 * yv * np.exp(S))
    sp.check("dz/dt", t.grad, -2 * xv * np.cos(T) + 2 * yv * np.sin(T))
    print()


def vector_version() -> None:
    sv = np.array([0.5, -1.0, 2.0, 1.5])
    tv = np.array([1.0, 3.0, -0.5, 0.25])
    n = sv.size
    print(f"2. Vectors (n = {n}): x = s ⊙ t, y = s - t, z = (1/n) Σ (x_i + y_i)")
    print()
    s = cr.tensor(sv, requires_grad=True)
    t = cr.tensor(tv, requires_grad=True)
    x = s * t
    y = s - t
    z = cr.mean(x + y)
    x.retain_grad()
    y.retain_grad()
    z.backward()
    sp.edge_table([
        ("z", z, 1.0),
        ("x = s ⊙ t", x, x.grad),
        ("y = s - t", y, y.grad),
        ("s", s, s.grad),
        ("t", t, t.grad),
    ], "gradient dz / d edge")
    print("  dz/dx = dz/dy = 1/n for every element; the Hadamard product sends")
    print("  dz/ds = dz/dx ⊙ t + dz/dy and dz/dt = dz/dx ⊙ s - dz/dy:")
    sp.check("dz/ds", s.grad, (tv + 1) / n)
    sp.check("dz/dt", t.grad, (sv - 1) / n)
    print(f"  shapes: s {s.shape}, dz/ds {s.grad.shape} (one entry per element, the note's 1 x n)")
    print()


def jacobian(f, x0: np.ndarray) -> np.ndarray:
    """The Jacobian of a vector function, one backward pass per output element."""
    x = cr.tensor(x0, requires_grad=True)
    y = f(x)
    rows = []
    for i in range(y.size):
        up = np.zeros(y.shape)
        up.flat[i] = 1.0
        (g,) = cr.grad(y, x, grad_outputs=up, retain_graph=True)
        rows.append(g.detach().numpy())
    return np.array(rows)


def jacobian_shapes() -> None:
    m, n, o, p = 2, 3, 4, 5
    print(f"3. Jacobian shapes compose: (m, n) . (n, o) . (o, p) -> (m, p), "
          f"with m, n, o, p = {m}, {n}, {o}, {p}")
    print()
    rng = np.random.default_rng(3)
    a, b, c = rng.standard_normal((m, n)), rng.standard_normal((n, o)), \
        rng.standard_normal((o, p))
    i0 = rng.standard_normal(p)

    def h(i):
        return cr.tanh(cr.tensor(c) @ i)       # i (p,) -> h (o,), Jacobian (o, p)

    def g(hv):
        return cr.sigmoid(cr.tensor(b) @ hv)   # h (o,) -> g (n,), Jacobian (n, o)

    def f(gv):
        return cr.tensor(a) @ gv               # g (n,) -> f (m,), Jacobian (m, n)

    j_total = jacobian(lambda i: f(g(h(i))), i0)
    h0 = h(cr.tensor(i0)).detach().numpy()
    g0 = g(cr.tensor(h0)).detach().numpy()
    j_f, j_g, j_h = jacobian(f, g0), jacobian(g, h0), jacobian(h, i0)
    print(f"  df/dg {j_f.shape} . dg/dh {j_g.shape} . dh/di {j_h.shape} = "
          f"{(j_f @ j_g @ j_h).shape}; df/di from backprop: {j_total.shape}")
    sp.check("df/di = product of the three Jacobians", j_total, j_f @ j_g @ j_h)


def main() -> None:
    sp.title("The chain rule for several variables and for vectors", "seed note 003")
    scalar_version()
    vector_version()
    jacobian_shapes()


if __name__ == "__main__":
    main()
