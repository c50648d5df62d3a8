"""``chainrule gradcheck``: verify every gate's backward pass against numerical derivatives.

For every gate class of ``chainrule.ops`` it runs the cases of
``chainrule.check.gates`` (the table the test suite uses: several shapes per gate,
broadcasting ones included, plus the option variants), in float64: first derivatives
by backprop against central differences (``cr.gradcheck``) and, unless
``--no-second-order``, second derivatives through ``create_graph``
(``cr.gradgradcheck``). It prints one row per gate (``--verbose``: per case) and exits
with status 1 if any check fails.

``--model`` also checks the seed notes' two-layer network (Affine -> ReLU -> Affine ->
SoftmaxWithLoss, built from ``cr.nn``, float64) on a few random samples, printing the
mean absolute difference between backprop and numerical gradient per parameter, as the
book's ``gradient_check`` does.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from typing import Any

from ._args import non_negative_int, positive_float, positive_int

_EPILOG = """\
examples:
  chainrule gradcheck                         every gate, first and second order
  chainrule gradcheck --gate Mul --gate Affine --verbose
  chainrule gradcheck --no-second-order --seed 3
  chainrule gradcheck --model                 also the book's two-layer net
  chainrule gradcheck --model --model-sizes 20 10 5 --model-samples 4

An element passes when |backprop - numerical| <= atol + rtol * |numerical|.
"""


def register(subparsers: Any) -> None:
    """Add the ``gradcheck`` subcommand."""
    p = subparsers.add_parser(
        "gradcheck", help="check every gate's gradients against numerical differentiation",
        description=__doc__.replace("``", ""), epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gate", action="append", metavar="NAME", default=None,
                   help="check only this gate (class name, e.g. Mul or relu; repeatable)")
    p.add_argument("--second-order", action=argparse.BooleanOptionalAction, default=True,
                   help="also check second derivatives with gradgradcheck (default: yes)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="added to each case's fixed seed (default 0: the test suite's "
                        "inputs)")
    p.add_argument("--eps", type=positive_float, default=None,
                   help="central-difference step (default 1e-6)")
    p.add_argument("--atol", type=positive_float, default=None,
                   help="absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=positive_float, default=None,
                   help="relative tolerance (default 1e-3)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="one row per case instead of one per gate")
    m = p.add_argument_group("two-layer net")
    m.add_argument("--model", action="store_true",
                   help="also check the seeds' two-layer net and print the mean "
                        "|backprop - numerical| per parameter")
    m.add_argument("--model-sizes", type=positive_int, nargs=3, default=[784, 50, 10],
                   metavar=("IN", "HIDDEN", "OUT"),
                   help="layer sizes of the net (default 784 50 10, the book's; the "
                        "numerical gradient costs two forward passes per parameter)")
    m.add_argument("--model-samples", type=positive_int, default=3, metavar="N",
                   help="random samples in the batch (default 3, the book's)")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------- formatting
def _shape(s: tuple[int, ...]) -> str:
    """NumPy's spelling without spaces: ``()``, ``(3,)``, ``(2,3)``."""
    return "(" + ",".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


def _shapes(shapes: tuple[tuple[int, ...], ...]) -> str:
    return "&".join(_shape(s) for s in shapes)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    if math.isnan(v):
        return "n/a"
    return f"{v:.1e}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("ok" if ok else "FAIL")


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header), "  ".join("-" * w for w in widths),
                      *(line(r) for r in rows)])


def _agg_max(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None and not math.isnan(v)]
    if not known:
        return float("nan") if any(v is not None for v in values) else None
    return max(known)


def _all(values: list[bool | None]) -> bool | None:
    known = [v for v in values if v is not None]
    return None if not known else all(known)


# ---------------------------------------------------------------------- the net
@dataclass
class ParamCheck:
    """One parameter of the two-layer net: mean and max |backprop - numerical|."""

    name: str
    shape: tuple[int, ...]
    mean_abs: float
    max_abs: float
    ok: bool


def check_two_layer_net(sizes: tuple[int, int, int] = (784, 50, 10), samples: int = 3,
                        seed: int = 0, eps: float = 1e-6, atol: float = 1e-5,
                        rtol: float = 1e-3) -> list[ParamCheck]:
    """The book's ``gradient_check`` on the seed notes' two-layer net.

    Builds ``Affine(IN, HIDDEN) -> ReLU -> Affine(HIDDEN, OUT) -> SoftmaxWithLoss`` with
    ``cr.nn`` in float64, weights ``0.01 * N(0, 1)`` and zero biases (the book's
    initialisation, from ``np.random.default_rng(seed)``), draws ``samples`` random
    inputs in [0, 1) and labels, and compares the backprop gradient of the loss with
    central differences for every parameter. A parameter is ok when every element
    satisfies ``|backprop - numerical| <= atol + rtol * |numerical|``.
    """
    import numpy as np

    from .. import nn
    from .._tensor import tensor
    from ..autograd import no_grad
    from ..check import numerical_grad

    n_in, n_hidden, n_out = sizes
    rng = np.random.default_rng(seed)
    affine1 = nn.Affine(n_in, n_hidden, dtype=np.float64)
    affine2 = nn.Affine(n_hidden, n_out, dtype=np.float64)
    net = nn.Sequential(affine1, nn.ReLU(), affine2)
    last_layer = nn.SoftmaxWithLoss()
    params = {"W1": affine1.weight, "b1": affine1.bias,
              "W2": affine2.weight, "b2": affine2.bias}
    for key, p in params.items():
        p.data = (0.01 * rng.standard_normal(p.shape) if key.startswith("W")
                  else np.zeros(p.shape))
    x = tensor(rng.random((samples, n_in)))
    t = rng.integers(0, n_out, size=samples)

    net.zero_grad()
    last_layer(net(x), t).backward()
    backprop = {k: np.asarray(p.grad.data, dtype=np.float64) for k, p in params.items()}

    originals = [p.data for p in params.values()]

    def loss_of(*arrays: np.ndarray) -> float:
        for p, a in zip(params.values(), arrays):
            p.data = a                 # numerical_grad nudges these arrays in place
        with no_grad():
            return last_layer(net(x), t).item()

    try:
        numerical = numerical_grad(loss_of, *originals, eps=eps)
    finally:
        for p, a in zip(params.values(), originals):
            p.data = a
    out = []
    for (key, p), num in zip(params.items(), numerical):
        err = np.abs(backprop[key] - num)
        ok = bool(np.all(err <= atol + rtol * np.abs(num)))
        out.append(ParamCheck(key, tuple(p.shape), float(np.mean(err)), float(np.max(err)),
                              ok))
    return out


# ---------------------------------------------------------------------- run
def run(args: argparse.Namespace) -> int:
    """Run ``chainrule gradcheck``; returns 0 when every check passed, 1 otherwise, 2 for
    bad options."""
    from ..check.gates import (
        DEFAULT_ATOL,
        DEFAULT_EPS,
        DEFAULT_RTOL,
        check_gate,
        gate_specs,
        missing_specs,
    )

    try:
        specs = gate_specs(args.gate)
    except KeyError as e:
        print(f"chainrule gradcheck: {e.args[0]}", file=sys.stderr)
        return 2
    eps = args.eps if args.eps is not None else DEFAULT_EPS
    atol = args.atol if args.atol is not None else DEFAULT_ATOL
    rtol = args.rtol if args.rtol is not None else DEFAULT_RTOL
    order = "first and second order" if args.second_order else "first order only"
    what = "every gate of chainrule.ops" if args.gate is None else \
        f"{len(specs)} gate{'s' if len(specs) != 1 else ''}"
    print(f"Gradient check of {what}, {order}: float64, central differences "
          f"(eps {eps:g}),")
    print(f"pass when |backprop - numerical| <= atol + rtol * |numerical| (atol {atol:g}, "
          f"rtol {rtol:g}); seed {args.seed}")
    print()

    t0 = time.perf_counter()
    failures: list[str] = []
    rows: list[tuple[str, ...]] = []
    n_cases = n_fail_1 = n_fail_2 = n_second = n_fwd = n_fail_f = 0
    for spec in specs:
        results = check_gate(spec, seed=args.seed, eps=args.eps, atol=args.atol,
                             rtol=args.rtol, second_order=args.second_order)
        n_cases += len(results)
        for r in results:
            n_fail_1 += not r.first_order_ok
            n_second += r.second_order_ok is not None
            n_fail_2 += r.second_order_ok is False
            n_fwd += r.forward_mode_ok is not None
            n_fail_f += r.forward_mode_ok is False
            failures += [f"{spec.name} [{r.label}]: {m}" for m in r.messages]
        if args.verbose:
            rows += [(spec.name, r.label, _shapes(r.shapes), _num(r.max_abs_error),
                      _num(r.max_rel_error), _verdict(r.first_order_ok),
                      _verdict(r.second_order_ok), _verdict(r.forward_mode_ok))
                     for r in results]
        else:
            shapes = ", ".join(_shapes(r.shapes) for r in results)
            rows.append((spec.name, str(len(results)), _clip(shapes, 34),
                         _num(_agg_max([r.max_abs_error for r in results])),
                         _num(_agg_max([r.max_rel_error for r in results])),
                         _verdict(all(r.first_order_ok for r in results)),
                         _verdict(_all([r.second_order_ok for r in results])),
                         _verdict(_all([r.forward_mode_ok for r in results]))))
    if args.verbose:
        header = ("gate", "case", "input shapes", "max |bp-num|", "max rel err", "1st order",
                  "2nd order", "fwd mode")
        print(_table(header, rows, right={3, 4}))
    else:
        header = ("gate", "cases", "input shapes checked", "max |bp-num|", "max rel err",
                  "1st order", "2nd order", "fwd mode")
        print(_table(header, rows, right={1, 3, 4}))
    elapsed = time.perf_counter() - t0
    print()
    print("max |bp-num|: the largest |backprop - numerical| over every gradient element (for")
    print("  a non-scalar output both sides are vector-Jacobian products with one random")
    print("  vector). max rel err: |bp-num| / max(|bp|, |num|) over the elements where that")
    print("  maximum is >= atol ('-': none). '&' separates the inputs of one case.")
    print()
    missing = missing_specs() if args.gate is None else []
    for name in missing:
        failures.append(f"{name}: gate class has no spec in chainrule.check.gates, so it "
                        f"was not checked; add one")
    second = (f"{n_second - n_fail_2}/{n_second} second order ok" if n_second
              else "second order not checked")
    fwd = (f", {n_fwd - n_fail_f}/{n_fwd} forward mode ok" if n_fwd else "")
    print(f"{len(specs)} gates, {n_cases} cases: {n_cases - n_fail_1}/{n_cases} first order "
          f"ok, {second}{fwd} ({elapsed:.1f} s)")

    if args.model:
        sizes = tuple(args.model_sizes)
        n_params = sizes[0] * sizes[1] + sizes[1] + sizes[1] * sizes[2] + sizes[2]
        print()
        print(f"Two-layer net {sizes[0]} -> Affine -> ReLU({sizes[1]}) -> Affine -> "
              f"SoftmaxWithLoss ({sizes[2]} classes), float64,")
        print(f"{args.model_samples} random samples, seed {args.seed}; numerical gradient: "
              f"{2 * n_params:,} forward passes")
        t1 = time.perf_counter()
        checks = check_two_layer_net(sizes, args.model_samples, args.seed, eps, atol, rtol)
        prow = [(c.name, _shape(c.shape), f"{c.mean_abs:.3e}", f"{c.max_abs:.3e}",
                 _verdict(c.ok)) for c in checks]
        print(_table(("parameter", "shape", "mean |bp-num|", "max |bp-num|", "check"), prow,
                     right={2, 3}))
        bad = [c.name for c in checks if not c.ok]
        for c in checks:
            if not c.ok:
                failures.append(f"two-layer net: {c.name} differs by up to {c.max_abs:.3g}")
        verdict = "backprop agrees with numerical differentiation" if not bad else \
            f"MISMATCH in {', '.join(bad)}"
        print(f"  -> {verdict} ({time.perf_counter() - t1:.1f} s)")

    if failures:
        print()
        print(f"FAILED ({len(failures)}):")
        for f in failures:
            print(f"  {f}")
        return 1
    print("all checks passed")
    return 0
