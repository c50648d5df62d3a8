"""Devices, for PyTorch code: chainrule computes with NumPy on the CPU only.

``model.to("cpu")`` (or ``torch.device("cpu")``) is accepted and changes nothing; any
other device is refused with an error that says why.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_device", "is_device"]

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
