"""Argument checks shared by every floor (the bottom floor: NumPy only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DtypeError

__all__ = ["check_device", "complex_grad_error", "is_device", "is_int", "is_number"]


def is_int(v: Any) -> bool:
    """An integer (Python or NumPy), and not a bool (``True`` is an int to Python)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def is_number(v: Any) -> bool:
    """A real number (Python or NumPy int or float), and not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) \
        and not isinstance(v, (bool, np.bool_))


# chainrule computes with NumPy on the CPU only: for PyTorch code, .to('cpu') is
# accepted (and changes nothing) and any other device is refused.
_DEVICE_NAMES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "ipu", "mkldnn")


def is_device(v: Any) -> bool:
    """Whether ``v`` names a device (``'cpu'``, ``'cuda:0'``, a ``torch.device``)."""
    if type(v).__name__ == "device" and hasattr(v, "type"):
        return True   # a torch.device
    return isinstance(v, str) and v.split(":")[0].lower() in _DEVICE_NAMES


def check_device(device: Any, where: str) -> None:
    """Accept ``"cpu"`` (or ``torch.device("cpu")``); refuse every other device."""
    kind = device.type if hasattr(device, "type") else str(device).split(":")[0].lower()
    if kind != "cpu":
        raise ValueError(f"{where}: device {str(device)!r} is not available; chainrule "
                         f"computes with NumPy on the CPU only. Drop the .to({str(device)!r})"
                         f" call, or use 'cpu'")


def complex_grad_error(what: str, dtype: Any) -> DtypeError:
    """The error for a complex tensor that would require grad (``what`` made it)."""
    return DtypeError(
        f"{what}: dtype {np.dtype(dtype)} is complex, and chainrule's autograd is "
        f"real-valued (its gradients of complex values would be wrong), so a complex "
        f"tensor cannot require grad; split it into real and imaginary parts, two real "
        f"tensors that require grad (z = a + ib), or detach() the input to compute "
        f"without gradients")
