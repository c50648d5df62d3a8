"""``model.summary(x)``: a table of the layers, their output shapes and parameter counts.

    >>> print(model.summary(np.zeros((64, 784), np.float32)))   # doctest: +SKIP
    Layer (type)        Output shape    Param #
    ===========================================
    0 (Linear)          (64, 50)         39,250
    1 (ReLU)            (64, 50)              0
    2 (Linear)          (64, 10)            510
    ===========================================
    Total params: 39,760
    Trainable params: 39,760
    Non-trainable params: 0

Without an input only the layers and counts are listed. With one, the model is run
once under ``cr.no_grad()`` with a forward hook on every module to read its output
shape; a module called several times in one forward (an RNN cell in a loop) shows the
first output and the number of calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._tensor import Tensor, tensor
from ..autograd import no_grad

__all__ = ["ModelSummary", "SummaryRow", "summary"]


@dataclass
class SummaryRow:
    """One module: its dotted name, class, output shape (or ``None``), calls, parameters."""

    name: str
    type: str
    depth: int
    output_shape: Any
    calls: int
    params: int
    trainable: int


@dataclass
class ModelSummary:
    """What :func:`summary` returns; ``str()`` (or ``print``) is the table."""

    rows: list[SummaryRow]
    total_params: int
    trainable_params: int
    buffers: int

    def __str__(self) -> str:
        heads = ("Layer (type)", "Output shape", "Param #")
        cells = []
        for r in self.rows:
            shape = "" if r.output_shape is None else _shape_text(r.output_shape)
            if r.calls > 1:
                shape += f" x{r.calls} calls"
            cells.append(("  " * r.depth + f"{r.name} ({r.type})", shape, f"{r.params:,}"))
        w = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(heads)]
        line = "=" * (w[0] + w[1] + w[2] + 4)

        def fmt(c: tuple[str, str, str]) -> str:
            return f"{c[0]:<{w[0]}}  {c[1]:<{w[1]}}  {c[2]:>{w[2]}}"

        out = [fmt(heads), line, *(fmt(c) for c in cells), line,
               f"Total params: {self.total_params:,}",
               f"Trainable params: {self.trainable_params:,}",
               f"Non-trainable params: {self.total_params - self.trainable_params:,}"]
        if self.buffers:
            out.append(f"Buffer elements (not learned): {self.buffers:,}")
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(_shape_text(s) for s in shape) + "]"
    return str(tuple(shape))


def _shapes(out: Any) -> Any:
    if isinstance(out, (Tensor, np.ndarray)):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_shapes(o) for o in out]
    return None


def summary(model: Any, *inputs: Any, **kwargs: Any) -> ModelSummary:
    """Layers, output shapes and parameter counts of ``model``.

    Parameters
    ----------
    model:
        An ``nn.Module``.
    *inputs, **kwargs:
        An example input (arrays, tensors, numbers) to run ``model(*inputs, **kwargs)``
        once and record each module's output shape; leave out for counts only.

    A parameter shared by two modules is counted once in the totals (under the first).
    """
    named = list(model.named_modules())
    calls: dict[int, list[Any]] = {}
    if inputs or kwargs:
        handles = []
        for _, m in named:
            def hook(mod: Any, args: Any, out: Any) -> None:
                calls.setdefault(id(mod), []).append(_shapes(out))
            handles.append(m.register_forward_hook(hook))
        args = [a if isinstance(a, Tensor) or not isinstance(a, (np.ndarray, list))
                else tensor(np.asarray(a)) for a in inputs]
        try:
            with no_grad():
                model(*args, **kwargs)
        finally:
            for h in handles:
                h.remove()
    seen: set[int] = set()
    rows = []
    total = trainable = 0
    for name, m in named:
        n = t = 0
        for p in m.parameters(recurse=False):
            if id(p) in seen:
                continue
            seen.add(id(p))
            n += p.size
            t += p.size if p.requires_grad else 0
        total += n
        trainable += t
        got = calls.get(id(m), [])
        if name:
            rows.append(SummaryRow(name, type(m).__name__, name.count("."),
                                   got[0] if got else None, len(got), n, t))
    buffers = sum(b.size for b in model.buffers())
    if named and named[0][1].__dict__["_parameters"]:
        root = named[0][1]
        own = sum(p.size for p in root.parameters(recurse=False))
        rows.insert(0, SummaryRow("(own)", type(root).__name__, 0, None, 0, own,
                                  sum(p.size for p in root.parameters(recurse=False)
                                      if p.requires_grad)))
    return ModelSummary(rows, total, trainable, buffers)
