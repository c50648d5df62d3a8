"""Containers (ModuleList/Dict, ParameterList/Dict), hooks, to(device), summary()."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


class Stack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 4), nn.Linear(4, 2)])
        self.heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 2)})
        self.scales = nn.ParameterList([np.ones(2), np.full(2, 2.0)])
        self.extra = nn.ParameterDict({"shift": np.zeros(1)})

    def forward(self, x):
        for layer in self.layers:
            x = cr.relu(layer(x))
        x = x * self.scales[0] * self.scales[1]
        return self.heads["a"](x) + self.extra["shift"]


def test_containers_register_everything_with_pytorch_names():
    m = Stack()
    assert list(m.state_dict()) == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
        "heads.a.weight", "heads.a.bias", "heads.b.weight", "heads.b.bias",
        "scales.0", "scales.1", "extra.shift"]
    assert len(list(m.parameters())) == 11
    assert [p.name for p in m.scales] == ["scales.0", "scales.1"]
    y = m(cr.tensor(np.ones((5, 3), np.float32)))
    y.sum().backward()
    assert m.layers[0].weight.grad is not None and m.scales[1].grad.shape == (2,)
    assert m.heads["b"].weight.grad is None   # not used in forward


def test_slicing_a_container_keeps_the_names():
    m = Stack()
    sub = m.layers[1:]
    assert isinstance(sub, nn.ModuleList) and len(sub) == 1 and sub[0] is m.layers[1]
    assert m.layers[1].weight.name == "layers.1.weight"
    ps = m.scales[:1]
    assert isinstance(ps, nn.ParameterList) and ps[0] is m.scales[0]
    assert m.scales[0].name == "scales.0"
    assert "(0): Linear(in_features=3" in repr(m) and "Parameter of shape (2,)" in repr(m)


def test_nested_containers_round_trip_through_state_dict_and_save(tmp_path):
    cr.manual_seed(0)
    a, b = Stack(), Stack()
    b.load_state_dict(a.state_dict())
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    np.testing.assert_array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    cr.save(a.state_dict(), tmp_path / "m.npz")
    c = Stack()
    c.load_state_dict(cr.load(tmp_path / "m.npz"))
    np.testing.assert_array_equal(a(x).detach().numpy(), c(x).detach().numpy())


def test_module_list_behaves_like_a_list():
    ml = nn.ModuleList()
    ml.append(nn.ReLU()).extend([nn.Tanh(), nn.Sigmoid()])
    assert len(ml) == 3 and isinstance(ml[-1], nn.Sigmoid)
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    assert list(ml._modules) == ["0", "1", "2", "3"]
    del ml[1]
    assert [type(m).__name__ for m in ml] == ["Identity", "Tanh", "Sigmoid"]
    assert list(ml._modules) == ["0", "1", "2"]
    sub = ml[1:]
    assert isinstance(sub, nn.ModuleList) and len(sub) == 2
    ml[0] = nn.Linear(2, 2)
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(IndexError, match="out of range for 3"):
        ml[3]
    with pytest.raises(TypeError, match=r"expected an nn\.Module"):
        ml.append(lambda x: x)
    ml += [nn.ReLU()]
    assert len(ml) == 4


def test_module_dict_and_parameter_dict_behave_like_dicts():
    md = nn.ModuleDict([("enc", nn.Linear(2, 3)), ("dec", nn.Linear(3, 2))])
    assert md.keys() == ["enc", "dec"] and "enc" in md and len(md) == 2
    dec = md.pop("dec")
    assert isinstance(dec, nn.Linear) and md.keys() == ["enc"]
    with pytest.raises(KeyError, match="keys: \\['enc'\\]"):
        md["dec"]
    with pytest.raises(KeyError, match="without dots"):
        md["a.b"] = nn.ReLU()
    pd = nn.ParameterDict({"w": cr.tensor([1.0, 2.0])})
    assert isinstance(pd["w"], nn.Parameter) and pd["w"].requires_grad
    pd["v"] = nn.Parameter(np.zeros(3))
    assert [n for n, _ in pd.named_parameters()] == ["w", "v"]
    assert pd.pop("w").shape == (2,) and pd.keys() == ["v"]


@pytest.mark.parametrize("value, fix", [
    ([nn.Linear(2, 2), nn.Linear(2, 2)], "nn.ModuleList"),
    ((nn.ReLU(),), "nn.ModuleList"),
    ({"a": nn.Linear(2, 2)}, "nn.ModuleDict"),
    ([nn.Parameter(np.zeros(2))], "nn.ParameterList"),
    ({"w": nn.Parameter(np.zeros(2))}, "nn.ParameterDict"),
])
def test_a_plain_list_of_modules_or_parameters_is_refused(value, fix):
    m = nn.Module()
    with pytest.raises(TypeError, match=f"self.layers = {fix}") as e:
        m.layers = value
    assert "would not be registered" in str(e.value)
    m.sizes = [3, 4]            # plain data is still fine
    m.fc = nn.Linear(2, 2)
    m.params = {"W": m.fc.weight, "b": m.fc.bias}   # aliases of registered ones too
    m.parts = [m.fc]
    assert len(list(m.parameters())) == 2
    m.names = {"a": 1}
    assert m.sizes == [3, 4]


# ---------------------------------------------------------------------- traversal, API
def test_traversal_apply_and_requires_grad():
    m = Stack()
    assert [n for n, _ in m.named_children()] == ["layers", "heads", "scales", "extra"]
    names = [n for n, _ in m.named_modules()]
    assert names[:4] == ["", "layers", "layers.0", "layers.1"]
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Stack" and seen.count("Linear") == 4
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
    m.layers.requires_grad_(True)
    assert [p.requires_grad for p in m.parameters()][:5] == [True] * 4 + [False]


def test_to_accepts_cpu_and_dtypes_and_refuses_other_devices():
    m = nn.Linear(2, 3)
    assert m.to("cpu") is m and m.weight.dtype == np.float32
    m.to("cpu", np.float64)
    assert m.weight.dtype == np.float64
    m.to(dtype="float32", device="cpu:0")
    assert m.weight.dtype == np.float32
    for dev in ("cuda", "cuda:0", "mps"):
        with pytest.raises(ValueError, match="NumPy on the CPU only"):
            m.to(dev)
    with pytest.raises(TypeError, match="neither a dtype"):
        m.to("gpu-ish")
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    assert t.to("cpu") is t
    y = t.to("cpu", np.float32)
    assert y.dtype == np.float32 and y.requires_grad
    y.sum().backward()
    assert t.grad.dtype == np.float64
    with pytest.raises(ValueError, match=r"Tensor\.to: device 'cuda:1'"):
        t.to("cuda:1")
    torch = pytest.importorskip("torch")
    m.to(torch.device("cpu"))
    with pytest.raises(ValueError, match="'cuda'"):
        m.to(torch.device("cuda"))


# ---------------------------------------------------------------------- hooks
def test_forward_pre_hook_and_forward_hook_can_read_and_replace():
    lin = nn.Linear(2, 2, dtype=np.float64)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(out.shape) or out + 1)
    x = cr.tensor(np.ones((3, 2)))
    y = lin(x)
    ref = 2 * x.numpy() @ lin.weight.detach().numpy() + lin.bias.detach().numpy() + 1
    np.testing.assert_allclose(y.detach().numpy(), ref)
    assert seen == [(3, 2)]
    h1.remove()
    h2.remove()
    h2.remove()   # twice is harmless
    np.testing.assert_allclose(lin(x).detach().numpy(), x.numpy() @ lin.weight.detach().numpy()
                               + lin.bias.detach().numpy())
    with lin.register_forward_hook(lambda m, a, o: o * 0):
        assert np.all(lin(x).detach().numpy() == 0)
    assert np.any(lin(x).detach().numpy() != 0)


def test_hooks_with_kwargs_and_prepend():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m = Scale()
    order = []
    m.register_forward_hook(lambda mod, a, o: order.append("second"))
    m.register_forward_hook(lambda mod, a, o: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, kw: (a, {**kw, "factor": 3.0}),
                                with_kwargs=True)
    seen = {}
    m.register_forward_hook(lambda mod, a, kw, o: seen.update(kw), with_kwargs=True)
    y = m(cr.tensor([1.0, 2.0]), factor=2.0)
    np.testing.assert_array_equal(y.detach().numpy(), [3.0, 6.0])
    assert order == ["first", "second"] and seen == {"factor": 3.0}
    m.register_forward_pre_hook(lambda mod, a, kw: 5, with_kwargs=True)
    with pytest.raises(TypeError, match=r"pair \(args, kwargs\)"):
        m(cr.tensor([1.0]))


def test_full_backward_hook_sees_this_calls_gradients_and_can_replace_them():
    lin = nn.Linear(3, 2, dtype=np.float64)
    got = {}

    def hook(m, grad_input, grad_output):
        got["in"], got["out"] = grad_input, grad_output

    h = lin.register_full_backward_hook(hook)
    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = lin(x)
    (y * cr.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    np.testing.assert_allclose(got["out"][0].detach().numpy(), [[1, 2], [3, 4]])
    expect = np.array([[1, 2], [3, 4]]) @ lin.weight.detach().numpy().T
    np.testing.assert_allclose(got["in"][0].detach().numpy(), expect)
    np.testing.assert_allclose(x.grad.numpy(), expect)
    # Only this call's share: x also feeds a second term outside the module.
    x.grad = None
    (lin(x).sum() + (x * 10).sum()).backward()
    np.testing.assert_allclose(got["in"][0].detach().numpy(),
                               np.ones((2, 2)) @ lin.weight.detach().numpy().T)
    h.remove()
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] * 0,))
    x.grad = None
    lin(x).sum().backward()
    assert np.all(x.grad.numpy() == 0)
    assert lin.weight.grad is not None and np.any(lin.weight.grad.numpy() != 0)


def test_full_backward_hook_without_input_grads_still_fires():
    lin = nn.Linear(3, 2, dtype=np.float64)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: calls.append((gi, go[0].shape)))
    lin(cr.tensor(np.ones((4, 3)))).sum().backward()
    assert calls == [((None,), (4, 2))]


def test_hooks_must_be_callable():
    with pytest.raises(TypeError, match="must be callable"):
        nn.ReLU().register_forward_hook(3)


# ---------------------------------------------------------------------- summary
def test_summary_lists_layers_shapes_and_counts():
    model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
    s = model.summary(np.zeros((64, 784), np.float32))
    assert [(r.name, r.type, r.output_shape, r.params) for r in s.rows] == [
        ("0", "Linear", (64, 50), 39250), ("1", "ReLU", (64, 50), 0),
        ("2", "Linear", (64, 10), 510)]
    assert s.total_params == s.trainable_params == 39760
    text = str(s)
    assert "0 (Linear)" in text and "(64, 50)" in text and "39,250" in text
    assert "Total params: 39,760" in text and "Non-trainable params: 0" in text
    model[0].requires_grad_(False)
    s = model.summary()
    assert s.rows[0].output_shape is None and s.trainable_params == 510
    assert model.summary(np.zeros((1, 784), np.float32)).rows[2].output_shape == (1, 10)
    assert not model[0]._forward_hooks   # the summary's hooks are removed


def test_summary_counts_shared_parameters_once_and_repeated_calls():
    lin = nn.Linear(4, 4)

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = lin
            self.b = lin

        def forward(self, x):
            return self.b(self.a(x))

    s = Twice().summary(np.zeros((2, 4), np.float32))
    assert s.total_params == 20
    assert s.rows[0].calls == 2 and "x2 calls" in str(s)
