"""PyTorch weights in and out: ``cr.nn.load_torch_state_dict`` and ``cr.nn.torch_state_dict``.

chainrule's ``nn.Linear`` computes the seed notes' ``Y = X . W + B``, so its weight is
``(in_features, out_features)``: the **transpose** of PyTorch's ``(out, in)``. Every
other layer keeps PyTorch's layout and names (the recurrent layers' ``weight_ih_l0``
is ``(4*hidden, input)``, as in PyTorch; BatchNorm, LayerNorm, GroupNorm and Embedding
have no orientation), so the only mapping is that transpose. A layer declares the
parameters it stores transposed in its class attribute ``_torch_transposed`` (Linear:
``("weight",)``); a new layer with another orientation declares its own.

    torch_model = torch.nn.Sequential(torch.nn.Linear(784, 100), torch.nn.ReLU(),
                                      torch.nn.Linear(100, 10))
    model = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    cr.nn.load_torch_state_dict(model, torch_model.state_dict())
    ...
    torch_model.load_state_dict({k: torch.from_numpy(v)
                                 for k, v in cr.nn.torch_state_dict(model).items()})

Values may be torch tensors or NumPy arrays (a state dict saved with ``.numpy()``),
so loading needs no torch installed.

Guarding ``load_state_dict`` against a PyTorch state dict: a state dict holding torch
tensors is refused by ``model.load_state_dict`` with a message naming
``load_torch_state_dict``; a NumPy array of a non-square Linear weight in PyTorch's
orientation is refused by its shape with the same advice. A NumPy array of a
*square* Linear weight cannot be told apart from one in chainrule's orientation: it
would load transposed, silently. Load PyTorch weights through
``load_torch_state_dict``, always.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._tensor import Tensor
from ..serialization import CheckpointError, StateDictKeys

__all__ = ["load_torch_state_dict", "refuse_torch_layout", "torch_layout_hint",
           "torch_state_dict"]

_ADVICE = "use cr.nn.load_torch_state_dict(model, state_dict), which transposes them"


def _is_torch(v: Any) -> bool:
    return type(v).__module__.split(".")[0] == "torch" and hasattr(v, "detach")


def _to_numpy(v: Any) -> Any:
    if _is_torch(v):
        return v.detach().cpu().numpy()
    if isinstance(v, Tensor):
        return v.data
    return v


def _transposed_names(model: Any) -> dict[str, Any]:
    """``{state dict name: parameter}`` for every parameter stored transposed."""
    out = {}
    for mname, m in model.named_modules():
        for pname in getattr(type(m), "_torch_transposed", ()):
            p = m._parameters.get(pname)
            if p is not None:
                out[f"{mname}.{pname}" if mname else pname] = p
    return out


def refuse_torch_layout(model: Any, state_dict: Mapping[str, Any]) -> None:
    """Raise ``CheckpointError`` if ``state_dict`` holds torch tensors: it is then a
    PyTorch state dict, whose Linear weights are transposed."""
    where = f"{type(model).__name__}.load_state_dict"
    torchy = [k for k, v in state_dict.items() if _is_torch(v)]
    if torchy:
        raise CheckpointError(
            f"{where}: the state dict holds torch tensors ({len(torchy)} entries, e.g. "
            f"{torchy[0]!r}): this looks like a PyTorch state_dict, whose Linear weights "
            f"are (out, in), the transpose of chainrule's (in, out); {_ADVICE}")


def torch_layout_hint(model: Any, state_dict: Mapping[str, Any]) -> str:
    """The advice to add to a shape error when a Linear weight has PyTorch's (out, in)
    shape (non-square), else ``""``."""
    names = []
    for name, p in _transposed_names(model).items():
        if name in state_dict:
            shape = tuple(np.shape(_to_numpy(state_dict[name])))
            if shape != p.shape and shape == p.shape[::-1]:
                names.append(repr(name))
    if not names:
        return ""
    return (f"  {', '.join(names)}: this looks like a PyTorch (out, in) weight (chainrule's "
            f"Linear weight is (in, out)); {_ADVICE}")


def load_torch_state_dict(model: Any, state_dict: Mapping[str, Any],
                          strict: bool = True) -> StateDictKeys:
    """Load a PyTorch model's ``state_dict()`` into the matching chainrule ``model``.

    Names are PyTorch's (``0.weight``, ``fc1.bias``, ``lstm.weight_ih_l0``); values are
    torch tensors or NumPy arrays. Linear weights (and any parameter a layer lists in
    ``_torch_transposed``) are transposed; everything else is loaded as it is.
    Validation (names, shapes, dtypes) is ``load_state_dict``'s, with ``strict``.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"load_torch_state_dict: expected a mapping of names to tensors, "
                        f"got {type(state_dict).__name__}")
    flip = _transposed_names(model)
    converted: dict[str, Any] = {}
    for k, v in state_dict.items():
        a = _to_numpy(v)
        if k in flip:
            a = np.asarray(a)
            if a.ndim != 2:
                raise CheckpointError(f"load_torch_state_dict: {k!r} should be a 2-D "
                                      f"(out, in) weight, got shape {a.shape}")
            a = a.T
        converted[k] = a
    return model.load_state_dict(converted, strict=strict)


def torch_state_dict(model: Any) -> dict[str, np.ndarray]:
    """``model.state_dict()`` in PyTorch's layout and names (NumPy arrays, copies).

    Load it into the matching PyTorch model with
    ``torch_model.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})``.
    """
    flip = _transposed_names(model)
    sd = model.state_dict()
    return {k: (np.ascontiguousarray(v.T) if k in flip else v) for k, v in sd.items()}
