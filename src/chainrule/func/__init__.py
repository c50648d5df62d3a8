"""Function transforms: Jacobians and their products, computed from the gates.

    import chainrule as cr
    J = cr.jacobian(lambda s, t: cr.mean(s * t + (s - t)), s, t)   # note 003's example
    out, Jv = cr.jvp(f, (x,), (v,))                                # forward mode
    H = cr.hessian(loss, w)

See :mod:`chainrule.func.transforms` for the signatures and the cost of each.
"""

from __future__ import annotations

from .transforms import hessian, hvp, jacobian, jvp, vhp, vjp, vmap

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp", "vmap"]
