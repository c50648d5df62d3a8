"""The engine's contract: accumulation, broadcasting, graph lifetime, hooks, errors.

These tests pin down what ``backward`` and ``cr.grad`` promise beyond the local
gradient of any one gate (which test_gate_table.py checks): how gradients from
several paths add up, how a broadcast input gets its gradient back in its own shape,
when the graph's saved values are released, what happens when a saved value is
modified in place, and that nothing in graph code recurses.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Turn the cycle collector off: whatever is freed is freed by refcounting alone."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def leaf(values, dtype=np.float64) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------------- broadcasting
@pytest.mark.parametrize(("xshape", "yshape"), [
    ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 3), ()), ((4, 1, 3), (2, 1)),
    ((), (2, 2)),
])
@pytest.mark.parametrize("op", [cr.add, cr.sub, cr.mul, cr.div])
def test_broadcast_gradients_are_summed_back_to_input_shape(op, xshape, yshape) -> None:
    rng = np.random.default_rng(0)
    xv = rng.uniform(1, 2, xshape)
    yv = rng.uniform(1, 2, yshape)
    x, y = leaf(xv), leaf(yv)
    op(x, y).sum().backward()
    assert x.grad.shape == xshape
    assert y.grad.shape == yshape
    # Closed forms, with the broadcast done by NumPy and undone by hand.
    bx, by = np.broadcast_arrays(xv, yv)
    local = {cr.add: (np.ones_like(bx), np.ones_like(by)),
             cr.sub: (np.ones_like(bx), -np.ones_like(by)),
             cr.mul: (by, bx),
             cr.div: (1 / by, -bx / by ** 2)}[op]
    np.testing.assert_allclose(x.grad.numpy(), cr.sum_to(local[0], xshape).detach().numpy())
    np.testing.assert_allclose(y.grad.numpy(), cr.sum_to(local[1], yshape).detach().numpy())


def test_bias_gradient_is_summed_over_the_batch() -> None:
    x = cr.tensor(np.arange(6.0).reshape(3, 2))
    b = leaf([0.5, -0.5])
    (x + b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [3.0, 3.0])


# ---------------------------------------------------------------------- accumulation
def test_fan_out_gradients_add_up() -> None:
    """The seeds' "common variable": a value used twice gets the sum of both gradients."""
    x = leaf(3.0)
    y = x * x + x  # x feeds three edges: 2x + 1
    y.backward()
    assert x.grad.item() == 7.0


def test_gradients_accumulate_over_backward_calls_and_zero_grad_clears() -> None:
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
    x.zero_grad()
    assert x.grad is None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_accumulated_grads_are_not_aliased_between_leaves() -> None:
    """``x + y`` sends the very same upstream array to both inputs: each leaf's .grad
    must still be its own array."""
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    x.grad.numpy()[0] = 100.0
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])


def test_user_supplied_upstream_gradient_is_not_aliased() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([1.0, 1.0])
    (x + y).backward(g)
    x.grad.numpy()[:] = 9.0
    np.testing.assert_array_equal(g, [1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    # And when the root is itself a leaf.
    z = leaf([0.0, 0.0])
    z.backward(g)
    z.grad.numpy()[:] = 5.0
    np.testing.assert_array_equal(g, [1.0, 1.0])


def test_x_plus_x_accumulates_into_one_gradient() -> None:
    x = leaf([1.0, 2.0])
    (x + x).backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0])


def test_accumulation_does_not_write_into_a_previous_grad_the_user_kept() -> None:
    x = leaf([1.0, 2.0])
    (x * 1.0).sum().backward()
    first = x.grad
    kept = first.detach().numpy().copy()
    (x * 1.0).sum().backward()
    # Either the old tensor was updated in place (PyTorch does this too) or a new one
    # was made; what matters is that .grad holds the sum.
    np.testing.assert_array_equal(x.grad.numpy(), kept * 2)


def test_repeated_advanced_index_accumulates() -> None:
    x = leaf([1.0, 2.0, 3.0])
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])
    m = leaf(np.zeros((2, 3)))
    (m[[1, 1, 0], [2, 2, 0]] * cr.tensor([1.0, 2.0, 5.0])).sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [[5.0, 0.0, 0.0], [0.0, 0.0, 3.0]])


def test_boolean_mask_gradient() -> None:
    x = leaf([[1.0, -2.0], [-3.0, 4.0]])
    x[x.detach().numpy() > 0].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0], [0.0, 1.0]])


# ---------------------------------------------------------------------- backward(...)
def test_backward_with_explicit_grad() -> None:
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(grad=np.array([1.0, 0.5, -1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, -6.0])
    y = leaf([1.0, 2.0])
    (y * 3).backward(cr.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(y.grad.numpy(), [3.0, 6.0])


def test_backward_of_non_scalar_without_grad_explains_what_to_do() -> None:
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(cr.BackwardError, match=r"shape \(3,\).*grad=.*sum\(\)"):
        (x * 2).backward()


def test_backward_of_one_element_non_scalar_is_allowed() -> None:
    x = leaf([[2.0]])
    (x * x).backward()
    assert x.grad.numpy().tolist() == [[4.0]]


def test_backward_grad_of_wrong_shape_is_a_shape_error() -> None:
    x = leaf([1.0, 2.0])
    with pytest.raises(cr.ShapeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_something_that_does_not_require_grad() -> None:
    with pytest.raises(cr.BackwardError, match="does not require grad"):
        cr.tensor(1.0).backward()
    x = leaf(1.0)
    with cr.no_grad():
        y = x * 2
    with pytest.raises(cr.BackwardError, match="no_grad"):
        y.backward()


def test_second_backward_through_freed_graph() -> None:
    x = leaf(2.0)
    y = x * x
    y.backward()
    with pytest.raises(cr.GraphFreedError, match="retain_graph=True"):
        y.backward()
    assert issubclass(cr.GraphFreedError, cr.BackwardError)


def test_retain_graph_allows_backward_twice_and_accumulates() -> None:
    x = leaf(2.0)
    y = x * x * x
    y.backward(retain_graph=True)
    assert x.grad.item() == 12.0
    y.backward(retain_graph=True)
    assert x.grad.item() == 24.0
    y.backward()
    assert x.grad.item() == 36.0
    with pytest.raises(cr.GraphFreedError):
        y.backward()


def test_shared_subgraph_freed_by_one_backward_blocks_the_other() -> None:
    x = leaf(1.0)
    h = cr.exp(x)
    a, b = h * 2, h * 3
    a.backward()
    with pytest.raises(cr.GraphFreedError):
        b.backward()


def test_requires_grad_on_int_is_a_dtype_error() -> None:
    with pytest.raises(cr.DtypeError, match=r"int64.*float"):
        cr.tensor([1, 2], requires_grad=True)
    t = cr.tensor([1, 2])
    with pytest.raises(cr.DtypeError):
        t.requires_grad_()
    with pytest.raises(cr.DtypeError):
        cr.tensor([True], requires_grad=True)
    assert issubclass(cr.DtypeError, TypeError)


# ---------------------------------------------------------------------- in place
def test_inplace_change_of_saved_input_is_detected() -> None:
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    y = x * w
    with cr.no_grad():
        w.add_(1)
    with pytest.raises(cr.InplaceModificationError, match=r"Mul.*input 1.*in place"):
        y.sum().backward()


def test_inplace_change_of_saved_output_is_detected() -> None:
    x = leaf([1.0, 2.0])
    y = cr.exp(x)
    with cr.no_grad():
        y.mul_(2)
    with pytest.raises(cr.InplaceModificationError, match=r"Exp.*output"):
        y.sum().backward()


@pytest.mark.parametrize("modify", [
    lambda t: t.add_(1), lambda t: t.sub_(1), lambda t: t.mul_(2), lambda t: t.fill_(0),
    lambda t: t.zero_(), lambda t: t.copy_(np.array([5.0, 6.0])),
    lambda t: t.__setitem__(0, 9.0),
])
def test_every_inplace_method_bumps_the_version(modify) -> None:
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    y = x * w
    before = w.version
    with cr.no_grad():
        modify(w)
    assert w.version > before
    with pytest.raises(cr.InplaceModificationError):
        y.sum().backward()


def test_inplace_on_input_of_a_gate_that_saves_nothing_is_fine() -> None:
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    y = x + w
    with cr.no_grad():
        w.add_(1)
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_inplace_before_the_forward_pass_is_fine() -> None:
    w = leaf([3.0, 4.0])
    with cr.no_grad():
        w.add_(1)
    x = leaf([1.0, 2.0])
    (x * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 5.0])


@pytest.mark.parametrize("alias", [
    lambda w: w.detach(),                         # shares w's array
    lambda w: w.detach().reshape(2, 2),           # a view of it
    lambda w: w.detach().T,
    lambda w: w.detach()[0],                      # basic indexing is a view too
    lambda w: cr.from_numpy(w.data),
])
def test_inplace_change_through_an_alias_of_a_saved_tensor_is_detected(alias) -> None:
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    w = leaf([[5.0, 6.0], [7.0, 8.0]])
    y = x * w                                     # saves w
    other = alias(w)
    other.add_(1)                                 # no grad to track: allowed, but stamped
    with pytest.raises(cr.InplaceModificationError, match=r"Mul.*input 1"):
        y.sum().backward()


def test_inplace_change_of_unrelated_memory_is_fine() -> None:
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    y = x * w
    cr.tensor([3.0, 4.0]).add_(1)                 # a copy of w's values, not w's memory
    float(np.asarray(w.detach()).sum())                    # reading is never a modification
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_inplace_on_a_tensor_that_requires_grad_needs_no_grad() -> None:
    w = leaf([3.0, 4.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1)
    plain = cr.tensor([1.0, 2.0])
    plain.add_(1)  # a constant can be changed freely
    np.testing.assert_array_equal(plain.detach().numpy(), [2.0, 3.0])


# ---------------------------------------------------------------------- grad mode
def test_no_grad_records_nothing_and_restores_the_mode() -> None:
    x = leaf([1.0, 2.0])
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            z = x * 2
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.creator is None
    assert z.requires_grad and z.creator is not None


def test_no_grad_restores_the_mode_after_an_exception() -> None:
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        1 / 0  # noqa: B018
    assert cr.is_grad_enabled()


def test_no_grad_as_decorator() -> None:
    @cr.no_grad()
    def f(t: cr.Tensor) -> cr.Tensor:
        return t * 2

    assert not f(leaf(1.0)).requires_grad
    assert cr.is_grad_enabled()


def test_set_grad_enabled() -> None:
    try:
        cr.set_grad_enabled(False)
        assert not (leaf(1.0) * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)
    assert (leaf(1.0) * 2).requires_grad


def test_detach_shares_data_and_cuts_the_graph() -> None:
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.detach().numpy(), y.detach().numpy())
    z = (d * x).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 6.0])  # d treated as constant


def test_requires_grad_() -> None:
    t = cr.tensor([1.0, 2.0])
    assert t.requires_grad_() is t
    (t * t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [2.0, 4.0])
    t.requires_grad_(False)
    assert not (t * 2).requires_grad
    y = leaf(1.0) * 2
    with pytest.raises(ValueError, match="detach"):
        y.requires_grad_(False)


# ---------------------------------------------------------------------- hooks
def test_hook_on_leaf_sees_the_total_gradient_and_can_replace_it() -> None:
    x = leaf([1.0, 2.0])
    seen = []

    def hook(g: cr.Tensor) -> cr.Tensor:
        seen.append(g.detach().numpy().copy())
        return g * 10

    handle = x.register_hook(hook)
    (x * 3 + x).sum().backward()  # fan-out: the hook runs once, on the sum 3 + 1
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [4.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [40.0, 40.0])
    handle.remove()
    handle.remove()  # a second remove does nothing
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_hook_returning_none_observes_only() -> None:
    x = leaf(2.0)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    (x * x).backward()
    assert seen == [4.0]
    assert x.grad.item() == 4.0


def test_hook_on_non_leaf_replaces_the_gradient_flowing_on() -> None:
    x = leaf([1.0, 2.0])
    m = x * 3
    handle = m.register_hook(lambda g: g * 0 + 1)
    (m * m).sum().backward()
    # Without the hook dm = 2m = [6, 12] and dx = 3 dm; with it dm = 1.
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    handle.remove()
    x.grad = None
    m2 = x * 3
    (m2 * m2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])


def test_hook_returning_wrong_shape_is_a_shape_error() -> None:
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: np.ones(3))
    with pytest.raises(cr.ShapeError, match=r"\(3,\).*\(2,\)"):
        (x * 2).sum().backward()


def test_hook_on_tensor_without_grad_is_refused() -> None:
    with pytest.raises(ValueError, match="does not require grad"):
        cr.tensor(1.0).register_hook(lambda g: g)


def test_retain_grad_keeps_the_gradient_of_an_intermediate() -> None:
    x = leaf([1.0, 2.0])
    m = x * 3
    m.retain_grad()
    y = m * m
    y.sum().backward()
    np.testing.assert_array_equal(m.grad.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])
    assert y.grad is None  # not retained
    x.retain_grad()  # harmless on a leaf


def test_hooks_and_retained_grads_of_0d_tensors_hold_ndarrays() -> None:
    """0-d gradients may travel as NumPy scalars inside the engine; what a hook or
    .grad shows must still be a Tensor backed by an ndarray."""
    x = leaf(2.0)
    m = x * 3
    m.retain_grad()
    seen = []
    m.register_hook(lambda g: seen.append(g))
    (m * m).backward()
    assert isinstance(seen[0].data, np.ndarray) and seen[0].shape == ()
    assert isinstance(m.grad.data, np.ndarray)
    assert np.asarray(m.grad) == 12.0
    assert float(m.grad) == 12.0


def test_retain_grad_accumulates_over_retained_backwards() -> None:
    x = leaf(1.0)
    m = x * 2
    m.retain_grad()
    y = m * 5
    y.backward(retain_graph=True)
    y.backward()
    assert m.grad.item() == 10.0


# ---------------------------------------------------------------------- cr.grad
def test_grad_returns_gradients_without_touching_dot_grad() -> None:
    x = leaf(3.0)
    (g,) = cr.grad(x ** 3, x)
    assert g.item() == 27.0
    assert not g.requires_grad
    assert x.grad is None


def test_grad_with_create_graph_is_differentiable() -> None:
    x = leaf(3.0)
    (g,) = cr.grad(x ** 3, x, create_graph=True)
    assert g.requires_grad
    (g2,) = cr.grad(g, x)
    assert g2.item() == 18.0
    assert x.grad is None


def test_backward_with_create_graph_makes_grad_differentiable() -> None:
    x = leaf(2.0)
    (x ** 4).backward(create_graph=True)
    g = x.grad
    assert g.item() == 32.0 and g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad.item() == 48.0  # 12 x^2


def test_grad_allow_unused() -> None:
    a, b = leaf(1.0), leaf(2.0)
    with pytest.raises(cr.BackwardError, match="allow_unused=True"):
        cr.grad(a * 2, [a, b])
    ga, gb = cr.grad(a * 2, [a, b], allow_unused=True)
    assert ga.item() == 2.0 and gb is None


def test_grad_with_respect_to_intermediate_tensors() -> None:
    a, b = leaf(1.0), leaf(2.0)
    m = a * b
    out = m * m
    gm, ga = cr.grad(out, [m, a])
    assert gm.item() == 4.0  # 2m
    assert ga.item() == 8.0  # 2m b


def test_grad_wrt_an_intermediate_runs_only_the_gates_above_it() -> None:
    """cr.grad(out, [m]) needs nothing below m: those gates do not run, keep their
    saved values, and a later backward through them still works (as in PyTorch)."""
    x = leaf([1.0, 2.0])
    below = []
    x.register_hook(lambda g: below.append(g))
    m = cr.exp(x)
    out = (m * m).sum()
    (gm,) = cr.grad(out, [m])
    np.testing.assert_allclose(gm.detach().numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-15)
    assert below == []                 # nothing reached x
    assert out.creator.freed           # the gates above m ran and were released
    assert not m.creator.freed         # the Exp gate below m did not run
    (m * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.exp([1.0, 2.0]), rtol=1e-15)


def test_grad_wrt_an_intermediate_and_a_leaf_below_it() -> None:
    x = leaf([1.0, 2.0])
    m = cr.exp(x)
    out = (m * m).sum()
    hook_calls = []
    m.register_hook(lambda g: hook_calls.append(1))
    gm, gx = cr.grad(out, [m, x])
    np.testing.assert_allclose(gm.detach().numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-15)
    np.testing.assert_allclose(gx.detach().numpy(), 2 * np.exp([2.0, 4.0]), rtol=1e-15)
    assert hook_calls == [1]


def test_grad_wrt_a_non_leaf_whose_hook_replaces_the_gradient() -> None:
    x = leaf(1.5)
    m = x * 2
    m.register_hook(lambda g: g * 10)
    (gm,) = cr.grad(m * m, [m])
    assert gm.item() == pytest.approx(60.0)  # 2m = 6, times 10


def test_grad_of_several_outputs_with_grad_outputs() -> None:
    x = leaf([1.0, 2.0])
    y1, y2 = x * 2, x * x
    (g,) = cr.grad([y1, y2], x, grad_outputs=[np.ones(2), np.array([1.0, 0.0])])
    np.testing.assert_array_equal(g.detach().numpy(), [4.0, 2.0])


def test_grad_results_are_not_aliased() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    gx, gy = cr.grad((x + y).sum(), [x, y])
    gx.detach().numpy()[0] = 50.0
    assert gy.detach().numpy()[0] == 1.0
    (gx2, gx3) = cr.grad((x * 2).sum(), [x, x])
    gx2.detach().numpy()[0] = 7.0
    assert gx3.detach().numpy()[0] == 2.0


def test_grad_retain_graph_default_follows_create_graph() -> None:
    x = leaf(2.0)
    y = x * x
    cr.grad(y, x)
    with pytest.raises(cr.GraphFreedError):
        cr.grad(y, x)
    y = x * x
    cr.grad(y, x, create_graph=True)
    (g,) = cr.grad(y, x)
    assert g.item() == 4.0


def test_grad_input_that_does_not_require_grad() -> None:
    x = leaf(1.0)
    with pytest.raises(cr.BackwardError, match="input 1"):
        cr.grad(x * 2, [x, cr.tensor(1.0)])


# ---------------------------------------------------------------------- memory
def test_saved_values_are_released_after_backward(no_gc) -> None:
    x = leaf(np.ones(3))
    m = cr.exp(x)
    y = (m * 2).sum()
    gates = [m.creator, y.creator, y.creator.inputs[0].creator]
    y.backward()
    for g in gates:
        assert g.inputs is None
        assert g.__dict__ == {}
        assert g.freed


def test_saved_values_are_kept_with_retain_graph() -> None:
    x = leaf(np.ones(3))
    m = x * 2.0
    m.sum().backward(retain_graph=True)
    assert m.creator.inputs is not None and not m.creator.freed


def test_intermediates_die_when_the_user_drops_them(no_gc) -> None:
    x = leaf(np.ones(3))
    m = cr.exp(x)
    y = (m * 2).sum()
    refs = [weakref.ref(m), weakref.ref(y), weakref.ref(m.creator), weakref.ref(y.creator)]
    y.backward()
    del m, y
    assert all(r() is None for r in refs)
    assert x.grad is not None


def test_a_dropped_graph_is_freed_by_refcounting_alone(no_gc) -> None:
    """No reference cycles: gates hold their inputs, outputs hold their gate, and a gate
    refers back to its output only weakly."""
    x = leaf(np.ones(3))
    h = cr.sigmoid(cr.tanh(x * 2.0) + cr.exp(x))  # Sigmoid, Exp, Tanh save outputs
    y = cr.log_softmax(h).sum() + cr.max(h) + (h @ h) + h[[0, 0]].sum()
    refs = [weakref.ref(h), weakref.ref(y), weakref.ref(h.creator), weakref.ref(y.creator)]
    del h, y
    assert all(r() is None for r in refs)


def test_create_graph_leaves_no_cycles(no_gc) -> None:
    x = leaf([0.5, 1.5])
    y = (cr.tanh(x) ** 3).sum()
    (g,) = cr.grad(y, x, create_graph=True)
    refs = [weakref.ref(g), weakref.ref(y), weakref.ref(g.creator), weakref.ref(y.creator)]
    del g, y
    assert all(r() is None for r in refs)
    assert x.grad is None


# ---------------------------------------------------------------------- no recursion
def _chain(n: int) -> tuple[cr.Tensor, cr.Tensor]:
    x = leaf(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0
    return x, y


def test_deep_chain_backprops_and_frees_without_recursion(no_gc) -> None:
    x, y = _chain(100_000)
    ref = weakref.ref(y.creator)
    y.backward()
    assert x.grad.item() == 1.0
    del y
    assert ref() is None


def test_deep_chain_dropped_without_backward_is_freed() -> None:
    _, y = _chain(100_000)
    ref = weakref.ref(y.creator)
    del y
    assert ref() is None


def test_deep_chain_higher_order() -> None:
    x = leaf(0.5)
    y = x
    for _ in range(3_000):
        y = y * 1.0
    y = y * y
    (g,) = cr.grad(y, x, create_graph=True)
    (g2,) = cr.grad(g, x)
    assert g.item() == pytest.approx(1.0) and g2.item() == pytest.approx(2.0)


@pytest.mark.slow
def test_million_gate_chain_backprops_and_deallocates(no_gc) -> None:
    """A million gates deep: the design's "no recursion anywhere" promise (~8 s).

    The cycle collector is off: this is about recursion, and the collector's passes
    over a million live gates would only add time (it is not needed to free them)."""
    x, y = _chain(1_000_000)
    ref = weakref.ref(y.creator)
    y.backward()
    assert x.grad.item() == 1.0
    del y
    assert ref() is None


# ---------------------------------------------------------------------- dtypes
def test_float32_stays_float32_forward_and_backward() -> None:
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3), dtype=np.float32)
    w = leaf(np.ones((3, 2)), dtype=np.float32)
    b = leaf(np.zeros(2), dtype=np.float32)
    h = cr.affine(x, w, b)
    y = (cr.sigmoid(h) * 2.0 + cr.tanh(h) / 3.0 - cr.exp(h) ** 2).sum()
    z = cr.softmax_cross_entropy(cr.relu(h) + cr.log_softmax(h), np.array([0, 1])) + y
    z = z + cr.logsumexp(h) + cr.mean(cr.sqrt(cr.abs(h) + 1.0)) + cr.var(h)
    for t in (h, y, z):
        assert t.dtype == np.float32, t
    z.backward()
    for t in (x, w, b):
        assert t.grad.dtype == np.float32


def test_float32_gradient_of_broadcast_float64_constant_stays_float32() -> None:
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = x * np.array([2.0, 3.0])  # NumPy promotes the product to float64
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])


def test_astype_round_trip_gradient_dtypes() -> None:
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = x.astype(np.float64) * 2.0
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_integer_constants_mix_with_float_tensors() -> None:
    x = leaf([1.0, 2.0])
    y = x * cr.tensor([2, 3]) + 1
    assert y.dtype == np.float64
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0])


# ---------------------------------------------------------------------- errors
def test_shape_mismatch_names_the_gate_and_both_shapes() -> None:
    with pytest.raises(cr.ShapeError, match=r"Add.*\(3,\).*\(4,\)"):
        leaf(np.ones(3)) + cr.tensor(np.ones(4))
    with pytest.raises(cr.ShapeError, match=r"MatMul.*\(2, 3\).*\(4, 5\)"):
        leaf(np.ones((2, 3))) @ cr.tensor(np.ones((4, 5)))
    with pytest.raises(cr.ShapeError, match=r"Affine.*\(2, 3\).*W of shape \(4, 5\)"):
        cr.affine(leaf(np.ones((2, 3))), cr.tensor(np.ones((4, 5))))
    with pytest.raises(cr.ShapeError, match=r"Affine.*B of shape \(4,\).*\(3, 5\)"):
        cr.affine(cr.tensor(np.ones((2, 3))), cr.tensor(np.ones((3, 5))),
                  cr.tensor(np.ones(4)))
    with pytest.raises(cr.ShapeError, match=r"Stack.*\(2,\).*\(3,\)"):
        cr.stack([cr.tensor(np.ones(2)), cr.tensor(np.ones(3))])
    with pytest.raises(cr.ShapeError, match=r"Concatenate"):
        cr.concatenate([cr.tensor(np.ones((2, 2))), cr.tensor(np.ones((3, 3)))], axis=1)
    assert issubclass(cr.ShapeError, ValueError)


def test_shape_errors_also_without_grad() -> None:
    with pytest.raises(cr.ShapeError, match=r"Mul.*\(2,\).*\(3,\)"):
        cr.tensor(np.ones(2)) * cr.tensor(np.ones(3))


def test_tensor_of_non_numeric_data_is_a_dtype_error() -> None:
    with pytest.raises(cr.DtypeError, match="dtype=object"):
        cr.tensor([object()])


def test_index_out_of_range_names_the_shape() -> None:
    with pytest.raises(IndexError, match=r"\(3,\)"):
        leaf(np.ones(3))[5]


# ---------------------------------------------------------------------- NumPy interop
def test_numpy_functions_on_tensors_record_gates() -> None:
    x = leaf([0.5, 1.0])
    y = np.sum(np.exp(x) * np.array([1.0, 2.0]))
    assert isinstance(y, cr.Tensor) and y.requires_grad
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]) * [1.0, 2.0])


def test_numpy_function_without_gate_refuses_a_tensor_that_requires_grad() -> None:
    x = leaf([0.5, 1.0])
    with pytest.raises(TypeError, match="no chainrule gate"):
        np.interp(x, [0.0, 1.0], [0.0, 2.0])
    with pytest.raises(TypeError, match="no chainrule gate"):
        np.spacing(x)
    # Without requires_grad, they just compute.
    np.testing.assert_array_equal(np.interp(cr.tensor([0.5]), [0.0, 1.0], [0.0, 2.0]), [1.0])


def test_version_is_read_from_the_memory_stamps_the_engine_checks() -> None:
    # A change through detach() (shared memory) is what backward refuses; .version says so
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    assert w.version == 0
    with cr.no_grad():
        w.detach().add_(1.0)
    assert w.version > 0 and w.version == w.detach().version
    with pytest.raises(cr.InplaceModificationError):
        y.backward()
