"""``chainrule explain "EXPR" name=value ...``: the backward table of an expression.

Parses the expression safely (see :mod:`chainrule.cli.expr`), computes it on tensors,
prints ``cr.explain``'s table and the gradients, and optionally writes the graph as an
SVG (Graphviz), DOT text, or the step-through HTML page.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any

_EPILOG = """\
examples:
  chainrule explain "(a+b)*(b+c)" a=-1 b=3 c=4
  chainrule explain "apple*count*tax" apple=100 count=2 tax=1.1 --lang ko
  chainrule explain "1/(1+exp(-x))" x=2 --html sigmoid.html
  chainrule explain "sum(relu(x)*w)" x=[1,-2,3] w=[0.5,0.5,0.5] --svg graph.svg

The expression may use numbers, the names you bind, + - * / ** and unary -,
parentheses, and the functions exp log sqrt sin cos tanh sigmoid relu abs maximum
minimum sum mean; nothing else is evaluated. An expression that starts with "-"
must come after "--":  chainrule explain -- "-a*b" a=2 b=3
"""


#: How long Graphviz may take for --svg (seconds); the environment variable overrides.
DEFAULT_DOT_TIMEOUT = 30.0
TIMEOUT_ENV = "CHAINRULE_DOT_TIMEOUT"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got "
                                         f"{text!r}")
    return value


def _dot_timeout(given: float | None) -> float:
    if given is not None:
        return given
    env = os.environ.get(TIMEOUT_ENV)
    if env is None or not env.strip():
        return DEFAULT_DOT_TIMEOUT
    try:
        return _seconds(env)
    except argparse.ArgumentTypeError as e:
        raise ValueError(f"${TIMEOUT_ENV}: {e}") from None


def register(subparsers: Any) -> None:
    """Add the ``explain`` subcommand to the ``chainrule`` parser."""
    p = subparsers.add_parser(
        "explain", help="show the backward pass of an expression, gate by gate",
        description="Compute an expression on tensors and show its backward pass the way "
                    "the seed notes do: one row per gate, upstream x local = downstream, "
                    "and the gradient of every name.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("expression", help='the expression, e.g. "(a+b)*(b+c)" (quote it)')
    p.add_argument("bindings", nargs="*", metavar="NAME=VALUE",
                   help="a value for each name: a number (a=-1) or a list (x=[1,2,3])")
    p.add_argument("--svg", metavar="FILE", help="also draw the graph to FILE with Graphviz")
    p.add_argument("--dot", metavar="FILE", help="also write the graph as Graphviz DOT text")
    p.add_argument("--html", metavar="FILE",
                   help="also write the step-through page (one self-contained file)")
    p.add_argument("--dot-timeout", metavar="SECONDS", type=_seconds, default=None,
                   help=f"stop Graphviz after this long and draw --svg with chainrule's "
                        f"own layout instead (default ${TIMEOUT_ENV} or "
                        f"{DEFAULT_DOT_TIMEOUT:g})")
    p.add_argument("--lang", choices=("en", "ko"), default="en",
                   help="language of the table and the page (default: en)")
    p.add_argument("--full", action="store_true", help="print arrays in full")
    p.set_defaults(func=run)


def _fail(msg: str, code: int = 2) -> int:
    print(f"chainrule explain: {msg}", file=sys.stderr)
    return code


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule explain``; returns the exit code (0, or 2 for bad input, 1 for
    a file that could not be written)."""
    from .._tensor import Tensor
    from ..errors import ChainruleError, GraphvizNotFoundError, GraphvizTimeoutError
    from ..viz import explain, format_value, to_svg
    from ..viz.i18n import text
    from .expr import ExpressionError, evaluate, parse_bindings

    lang = args.lang
    try:
        timeout = _dot_timeout(args.dot_timeout)
    except ValueError as e:
        return _fail(str(e))
    try:
        bindings = parse_bindings(args.bindings)
        y, leaves = evaluate(args.expression, bindings)
    except (ExpressionError, ChainruleError) as e:   # shapes that do not fit: one line
        return _fail(str(e))
    if not isinstance(y, Tensor) or not y.requires_grad:
        return _fail("the expression uses none of the names, so there is nothing to "
                     "differentiate; bind a name and use it, e.g. \"x*x\" x=3")
    if y.size != 1:
        return _fail(f"the expression's value has shape {y.shape}, but the backward pass "
                     f"starts from one number; wrap it in sum(...) or mean(...)")
    ex = explain(y, lang=lang, full=args.full)
    title = f"{ex.root} = {args.expression.strip()}"
    print(title)
    if bindings:
        vals = ", ".join(f"{k} = {format_value(leaves[k].data)}" for k in bindings)
        print(text("cli.values", lang, values=vals))
    print()
    print(ex.table())
    for name in bindings:
        if name not in ex.gradients:
            print(text("cli.unused", lang, name=name))
    code = 0
    outputs = [(args.dot, "dot"), (args.svg, "svg"), (args.html, "html")]
    for path, kind in outputs:
        if not path:
            continue
        try:
            if kind == "html":
                ex.to_html(path, lang=lang, title=title)
            else:
                try:
                    ex.draw(path, format=kind, title=title, timeout=timeout)
                except (GraphvizNotFoundError, GraphvizTimeoutError) as e:
                    if kind != "svg":
                        raise
                    # chainrule lays out and draws SVG itself; Graphviz is only nicer.
                    to_svg(ex, path)
                    why = "is not installed" if isinstance(e, GraphvizNotFoundError) else \
                        f"did not finish within {timeout:g} s (--dot-timeout, ${TIMEOUT_ENV})"
                    print(f"note: Graphviz (dot) {why}, so {path} was drawn with "
                          f"chainrule's own layout", file=sys.stderr)
        except OSError as e:   # includes Graphviz missing for --dot rendering
            code = _fail(str(e), 1)
            continue
        except RuntimeError as e:  # Graphviz failed
            code = _fail(str(e), 1)
            continue
        print(text("cli.wrote", lang, path=path))
    return code
