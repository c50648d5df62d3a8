"""chainrule.random: one global generator, reseedable in place."""

from __future__ import annotations

import numpy as np
import pytest

from chainrule import random as crandom


def test_manual_seed_reproduces_and_keeps_identity() -> None:
    rng = crandom.get_rng()
    crandom.manual_seed(123)
    a = rng.normal(size=5)
    assert crandom.manual_seed(123) is rng is crandom.get_rng()
    b = crandom.get_rng().normal(size=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, np.random.default_rng(123).normal(size=5))
    assert crandom.initial_seed() == 123


def test_state_round_trip() -> None:
    crandom.manual_seed(7)
    crandom.get_rng().random(3)
    state = crandom.get_rng_state()
    expected = crandom.get_rng().random(4)
    crandom.get_rng().random(10)
    crandom.set_rng_state(state)
    np.testing.assert_array_equal(crandom.get_rng().random(4), expected)


def test_bad_seeds() -> None:
    with pytest.raises(TypeError):
        crandom.manual_seed(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        crandom.manual_seed(True)
    with pytest.raises(ValueError):
        crandom.manual_seed(-1)
    crandom.manual_seed(2**100)  # big seeds are fine
