"""The vocabulary of gate specs: input makers, cases, specs and variants.

A spec module (``specs_*.py``) imports these, describes its gates and exports ``SPECS``
(one :class:`GateSpec` per gate class) and ``VARIANTS`` (extra engine-level cases);
``gates.py`` gathers every spec module's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .._tensor import Tensor
from ..autograd import Gate

#: An input generator: draws one float64 array from a NumPy generator.
InputMaker = Callable[[np.random.Generator], np.ndarray]
Arrays = list[np.ndarray]

#: ``cr.gradcheck``'s defaults, used where neither the spec nor the caller sets one.
DEFAULT_EPS = 1e-6
DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-3


# ---------------------------------------------------------------------- input makers
def normal(*shape: int) -> InputMaker:
    """Standard normal values of the given shape (no arguments: a 0-d array)."""
    return lambda rng: rng.standard_normal(shape)


def positive(*shape: int) -> InputMaker:
    """Values in [0.5, 2): inside the domain of log, sqrt and real powers."""
    return lambda rng: rng.uniform(0.5, 2.0, shape)


def away0(*shape: int) -> InputMaker:
    """Values with |v| in [0.3, 1.5] and a random sign: no kink at 0 within reach."""
    def make(rng: np.random.Generator) -> np.ndarray:
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 1.5, shape)
    return make


def spread(*shape: int, offset: float = 0.0) -> InputMaker:
    """Distinct values on the grid 0.3 k + offset (shuffled): no two within 0.3 of
    each other, and none within 0.1 of a grid with another offset (0.0 vs 0.15)."""
    def make(rng: np.random.Generator) -> np.ndarray:
        n = int(np.prod(shape, dtype=np.int64))
        return ((rng.permutation(n) - n // 2) * 0.3 + offset).reshape(shape)
    return make


# ---------------------------------------------------------------------- specs
@dataclass(frozen=True)
class Case:
    """One set of inputs for a gate: a label and one generator per differentiable input."""

    label: str
    makers: Sequence[InputMaker]

    def make(self, seed: int) -> Arrays:
        """The inputs, drawn in order from ``np.random.default_rng(seed)``."""
        rng = np.random.default_rng(seed)
        return [m(rng) for m in self.makers]


@dataclass(frozen=True)
class GateSpec:
    """How to build, drive by hand, and gradient-check one gate class."""

    gate: type[Gate]
    fn: Callable[..., Tensor]
    hand: Callable[..., tuple[Gate, tuple]]
    cases: Sequence[Case]
    #: Tolerance overrides (``eps``, ``atol``, ``rtol``) for gradcheck/gradgradcheck.
    tol: Mapping[str, float] = field(default_factory=dict)
    #: Whether second derivatives are checked (``cr.gradgradcheck``).
    second_order: bool = True

    @property
    def name(self) -> str:
        """The gate's class name, as in ``cr.ops.gate_classes()``."""
        return self.gate.__name__


@dataclass(frozen=True)
class Variant:
    """An extra engine-level case filed under a gate: ``fn`` must record that gate
    somewhere in its graph (not necessarily as the last one)."""

    gate: type[Gate]
    label: str
    fn: Callable[..., Tensor]
    makers: Sequence[InputMaker]

    @property
    def gate_name(self) -> str:
        return self.gate.__name__


def C(label: str, *makers: InputMaker) -> Case:
    """Shorthand for ``Case(label, makers)``."""
    return Case(label, makers)


def binary_cases(make_x: Callable[..., InputMaker],
                 make_y: Callable[..., InputMaker] | None = None) -> list[Case]:
    """Same shape, scalar-with-array, and two-sided broadcasting."""
    make_y = make_y or make_x
    return [
        C("same (2,3)", make_x(2, 3), make_y(2, 3)),
        C("0-d and (3,)", make_x(), make_y(3)),
        C("(4,) and 0-d", make_x(4), make_y()),
        C("(3,1) and (1,4)", make_x(3, 1), make_y(1, 4)),
        C("(2,1,3) and (4,1)", make_x(2, 1, 3), make_y(4, 1)),
    ]


def unary_cases(make: Callable[..., InputMaker]) -> list[Case]:
    """A 0-d, a 1-D and a 3-D input."""
    return [C("0-d", make()), C("(5,)", make(5)), C("(2,3,2)", make(2, 3, 2))]


INDEX_REPEAT = (np.array([0, 2, 0, 0]),)
BOOL_MASK = np.array([[True, False, True], [False, False, True]])
WHERE_COND = np.array([[True], [False], [True]])
for _const in (*INDEX_REPEAT, BOOL_MASK, WHERE_COND):
    _const.flags.writeable = False  # shared by every call: nothing may change them




def spec(gate: type[Gate], fn: Callable[..., Tensor], hand: Callable[..., tuple[Gate, tuple]],
         cases: Sequence[Case], **options: object) -> GateSpec:
    """Shorthand for ``GateSpec(gate, fn, hand, tuple(cases), ...)``."""
    return GateSpec(gate, fn, hand, tuple(cases), **options)  # type: ignore[arg-type]


def variant(gate: type[Gate], label: str, fn: Callable[..., Tensor],
            *makers: InputMaker) -> Variant:
    """Shorthand for ``Variant(gate, label, fn, makers)``."""
    return Variant(gate, label, fn, makers)
