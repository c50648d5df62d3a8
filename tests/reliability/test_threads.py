"""Issue 12, item 1: grad mode per thread, and the engine's shared state under threads.

Every wait has a timeout, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import threading

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.autograd.gate import Gate
from chainrule.autograd.record import apply1
from chainrule.scopes import scope_resolver

TIMEOUT = 10.0


def _run(*targets):
    """Run each target in its own thread; re-raise the first failure in the caller."""
    errors: list[BaseException] = []

    def guarded(fn):
        def body():
            try:
                fn()
            except BaseException as e:  # re-raised in the caller
                errors.append(e)
        return body

    threads = [threading.Thread(target=guarded(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread did not finish in time"
    if errors:
        raise errors[0]


def test_overlapping_no_grad_blocks_in_two_threads_leave_recording_on():
    # A enters, B enters, A leaves, B leaves: with one process-wide flag B restored
    # "off" (what it saw on entry, set by A), so recording stayed off for everyone.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with cr.no_grad():
            a_in.set()
            assert b_in.wait(TIMEOUT)
            seen["a inside"] = cr.is_grad_enabled()
        a_out.set()
        seen["a after"] = cr.is_grad_enabled()

    def b():
        assert a_in.wait(TIMEOUT)
        seen["b before"] = cr.is_grad_enabled()   # A's no_grad must not reach B
        with cr.no_grad():
            b_in.set()
            assert a_out.wait(TIMEOUT)
            seen["b inside"] = cr.is_grad_enabled()
        seen["b after"] = cr.is_grad_enabled()

    _run(a, b)
    assert seen == {"a inside": False, "a after": True, "b before": True,
                    "b inside": False, "b after": True}
    assert cr.is_grad_enabled()
    x = cr.tensor(2.0, requires_grad=True)
    y = x * x
    assert y.requires_grad and y.creator is not None
    y.backward()
    assert x.grad.item() == 4.0


def test_a_thread_records_while_another_is_inside_no_grad():
    inside, recorded = threading.Event(), threading.Event()
    out = {}

    def evaluator():
        with cr.no_grad():
            inside.set()
            assert recorded.wait(TIMEOUT)
            out["eval"] = (cr.tensor(1.0, requires_grad=True) * 3.0).creator

    def trainer():
        assert inside.wait(TIMEOUT)
        w = cr.tensor(3.0, requires_grad=True)
        loss = w * w
        loss.backward()
        out["grad"] = w.grad.item()
        recorded.set()

    _run(evaluator, trainer)
    assert out == {"eval": None, "grad": 6.0}


def test_set_grad_enabled_is_per_thread():
    off, checked = threading.Event(), threading.Event()
    seen = {}

    def switcher():
        cr.set_grad_enabled(False)   # only this thread; it ends with it off
        off.set()
        assert checked.wait(TIMEOUT)

    def other():
        assert off.wait(TIMEOUT)
        seen["other"] = cr.is_grad_enabled()
        checked.set()

    _run(switcher, other)
    assert seen == {"other": True}
    assert cr.is_grad_enabled()


class _Paused(Gate, register=False):
    """y = x²; its backward waits, mid-formula, for another thread to look at the gate."""

    differentiable = ("x",)
    entered = threading.Event()
    go_on = threading.Event()

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        type(self).entered.set()
        assert type(self).go_on.wait(TIMEOUT)
        return 2 * self.x * gy


def test_create_graph_never_swaps_the_saved_values_of_the_gate_itself():
    x = cr.tensor(3.0, requires_grad=True)
    y = apply1(_Paused(), x)
    gate = y.creator
    seen = {}

    def differentiate():
        (g,) = cr.grad(y, [x], create_graph=True)
        seen["g"] = g.item()

    def look():
        assert _Paused.entered.wait(TIMEOUT)
        seen["saved"] = type(gate.__dict__["x"])   # while the formula runs on tensors
        _Paused.go_on.set()

    _run(differentiate, look)
    assert seen == {"g": 6.0, "saved": np.ndarray}


def test_two_threads_stamping_in_place_never_lower_the_last_stamp():
    from chainrule._config import InplaceLog
    ts = [cr.zeros(3) for _ in range(4)]
    start = threading.Barrier(4, timeout=TIMEOUT)

    def stamp(t):
        def body():
            start.wait()
            for _ in range(2000):
                t.add_(1.0)
        return body

    _run(*[stamp(t) for t in ts])
    assert InplaceLog.last == max(t.version for t in ts)
    assert all(t.data.tolist() == [2000.0] * 3 for t in ts)


class Alpha(nn.Module):
    def __init__(self, here, there):
        super().__init__()
        self.here, self.there = here, there

    def forward(self, x):
        self.here.set()                      # both threads are inside their modules
        assert self.there.wait(TIMEOUT)
        self.scope = nn.current_scope()
        return x * 2.0


class Beta(Alpha):
    pass


def test_module_scopes_of_two_threads_calling_at_once_stay_apart():
    a_in, b_in = threading.Event(), threading.Event()
    out = {}

    def call(cls, here, there, key):
        def body():
            x = cr.tensor(1.0, requires_grad=True)
            m = cls(here, there)
            y = m(x)
            y2 = y * 3.0                       # after the call: outside any module
            scope_of = scope_resolver()
            out[key] = (m.scope, scope_of(y.creator), scope_of(y2.creator))
        return body

    _run(call(Alpha, a_in, b_in, "a"), call(Beta, b_in, a_in, "b"))
    assert out["a"][:2] == ("Alpha", "Alpha")
    assert out["b"][:2] == ("Beta", "Beta")
    assert nn.current_scope() is None
