"""A safe parser for the small expressions of ``chainrule explain "EXPR" name=value ...``.

The expression is parsed with Python's :mod:`ast` and checked against a strict
whitelist before anything runs; it is never given to ``eval``. Allowed:

* numbers (``2``, ``1.5``, ``1e-3``) and the names bound on the command line;
* the operators ``+ - * / **`` and unary ``-``/``+``, with parentheses;
* calls, with positional arguments only, to :data:`FUNCTIONS`: ``exp log sqrt sin
  cos tanh sigmoid relu abs`` (one argument), ``maximum minimum`` (two), and ``sum
  mean`` (one; to reduce a vector expression to the one number backward needs).

Anything else (attribute access, other calls, lambdas, comprehensions, subscripts,
strings, keyword arguments, comparisons...) is refused with an
:class:`ExpressionError` whose message quotes the expression with a caret under the
offending part. Inputs longer than :data:`MAX_LENGTH` characters or nested deeper than
:data:`MAX_DEPTH` levels are refused too, and an unknown name lists the known ones.

Values (``name=value``) are read as floats (``a=-1`` is ``-1.0``), or as vectors and
matrices written as lists of numbers (``x=[1, 2, 3]``, read with
:func:`ast.literal_eval`).

    >>> y, leaves = evaluate("(a+b)*(b+c)", parse_bindings(["a=-1", "b=3", "c=4"]))
    >>> float(y.item())
    14.0
"""

from __future__ import annotations

import ast
import keyword
import math
import sys
import unicodedata
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor
from ..errors import ExpressionError

__all__ = ["FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "ExpressionError", "check", "evaluate",
           "parse_bindings", "parse_value"]

#: Longest expression accepted, in characters.
MAX_LENGTH = 1000
#: Deepest nesting accepted (parentheses, calls, unary operators, right operands).
MAX_DEPTH = 50

class _Functions(Mapping[str, tuple[Callable[..., Tensor], int]]):
    """The functions an expression may call, with how many arguments each takes.

    Read from the ops' own declarations (``@export(expr=n)``) at every use, so a function
    exported later (a user's own op) is callable in expressions too.
    """

    def _table(self) -> dict[str, tuple[Callable[..., Tensor], int]]:
        return {e.name: (e.fn, e.expr) for e in ops.exports() if e.public and e.expr}

    def __getitem__(self, name: str) -> tuple[Callable[..., Tensor], int]:
        return self._table()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


#: The functions an expression may call: name -> (function, number of arguments).
FUNCTIONS = _Functions()

_BINOPS: dict[type, tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", ops.add), ast.Sub: ("-", ops.sub), ast.Mult: ("*", ops.mul),
    ast.Div: ("/", ops.div), ast.Pow: ("**", ops.pow),
}
_BAD_BINOPS = {ast.MatMult: "@", ast.Mod: "%", ast.FloorDiv: "//", ast.LShift: "<<",
               ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&"}

def allowed() -> str:
    """What an expression may contain, in one sentence (for error messages)."""
    return ("numbers, the names you bind, + - * / ** and unary -, parentheses, and calls "
            "(positional arguments only) to " + ", ".join(FUNCTIONS))


def _char_col(source: str, lineno: int | None, byte_col: int | None) -> int | None:
    """Convert the ast's (line, UTF-8 byte offset) into a character offset in ``source``."""
    if byte_col is None or lineno is None:
        return None
    lines = source.split("\n")
    before = sum(len(ln) + 1 for ln in lines[:lineno - 1])
    line = lines[lineno - 1] if lineno - 1 < len(lines) else ""
    return before + len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def _node_span(source: str, node: Any) -> tuple[int | None, int | None]:
    col = _char_col(source, getattr(node, "lineno", None), getattr(node, "col_offset", None))
    end = _char_col(source, getattr(node, "end_lineno", None),
                    getattr(node, "end_col_offset", None))
    return col, end


_REFUSED: dict[type, str] = {
    ast.Attribute: "attribute access is not allowed",
    ast.Subscript: "subscripts (indexing) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions (generators) are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed",
    ast.IfExp: "conditional expressions (x if c else y) are not allowed",
    ast.NamedExpr: "assignment expressions (:=) are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.List: "lists are not allowed (bind a vector to a name instead: x=[1,2,3])",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Starred: "* unpacking is not allowed",
    ast.Slice: "slices are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}


def check(source: str, names: Collection[str]) -> ast.Expression:
    """Parse ``source`` and check it against the whitelist; return its syntax tree.

    ``names`` are the names the expression may use. Raises :class:`ExpressionError`
    (pointing at the offending part) for anything outside the whitelist, an unknown
    name, an input longer than :data:`MAX_LENGTH` or nested deeper than
    :data:`MAX_DEPTH`, or a syntax error. The walk is iterative.
    """
    if not isinstance(source, str):
        raise ExpressionError(f"the expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(
            f"the expression is {len(source)} characters long; the limit is {MAX_LENGTH}",
            source, MAX_LENGTH, len(source),
            "Split it up, or use the Python API (cr.explain) for large computations.")
    if not source.strip():
        raise ExpressionError("the expression is empty; give one such as \"(a+b)*(b+c)\"")
    for i, ch in enumerate(source):
        if ch != "\t" and (unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")):
            raise ExpressionError(f"the expression contains a control character "
                                  f"(U+{ord(ch):04X}); write it on one line", source, i)
    depth = 0
    for i, ch in enumerate(source):  # catch deep parentheses before the parser does
        if ch in "([{":
            depth += 1
            if depth > MAX_DEPTH:
                raise ExpressionError(f"the expression is nested more than {MAX_DEPTH} levels "
                                      f"deep", source, i, i + 1)
        elif ch in ")]}":
            depth -= 1
    lead = len(source) - len(source.lstrip())   # ast.parse refuses leading spaces
    src = source[lead:]
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        off = e.offset - 1 if e.offset and e.offset > 0 else len(src.rstrip())
        end = e.end_offset - 1 if e.end_offset and e.end_offset - 1 > off else None
        raise ExpressionError(f"the expression is not valid syntax: {e.msg}", source,
                              lead + off, None if end is None else lead + end,
                              f"Allowed: {allowed()}.") from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError(f"the expression cannot be parsed: {e}") from None

    def refuse(node: Any, reason: str, hint: str | None = None) -> ExpressionError:
        col, end = _node_span(src, node)
        return ExpressionError(reason, source, None if col is None else col + lead,
                               None if end is None else end + lead,
                               hint if hint is not None else f"Allowed: {allowed()}.")

    names = set(names)
    stack: list[tuple[Any, int]] = [(tree.body, 1)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH:
            raise refuse(node, f"the expression is nested more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.BinOp):
            op = type(node.op)
            if op not in _BINOPS:
                sym = _BAD_BINOPS.get(op, op.__name__)
                raise refuse(node, f"the operator {sym} is not allowed; use + - * / **")
            # a chain a+b+c+... is flat to the reader: the left operand stays at depth d
            stack.append((node.left, d if isinstance(node.left, ast.BinOp) else d + 1))
            stack.append((node.right, d + 1))
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                sym = "not" if isinstance(node.op, ast.Not) else "~"
                raise refuse(node, f"the operator {sym} is not allowed; only unary - and +")
            stack.append((node.operand, d + 1))
        elif isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, (str, bytes)):
                raise refuse(node, "strings are not allowed in an expression")
            if isinstance(v, bool) or v is None or v is Ellipsis or isinstance(v, complex):
                raise refuse(node, f"{v!r} is not allowed: only real numbers")
            if not isinstance(v, (int, float)):
                raise refuse(node, f"the constant {v!r} is not allowed")
            if _too_large(v):
                raise refuse(node, _too_large_text(v), "Write a number up to about 1.8e308.")
        elif isinstance(node, ast.Name):
            if node.id in names:
                continue
            if node.id in FUNCTIONS:
                raise refuse(node, f"{node.id} is a function: call it, e.g. {node.id}(x)")
            known = ", ".join(sorted(names)) if names else "(none: bind some, e.g. a=1)"
            raise refuse(node, f"unknown name {node.id!r}",
                         f"The names you bound are: {known}. Bind it with {node.id}=VALUE.")
        elif isinstance(node, ast.Call):
            fn = node.func
            if not isinstance(fn, ast.Name):
                if isinstance(fn, ast.Attribute):
                    raise refuse(fn, _REFUSED[ast.Attribute])
                raise refuse(fn, "only the library's functions can be called: "
                                 + ", ".join(FUNCTIONS))
            if fn.id not in FUNCTIONS:
                raise refuse(fn, f"calls to {fn.id}() are not allowed; the functions you can "
                                 f"call are: {', '.join(FUNCTIONS)}")
            if node.keywords:
                kw = node.keywords[0]
                what = f"{kw.arg}=" if kw.arg else "**"
                raise refuse(kw, f"keyword arguments ({what}...) are not allowed; pass "
                                 f"arguments by position")
            for a in node.args:
                if isinstance(a, ast.Starred):
                    raise refuse(a, "* unpacking is not allowed in a call")
            want = FUNCTIONS[fn.id][1]
            if len(node.args) != want:
                raise refuse(node, f"{fn.id}() takes {want} argument{'s' if want > 1 else ''}, "
                                   f"got {len(node.args)}")
            stack.extend((a, d + 1) for a in node.args)
        else:
            what = _REFUSED.get(type(node), f"{type(node).__name__} is not allowed")
            raise refuse(node, what)
    return tree


def evaluate(source: str, bindings: Mapping[str, Any]) -> tuple[Tensor | float,
                                                                  dict[str, Tensor]]:
    """Check ``source`` and compute it on tensors, recording the graph.

    Each name in ``bindings`` becomes a leaf tensor that requires grad, named after
    it (so ``cr.explain`` labels it). Returns the result (a Tensor, or a Python float
    if the expression uses no name) and the leaf tensors by name. Numbers in the
    expression are constants. The evaluation is an iterative post-order walk.
    """
    tree = check(source, bindings.keys())
    leaves: dict[str, Tensor] = {}
    for name, value in bindings.items():
        leaves[name] = Tensor(np.asarray(value, dtype=np.float64), requires_grad=True,
                              name=name)
    results: list[Any] = []
    stack: list[tuple[Any, bool]] = [(tree.body, False)]
    with np.errstate(all="ignore"):
        while stack:
            node, ready = stack.pop()
            if isinstance(node, ast.Constant):
                results.append(float(node.value))
            elif isinstance(node, ast.Name):
                results.append(leaves[node.id])
            elif isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
                v = float(node.operand.value)
                results.append(-v if isinstance(node.op, ast.USub) else v)
            elif not ready:
                stack.append((node, True))
                kids = ([node.left, node.right] if isinstance(node, ast.BinOp) else
                        [node.operand] if isinstance(node, ast.UnaryOp) else list(node.args))
                stack.extend((k, False) for k in reversed(kids))
            elif isinstance(node, ast.BinOp):
                b = results.pop()
                a = results.pop()
                results.append(_binop(type(node.op), a, b))
            elif isinstance(node, ast.UnaryOp):
                a = results.pop()
                if isinstance(node.op, ast.USub):
                    a = ops.neg(a) if isinstance(a, Tensor) else -a
                results.append(a)
            else:  # ast.Call
                fn, n = FUNCTIONS[node.func.id]
                args = results[-n:]
                del results[-n:]
                results.append(fn(*args))
    return results[0], leaves


def _binop(op: type, a: Any, b: Any) -> Any:
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _BINOPS[op][1](a, b)
    x, y = np.float64(a), np.float64(b)    # constants: IEEE arithmetic, no exceptions
    return float(_BINOPS[op][1](x, y).item())


def _too_large(v: Any) -> bool:
    """An int beyond float64, or a float literal that overflowed to inf (1e999)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return abs(v) > sys.float_info.max
    return isinstance(v, float) and math.isinf(v)


def _too_large_text(v: Any) -> str:
    what = (f"the integer {str(v)[:12]}... ({len(str(abs(v)))} digits)"
            if isinstance(v, int) else "a number literal")
    return (f"{what} is too large for a float64, which goes up to about 1.8e308 "
            f"(it would silently become inf)")


def parse_value(name: str, text: str) -> float | np.ndarray:
    """Read the value of a binding: a number (``-1``, ``2.5e3``, ``inf``) or a list."""
    s = text.strip()
    if not s:
        raise ExpressionError(f"{name}= has no value; write e.g. {name}=1.5")
    try:
        f = float(s)
    except ValueError:
        pass
    else:
        if math.isinf(f) and "inf" not in s.lower():     # 1e999, or 309 digits
            raise ExpressionError(f"the value of {name}: {s[:20]}{'...' if len(s) > 20 else ''} "
                                  f"is too large for a float64, which goes up to about "
                                  f"1.8e308 (it would silently become inf); write inf if "
                                  f"that is meant")
        return f
    if len(s) > 100_000:
        raise ExpressionError(f"the value of {name} is {len(s)} characters long; the limit is "
                              f"100000")
    try:
        v = ast.literal_eval(s)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise ExpressionError(
            f"cannot read the value of {name}: {text!r} is neither a number nor a list of "
            f"numbers (write e.g. {name}=-1 or {name}=[1,2,3])") from None
    stack = [v]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, bool) or not isinstance(x, (int, float)):
            raise ExpressionError(f"the value of {name} must hold numbers only; found {x!r}")
        elif _too_large(x):
            raise ExpressionError(f"the value of {name}: {_too_large_text(x)}")
    if not isinstance(v, (list, tuple)):
        return float(v)
    try:
        arr = np.array(v, dtype=np.float64)
    except ValueError:
        raise ExpressionError(f"the value of {name} is a ragged list; every row needs the same "
                              f"length") from None
    if arr.size == 0:
        raise ExpressionError(f"the value of {name} is an empty list")
    return arr


def parse_bindings(items: Sequence[str]) -> dict[str, float | np.ndarray]:
    """Read ``name=value`` arguments into a dict (see :func:`parse_value`)."""
    out: dict[str, float | np.ndarray] = {}
    for item in items:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq:
            raise ExpressionError(f"expected name=value, got {item!r} (e.g. a=-1)")
        if not name.isidentifier() or keyword.iskeyword(name):
            raise ExpressionError(f"{name!r} is not a valid name (in {item!r}); use letters, "
                                  f"digits and _, not starting with a digit")
        if name in FUNCTIONS:
            raise ExpressionError(f"{name!r} is the name of a function; choose another name "
                                  f"for the value")
        if name in out:
            raise ExpressionError(f"{name} is given twice")
        out[name] = parse_value(name, text)
    return out

