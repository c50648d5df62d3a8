"""Tensor.register_post_accumulate_grad_hook: called once a leaf's .grad is final for
the pass, as soon as backward has passed the last gate feeding it (PyTorch's hook)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import engine


def test_the_hook_sees_the_complete_gradient_as_early_as_possible() -> None:
    a = cr.tensor(np.ones(3), requires_grad=True)
    b = cr.tensor(np.full(3, 2.0), requires_grad=True)
    seen: list[tuple[str, np.ndarray, object]] = []
    a.register_post_accumulate_grad_hook(lambda t: seen.append(("a", t.grad.data.copy(),
                                                                b.grad)))
    b.register_post_accumulate_grad_hook(lambda t: seen.append(("b", t.grad.data.copy(),
                                                                a.grad)))
    h = a * 3                         # a's only consumer is the oldest gate
    y = (h * b).sum() + (b * b).sum()
    y.backward()
    assert [s[0] for s in seen] == ["b", "a"]
    np.testing.assert_array_equal(seen[0][1], [7.0, 7.0, 7.0])     # d/db = h + 2b
    assert seen[0][2] is None                                      # a not settled yet
    np.testing.assert_array_equal(seen[1][1], [6.0, 6.0, 6.0])
    # a second backward accumulates, and the hook sees the sum
    seen.clear()
    (a * 2).sum().backward()
    np.testing.assert_array_equal(seen[0][1], [8.0, 8.0, 8.0])


def test_leaf_hooks_run_first_and_handles_remove() -> None:
    x = cr.tensor(np.ones(2), requires_grad=True)
    calls = []
    x.register_hook(lambda g: g * 10)
    h = x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.data.copy()))
    (x * x).sum().backward()
    np.testing.assert_array_equal(calls[0], [20.0, 20.0])
    h.remove()
    h.remove()
    (x * x).sum().backward()
    assert len(calls) == 1


def test_cr_grad_and_explain_do_not_call_it_and_dead_tensors_are_forgotten() -> None:
    x = cr.tensor(np.ones(2), requires_grad=True)
    calls = []
    x.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    (g,) = cr.grad((x * x).sum(), [x])
    cr.explain((x * x).sum())
    assert calls == [] and x.grad is None
    before = len(engine.POST_HOOKS)
    del x, g
    gc.collect()
    assert len(engine.POST_HOOKS) == before - 1


def test_only_leaves_that_require_grad() -> None:
    with pytest.raises(ValueError, match="only a leaf that requires grad"):
        cr.tensor(np.ones(2)).register_post_accumulate_grad_hook(print)
    x = cr.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="was made by a gate"):
        (x * 2).register_post_accumulate_grad_hook(print)
