"""nn.Module and nn.Parameter: registration, names, traversal, modes, state dicts, scopes."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import InplaceModificationError
from chainrule.nn import module as module_mod
from chainrule.random import manual_seed
from chainrule.scopes import scope_resolver
from chainrule.serialization import CheckpointError, load, save


class Net(nn.Module):
    """A model with a nested Sequential, a head, and one gate of its own in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.BatchNorm1d(5))
        self.head = nn.Linear(5, 3)
        self.scale = 2.0

    def forward(self, x):
        return self.head(self.layers(x)) * self.scale


def gates_of(y: cr.Tensor) -> list:
    out, stack, seen = [], [y.creator], set()
    while stack:
        g = stack.pop()
        if g is None or id(g) in seen:
            continue
        seen.add(id(g))
        out.append(g)
        stack.extend(t.creator for t in g.inputs if isinstance(t, cr.Tensor))
    return out


# ---------------------------------------------------------------------- Parameter
def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, cr.Tensor)
    assert p.requires_grad and p.is_leaf
    assert p.dtype == np.float64
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    q = p * 3
    assert type(q) is cr.Tensor and q.requires_grad
    frozen = nn.Parameter(np.zeros(2, np.float32), requires_grad=False)
    assert not frozen.requires_grad and frozen.dtype == np.float32


def test_parameter_copies_its_data_and_rejects_integers():
    a = np.ones(3)
    p = nn.Parameter(a)
    a[0] = 5
    assert p.data[0] == 1
    with pytest.raises(cr.DtypeError, match="floating-point"):
        nn.Parameter(np.arange(3))


# ---------------------------------------------------------------------- registration
def test_parameters_and_submodules_are_registered_with_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                     "head.weight", "head.bias"]
    # The same names are written into .name for explain/viz.
    assert [p.name for p in net.parameters()] == names
    assert [n for n, _ in net.named_buffers()] == [
        "layers.2.running_mean", "layers.2.running_var", "layers.2.num_batches_tracked"]
    assert [n for n, _ in net.named_modules()] == [
        "", "layers", "layers.0", "layers.1", "layers.2", "head"]
    assert [n for n, _ in net.named_children()] == ["layers", "head"]
    assert list(net.children()) == [net.layers, net.head]
    assert len(list(net.modules())) == 6
    assert net.scale == 2.0 and "scale" not in net._parameters


def test_a_sequential_root_names_parameters_by_position():
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert [p.name for p in model.parameters()] == ["0.weight", "0.bias", "2.weight",
                                                     "2.bias"]


def test_user_given_parameter_names_are_kept():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.zeros(2), name="W1")
            self.v = nn.Parameter(np.zeros(2))

    outer = nn.Sequential(M())
    assert [p.name for p in outer.parameters()] == ["W1", "0.v"]
    assert [n for n, _ in outer.named_parameters()] == ["0.w", "0.v"]


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert len(list(model.named_parameters(remove_duplicate=False))) == 2  # module deduped
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 3
    assert set(tied.state_dict()) == {"0.weight", "0.bias", "1.weight", "1.bias"}


def test_assignments_that_would_corrupt_the_registry_are_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Early()
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="is a parameter"):
        lin.weight = cr.tensor(np.zeros((2, 2)))
    lin.bias = None  # allowed: removes the bias
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    seq = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="is a submodule"):
        setattr(seq, "0", 3)
    with pytest.raises(KeyError, match="invalid name"):
        lin.register_parameter("a.b", nn.Parameter([1.0]))
    with pytest.raises(TypeError, match=r"must be an nn\.Parameter"):
        lin.register_parameter("c", cr.tensor([1.0]))
    with pytest.raises(TypeError, match="buffer"):
        lin.register_buffer("stat", [1, 2])


def test_reassigning_an_attribute_moves_it_between_registries():
    m = nn.Module()
    m.a = nn.Parameter([1.0])
    m.a = nn.ReLU()
    assert "a" not in m._parameters and m._modules["a"] is m.a
    del m.a
    assert "a" not in m._modules and not hasattr(m, "a")


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# ---------------------------------------------------------------------- repr
def test_repr_is_a_pytorch_like_tree():
    assert repr(Net()) == (
        "Net(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=5, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): BatchNorm1d(5, eps=1e-05, momentum=0.1, affine=True, "
        "track_running_stats=True)\n"
        "  )\n"
        "  (head): Linear(in_features=5, out_features=3, bias=True)\n"
        ")")
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


# ---------------------------------------------------------------------- modes, grads, dtype
def test_train_and_eval_propagate_to_every_module():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.layers.train(False)
    assert net.training and not net.layers[2].training


def test_zero_grad_sets_none_or_zeros():
    model = nn.Sequential(nn.Linear(3, 2))
    F.mse_loss(model(np.ones((4, 3), np.float32)), np.zeros((4, 2), np.float32)).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_double_and_float_convert_parameters_and_float_buffers():
    net = Net()
    assert all(p.dtype == np.float32 for p in net.parameters())
    net.double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.layers[2].running_mean.dtype == np.float64
    assert net.layers[2].num_batches_tracked.dtype == np.int64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(cr.DtypeError):
        net.to(np.int32)


def test_requires_grad_freezes_a_model():
    model = nn.Linear(2, 2).requires_grad_(False)
    y = model(np.ones((1, 2), np.float32))
    assert not y.requires_grad


def test_apply_visits_children_before_parents():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Linear", "Sequential", "Net"]


def test_deepcopy_gives_an_independent_model():
    net = Net()
    twin = copy.deepcopy(net)
    assert twin.head.weight is not net.head.weight
    np.testing.assert_array_equal(twin.head.weight.data, net.head.weight.data)
    twin.head.weight.data += 1
    assert not np.array_equal(twin.head.weight.data, net.head.weight.data)


# ---------------------------------------------------------------------- state dicts
def test_state_dict_holds_copies_of_parameters_and_buffers():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == ["layers.0.weight", "layers.0.bias", "layers.2.weight",
                        "layers.2.bias", "layers.2.running_mean", "layers.2.running_var",
                        "layers.2.num_batches_tracked", "head.weight", "head.bias"]
    assert all(isinstance(v, np.ndarray) for v in sd.values())
    assert sd["layers.0.weight"].shape == (4, 5)
    sd["head.bias"][:] = 99
    assert not (net.head.bias.data == 99).any()


def test_state_dict_round_trips_through_save_and_load(tmp_path):
    manual_seed(1)
    a = Net()
    a(np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32))  # moves BN stats
    save(a.state_dict(), tmp_path / "net.npz")
    manual_seed(2)
    b = Net()
    assert not np.array_equal(a.head.weight.data, b.head.weight.data)
    keys = b.load_state_dict(load(tmp_path / "net.npz"))
    assert keys.missing_keys == [] and keys.unexpected_keys == []
    for (na, va), (nb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb
        np.testing.assert_array_equal(va, vb)
    assert int(b.layers[2].num_batches_tracked.data) == 1
    x = np.ones((2, 4), np.float32)
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_state_dict_lists_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    bad = net.state_dict()
    del bad["head.bias"]
    bad["extra.weight"] = np.zeros(3)
    bad["layers.0.weight"] = np.zeros((5, 4))
    with pytest.raises(CheckpointError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "missing keys (1): 'head.bias'" in msg
    assert "unexpected keys (1): 'extra.weight'" in msg
    assert "'layers.0.weight': expected shape (4, 5), got (5, 4)" in msg
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert isinstance(info.value, ValueError)


def test_non_strict_loading_skips_stray_keys_but_not_bad_shapes():
    net = Net()
    partial = {"head.weight": np.full((5, 3), 0.5), "other": np.zeros(1)}
    keys = net.load_state_dict(partial, strict=False)
    assert "head.bias" in keys.missing_keys and keys.unexpected_keys == ["other"]
    np.testing.assert_array_equal(net.head.weight.data, np.full((5, 3), 0.5, np.float32))
    assert net.head.weight.dtype == np.float32  # float64 values cast into float32
    with pytest.raises(CheckpointError, match="expected shape"):
        net.load_state_dict({"head.weight": np.zeros((3, 5))}, strict=False)


def test_load_state_dict_refuses_a_cast_across_kinds():
    net = Net()
    sd = net.state_dict()
    sd["layers.2.num_batches_tracked"] = np.array(2.5)
    with pytest.raises(CheckpointError, match="cannot cast float64 to int64"):
        net.load_state_dict(sd)
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([("head.bias", np.zeros(3))])


def test_load_state_dict_accepts_tensors_and_bumps_versions():
    lin = nn.Linear(2, 1, dtype=np.float64)
    x = cr.tensor(np.ones((1, 2)))
    y = lin(x).sum()
    lin.load_state_dict({"weight": cr.tensor([[1.0], [2.0]]), "bias": cr.tensor([0.5])})
    np.testing.assert_array_equal(lin.weight.data, [[1.0], [2.0]])
    with pytest.raises(InplaceModificationError):
        y.backward()


# ---------------------------------------------------------------------- scopes
def test_module_calls_tag_their_gates_with_qualified_names():
    net = Net()
    x = cr.tensor(np.ones((3, 4), np.float32))
    y = net(x)
    loss = F.mse_loss(y, np.zeros((3, 3), np.float32))
    by_scope: dict[str, list[str]] = {}
    scope_of = scope_resolver()
    for g in gates_of(loss):
        by_scope.setdefault(scope_of(g), []).append(type(g).__name__)
    assert by_scope["layers.0"] == ["Affine"]
    assert by_scope["layers.1"] == ["ReLU"]
    assert sorted(by_scope["layers.2"]) == sorted(
        ["Mean", "Var", "Sub", "Add", "Sqrt", "Div", "Mul", "Add"])
    assert by_scope["head"] == ["Affine"]
    assert by_scope["Net"] == ["Mul"]             # made in Net.forward itself
    assert sorted(by_scope[None]) == ["Mean", "Mul", "Sub"]  # the loss, outside any module


def test_current_scope_names_the_running_module():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(nn.current_scope())
            return x

    model = nn.Sequential(nn.Linear(2, 2), Probe())
    model(cr.tensor(np.ones((1, 2), np.float32)))
    assert seen == ["1"]
    assert nn.current_scope() is None
    Probe()(1.0)
    assert seen[-1] == "Probe"


def test_scope_recording_can_be_switched_off_and_is_skipped_without_grad(monkeypatch):
    model = nn.Sequential(nn.Linear(2, 2))
    x = np.ones((1, 2), np.float32)
    monkeypatch.setattr(module_mod, "RECORD_SCOPES", False)
    y = model(x)
    assert scope_resolver()(y.creator) is None
    monkeypatch.setattr(module_mod, "RECORD_SCOPES", True)
    y = model(x)
    assert scope_resolver()(y.creator) == "0"   # the resolver snapshots the log: build it after
    with cr.no_grad():
        assert model(x).creator is None


def test_scopes_cover_every_gate_of_a_long_forward_and_survive_backward():
    class Deep(nn.Module):
        def forward(self, x):
            for _ in range(5000):
                x = x + 1.0
            return x

    x = cr.tensor(0.0, requires_grad=True)
    y = Deep()(x)
    gates = gates_of(y)
    y.backward()                      # releases saved values; the scope log is separate
    scope_of = scope_resolver()
    assert len(gates) == 5000 and all(scope_of(g) == "Deep" for g in gates)
    assert y.item() == 5000.0


@pytest.mark.parametrize("children", [10, 70, 1000])
def test_a_gate_after_many_child_calls_keeps_its_module_scope(children):
    # The resolver once walked back at most 64 sibling intervals: a gate that a module
    # made after more than 64 child calls lost its scope.
    class Deep(nn.Module):
        def __init__(self):
            super().__init__()
            self.kids = nn.Sequential(*[nn.Identity() for _ in range(children)])
            self.scale = nn.Parameter(np.float64(2.0))

        def forward(self, x):
            for kid in self.kids:
                x = kid(x) * 1.0
            return x * self.scale

    x = cr.tensor(1.0, requires_grad=True)
    y = Deep()(x)
    scope_of = scope_resolver()
    assert scope_of(y.creator) == "Deep"
    inner = y.creator.inputs[0].creator          # the last `* 1.0`, made by Deep itself
    assert scope_of(inner) == "Deep"
