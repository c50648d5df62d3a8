"""Drawings of the computational graph: DOT/Graphviz, SVG, and a step-through page.

* :func:`to_dot` - Graphviz DOT text (standard library only);
* :func:`draw` - render to ``.svg``/``.png``/``.pdf`` with Graphviz's ``dot``;
* :func:`to_svg` - an SVG drawing from chainrule's own layout (no Graphviz needed);
* :func:`to_html` - one self-contained page that steps through the forward and the
  backward pass, gate by gate.

Each accepts a tensor whose graph is still in place (before ``backward()``, or after
``backward(retain_graph=True)``) or the result of ``cr.explain(y)``.
"""

from __future__ import annotations

from .dot import GraphvizError, GraphvizNotFoundError, draw, to_dot
from .html import to_html, to_svg

__all__ = ["GraphvizError", "GraphvizNotFoundError", "draw", "to_dot", "to_html", "to_svg"]
