"""chainrule.cli.expr: the whitelist parser behind `chainrule explain "EXPR"` refuses
everything but arithmetic on bound names, and says where."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.expr import (
    MAX_DEPTH,
    MAX_LENGTH,
    ExpressionError,
    check,
    evaluate,
    parse_bindings,
    parse_value,
)
from chainrule.errors import ChainruleError

NAMES = ["a", "b", "c"]


def refused(src, names=NAMES):
    with pytest.raises(ExpressionError) as info:
        check(src, names)
    return info.value


def caret_under(err):
    """The text the caret line points at, from the rendered message."""
    lines = str(err).splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.strip() and set(ln.strip()) == {"^"})
    src, marks = lines[i - 1], lines[i]
    start = marks.index("^")
    return src[start:start + marks.count("^")]


@pytest.mark.parametrize("src, reason, under", [
    ("a.__class__", "attribute access is not allowed", "a.__class__"),
    ("(a).real + b", "attribute access is not allowed", "(a).real"),
    ("__import__('os').system('ls')", "attribute access is not allowed",
     "__import__('os').system"),
    ("print(a)", "calls to print() are not allowed", "print"),
    ("eval(a)", "calls to eval() are not allowed", "eval"),
    ("a + open(b)", "calls to open() are not allowed", "open"),
    ("(lambda: a)()", "only the library's functions can be called", "lambda: a"),
    ("lambda x: x", "lambda is not allowed", "lambda x: x"),
    ("[a for a in b]", "comprehensions are not allowed", "[a for a in b]"),
    ("sum(x for x in a)", "comprehensions (generators) are not allowed", "(x for x in a)"),
    ("{a: b for a in c}", "comprehensions are not allowed", "{a: b for a in c}"),
    ("a[0]", "subscripts (indexing) are not allowed", "a[0]"),
    ("'text' + a", "strings are not allowed", "'text'"),
    ("f'{a}'", "strings are not allowed", "f'{a}'"),
    ("exp(x=a)", "keyword arguments (x=...) are not allowed", "x=a"),
    ("exp(*a)", "* unpacking is not allowed", "*a"),
    ("exp(a, b)", "exp() takes 1 argument, got 2", "exp(a, b)"),
    ("maximum(a)", "maximum() takes 2 arguments, got 1", "maximum(a)"),
    ("a @ b", "the operator @ is not allowed", "a @ b"),
    ("a // b", "the operator // is not allowed", "a // b"),
    ("a < b", "comparisons are not allowed", "a < b"),
    ("a and b", "'and'/'or' are not allowed", "a and b"),
    ("a if b else c", "conditional expressions", "a if b else c"),
    ("(a := 1)", "assignment expressions (:=) are not allowed", "a := 1"),
    ("not a", "the operator not is not allowed", "not a"),
    ("True + a", "True is not allowed: only real numbers", "True"),
    ("a + 1j", "1j is not allowed: only real numbers", "1j"),
    ("(a, b)", "tuples are not allowed", "(a, b)"),
    ("a + d", "unknown name 'd'", "d"),
    ("exp + a", "exp is a function: call it", "exp"),
])
def test_refusals_point_at_the_offending_part(src, reason, under):
    err = refused(src)
    assert reason in err.reason
    assert caret_under(err) == under
    assert src in str(err)
    assert isinstance(err, ChainruleError) and isinstance(err, ValueError)


def test_unknown_name_lists_the_known_ones():
    err = refused("a + d * c")
    assert "The names you bound are: a, b, c. Bind it with d=VALUE." in str(err)
    err = refused("x", names=[])
    assert "(none: bind some, e.g. a=1)" in str(err)


def test_allowed_part_is_named():
    err = refused("print(a)")
    assert "the functions you can call are: exp, log, sqrt, sin, cos, tanh, sigmoid, relu, " \
           "abs, maximum, minimum, sum, mean" in str(err)


def test_very_long_input_is_refused():
    src = "a+" * (MAX_LENGTH // 2) + "a"
    err = refused(src)
    assert err.reason == f"the expression is {len(src)} characters long; the limit is 1000"
    assert len(str(err).splitlines()[1]) < 100           # shows a window, not all of it
    check("+".join(["a"] * 250), NAMES)                   # long flat sums are fine


def test_deep_nesting_is_refused():
    err = refused("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert "nested more than 50 levels deep" in err.reason
    assert caret_under(err) == "("
    err = refused("-" * (MAX_DEPTH + 5) + "a")
    assert "nested more than 50 levels deep" in err.reason
    err = refused("exp(" * 60 + "a" + ")" * 60)
    assert "nested more than 50 levels deep" in err.reason
    check("(" * 40 + "a" + ")" * 40, NAMES)


def test_syntax_errors_and_odd_input():
    err = refused("a +* b")
    assert err.reason.startswith("the expression is not valid syntax")
    assert caret_under(err) == "*"
    assert refused("   ").reason.startswith("the expression is empty")
    err = refused("a\nb")
    assert "control character (U+000A)" in err.reason
    err = refused("a\x00")
    assert "U+0000" in err.reason
    err = refused("  a.b")                                # leading spaces keep columns
    assert caret_under(err) == "a.b"


def test_wide_characters_keep_the_caret_aligned():
    err = refused("사과 * 개수 + d", names=["사과", "개수"])
    lines = str(err).splitlines()
    # 사과 and 개수 are two columns wide each on a terminal
    assert lines[2].index("^") == len("    ") + len("사과 * 개수 + ") + 4


def test_evaluate_builds_the_graph():
    y, leaves = evaluate("(a+b)*(b+c)", parse_bindings(["a=-1", "b=3", "c=4"]))
    assert isinstance(y, cr.Tensor) and y.item() == 14.0
    assert set(leaves) == {"a", "b", "c"}
    assert all(t.requires_grad and t.name == k for k, t in leaves.items())
    y.backward()
    assert [leaves[k].grad.item() for k in "abc"] == [7.0, 9.0, 2.0]


def test_evaluate_functions_constants_and_precedence():
    b = parse_bindings(["x=2", "y=-0.5"])
    y, _ = evaluate("-x**2 + 3*sigmoid(y) - maximum(x, y)/2 + exp(0)", b)
    sig = 1 / (1 + np.exp(0.5))
    assert y.item() == pytest.approx(-4 + 3 * sig - 1 + 1)
    y, _ = evaluate("2 ** 3 + x", b)                      # constant folding, as floats
    assert y.item() == 10.0
    c, leaves = evaluate("1 + 2", {})
    assert c == 3.0 and leaves == {}
    v, _ = evaluate("sum(relu(x) * w)", parse_bindings(["x=[1,-2,3]", "w=[0.5,0.5,0.5]"]))
    assert v.item() == 2.0


def test_parse_values():
    assert parse_value("a", "-1") == -1.0 and isinstance(parse_value("a", "-1"), float)
    assert parse_value("a", " 2.5e3 ") == 2500.0
    assert np.isinf(parse_value("a", "inf"))
    arr = parse_value("x", "[1, 2, 3]")
    assert arr.dtype == np.float64 and arr.tolist() == [1.0, 2.0, 3.0]
    assert parse_value("m", "[[1, 2], [3, 4]]").shape == (2, 2)
    for bad, msg in [("", "has no value"), ("abc", "neither a number nor a list"),
                     ("[1, 'x']", "numbers only"), ("[True]", "numbers only"),
                     ("[[1, 2], [3]]", "ragged"), ("[]", "empty list"),
                     ("__import__('os')", "neither a number nor a list")]:
        with pytest.raises(ExpressionError, match=msg):
            parse_value("v", bad)


def test_parse_bindings():
    assert parse_bindings(["a=-1", "b = 3"]) == {"a": -1.0, "b": 3.0}
    for bad, msg in [(["a"], "expected name=value"), (["1a=2"], "not a valid name"),
                     (["for=2"], "not a valid name"), (["exp=1"], "name of a function"),
                     (["a=1", "a=2"], "a is given twice")]:
        with pytest.raises(ExpressionError, match=msg):
            parse_bindings(bad)
