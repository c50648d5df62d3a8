"""The backward pass shown: the table of ``cr.explain`` and drawings of the graph.

* :func:`explain` (``cr.explain``) - the backward pass as a table, one row per gate
  (:class:`Explanation`, :class:`Row`, :class:`FanOut`);
* :func:`to_dot` - Graphviz DOT text (standard library only);
* :func:`draw` - render to ``.svg``/``.png``/``.pdf`` with Graphviz's ``dot``;
* :func:`to_svg` - an SVG drawing from chainrule's own layout (no Graphviz needed);
* :func:`to_html` - one self-contained page that steps through the forward and the
  backward pass, gate by gate.

Each drawing accepts a tensor whose graph is still in place (before ``backward()``, or
after ``backward(retain_graph=True)``) or the result of ``cr.explain(y)``.

Inside: :mod:`~chainrule.viz.graph` (the snapshot every view reads),
:mod:`~chainrule.viz.table`, :mod:`~chainrule.viz.dot`, :mod:`~chainrule.viz.svg`,
:mod:`~chainrule.viz.page`, :mod:`~chainrule.viz.layout` (the layered layout of the SVG
and the page) and :mod:`~chainrule.viz.i18n` (English and Korean labels).
"""

from __future__ import annotations

from .dot import GraphvizError, GraphvizNotFoundError, draw, to_dot
from .graph import d_of, format_value
from .page import to_html
from .svg import to_svg
from .table import Explanation, FanOut, Row, explain

__all__ = ["Explanation", "FanOut", "GraphvizError", "GraphvizNotFoundError", "Row", "d_of",
           "draw", "explain", "format_value", "to_dot", "to_html", "to_svg"]
