"""Checking gradients: numerical differentiation and the table of every gate's checks.

* ``numerical.py``: :func:`numerical_grad`, :func:`gradcheck`, :func:`gradgradcheck`
  (also ``cr.numerical_grad`` etc.);
* ``gates.py``: one spec per gate class (inputs, shapes, tolerances) and
  :func:`check_gate`, used by the test suite and ``chainrule gradcheck``.
"""

from __future__ import annotations

from .numerical import gradcheck, gradgradcheck, numerical_grad

__all__ = ["gradcheck", "gradgradcheck", "numerical_grad"]
