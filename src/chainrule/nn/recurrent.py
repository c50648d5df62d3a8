"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells, as in PyTorch.

Backpropagation through time is nothing new: ``forward`` unrolls the recurrence over
the time steps with ordinary gates (``matmul``, ``sigmoid``, ``tanh``, ``*``, ``+``),
so backward is the seed notes' chain rule run back through every step, and
``cr.explain`` shows one row per gate per step.

Weights use **PyTorch's layout and names** (unlike ``nn.Linear``, whose weight is the
transpose of PyTorch's): ``weight_ih_l{k}`` is ``(G*hidden_size, input_size)``,
``weight_hh_l{k}`` is ``(G*hidden_size, hidden_size)``, ``bias_ih_l{k}`` and
``bias_hh_l{k}`` are ``(G*hidden_size,)``, with ``G`` = 1 (RNN), 4 (LSTM: gates i, f,
g, o) or 3 (GRU: r, z, n), and ``_reverse`` appended for the backward direction of a
bidirectional layer. A PyTorch ``state_dict`` of these layers therefore loads as it is
(``load_state_dict`` or ``cr.nn.load_torch_state_dict``). All weights start from
``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``, PyTorch's default.

Shapes (``L`` = time steps, ``N`` = batch, ``D`` = 2 if bidirectional else 1):
input ``(L, N, input_size)``, or ``(N, L, input_size)`` with ``batch_first``, or
unbatched ``(L, input_size)``; output ``(L, N, D*hidden_size)``; ``h_n`` (and ``c_n``)
``(D*num_layers, N, hidden_size)`` (``batch_first`` does not apply to them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor, wrap
from ..errors import ShapeError
from . import functional as F
from . import init
from ._arguments import _float_dtype, _positive_int
from .module import Module, Parameter

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}




def _as_tensor(x: Any, dtype: np.dtype) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return wrap(np.asarray(x, dtype=dtype))


# ---------------------------------------------------------------------- one step
# ``xp`` is the input's projection x @ W_ih^T + b_ih (+ b_hh where it can be folded in),
# ``whT`` is W_hh^T, ``bh`` the hidden bias that must stay separate (GRU's n gate).

def _rnn_step(act: Callable) -> Callable:
    def step(xp: Tensor, h: Tensor, whT: Tensor, bh: Any) -> Tensor:
        return act(xp + ops.matmul(h, whT))
    return step


def _lstm_step(xp: Tensor, h: Tensor, c: Tensor, whT: Tensor, H: int
               ) -> tuple[Tensor, Tensor]:
    gates = xp + ops.matmul(h, whT)
    i = ops.sigmoid(gates[..., :H])
    f = ops.sigmoid(gates[..., H:2 * H])
    g = ops.tanh(gates[..., 2 * H:3 * H])
    o = ops.sigmoid(gates[..., 3 * H:])
    c = f * c + i * g
    return o * ops.tanh(c), c


def _gru_step(xp: Tensor, h: Tensor, whT: Tensor, bh: Any, H: int) -> Tensor:
    hp = ops.matmul(h, whT)
    if bh is not None:
        hp = hp + bh
    r = ops.sigmoid(xp[..., :H] + hp[..., :H])
    z = ops.sigmoid(xp[..., H:2 * H] + hp[..., H:2 * H])
    n = ops.tanh(xp[..., 2 * H:] + r * hp[..., 2 * H:])
    return n + z * (h - n)          # (1 - z) * n + z * h


# ---------------------------------------------------------------------- cells
class _CellBase(Module):
    mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        dt = _float_dtype(name, dtype)
        g = _GATES[self.mode] * self.hidden_size
        self.weight_ih = Parameter(np.zeros((g, self.input_size), dt))
        self.weight_hh = Parameter(np.zeros((g, self.hidden_size), dt))
        if self.bias:
            self.bias_ih = Parameter(np.zeros(g, dt))
            self.bias_hh = Parameter(np.zeros(g, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def _input(self, x: Any) -> tuple[Tensor, bool]:
        x = _as_tensor(x, self.weight_ih.data.dtype)
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}({self.input_size}, {self.hidden_size}): input must be "
                             f"(N, {self.input_size}) or ({self.input_size},), got "
                             f"{x.shape}")
        return x, x.ndim == 1

    def _state(self, h: Any, x: Tensor, what: str) -> Tensor:
        shape = (*x.shape[:-1], self.hidden_size)
        if h is None:
            return wrap(np.zeros(shape, dtype=x.data.dtype))
        h = _as_tensor(h, x.data.dtype)
        if h.shape != shape:
            raise ShapeError(f"{type(self).__name__}: {what} must have shape {shape} for "
                             f"an input of shape {x.shape}, got {h.shape}")
        return h

    def _projection(self, x: Tensor) -> Tensor:
        xp = ops.matmul(x, self.weight_ih.T)
        if self.bias_ih is not None:
            xp = xp + self.bias_ih
            if self.mode != "GRU":
                xp = xp + self.bias_hh
        return xp

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(_CellBase):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    ``nonlinearity`` is ``"tanh"`` (default) or ``"relu"``. ``cell(x, h=None)`` with
    ``x`` ``(N, input_size)`` (or unbatched ``(input_size,)``) returns ``h'``.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = np.float32) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, hx: Any = None) -> Tensor:
        x, _ = self._input(x)
        h = self._state(hx, x, "hx")
        act = ops.tanh if self.nonlinearity == "tanh" else ops.relu
        return _rnn_step(act)(self._projection(x), h, self.weight_hh.T, None)


class LSTMCell(_CellBase):
    """One LSTM step (gates i, f, g, o, as PyTorch)::

        i, f, o = sigmoid(...), g = tanh(...)   from x W_ih^T + b_ih + h W_hh^T + b_hh
        c' = f * c + i * g,   h' = o * tanh(c')

    ``cell(x, (h, c)=None)`` returns ``(h', c')``.
    """

    mode = "LSTM"

    def forward(self, x: Any, hx: tuple[Any, Any] | None = None) -> tuple[Tensor, Tensor]:
        x, _ = self._input(x)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTMCell: the state is a pair (h, c), as in PyTorch")
        h = self._state(None if hx is None else hx[0], x, "h")
        c = self._state(None if hx is None else hx[1], x, "c")
        return _lstm_step(self._projection(x), h, c, self.weight_hh.T, self.hidden_size)


class GRUCell(_CellBase):
    """One GRU step (gates r, z, n, as PyTorch)::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z likewise,
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),  h' = (1 - z) * n + z * h

    ``cell(x, h=None)`` returns ``h'``.
    """

    mode = "GRU"

    def forward(self, x: Any, hx: Any = None) -> Tensor:
        x, _ = self._input(x)
        h = self._state(hx, x, "hx")
        return _gru_step(self._projection(x), h, self.weight_hh.T, self.bias_hh,
                         self.hidden_size)


# ---------------------------------------------------------------------- layers
class _RNNBase(Module):
    mode = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.num_layers = _positive_int(name, "num_layers", num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1), got "
                             f"{dropout!r}")
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dt = _float_dtype(name, dtype)
        g = _GATES[self.mode] * self.hidden_size
        D = 2 if self.bidirectional else 1
        self._names: list[tuple[str, ...]] = []
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size * D
            for suffix in ("", "_reverse")[:D]:
                names = (f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}",
                         f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}")
                setattr(self, names[0], Parameter(np.zeros((g, n_in), dt)))
                setattr(self, names[1], Parameter(np.zeros((g, self.hidden_size), dt)))
                if self.bias:
                    setattr(self, names[2], Parameter(np.zeros(g, dt)))
                    setattr(self, names[3], Parameter(np.zeros(g, dt)))
                else:
                    names = names[:2]
                self._names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -k, k)

    def flatten_parameters(self) -> None:
        """Does nothing: PyTorch's cuDNN memory layout call, kept so its code runs."""

    # ---------------------------------------------------------------- checks
    def _check_input(self, x: Any) -> tuple[Tensor, bool]:
        name = type(self).__name__
        x = _as_tensor(x, getattr(self, self._names[0][0]).data.dtype)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
            raise ShapeError(f"{name}(input_size={self.input_size}): input must be "
                             f"{layout.format(self.input_size)} or unbatched "
                             f"(L, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape((x.shape[0], 1, x.shape[1]))
        elif self.batch_first:
            x = x.swapaxes(0, 1)
        return x, unbatched

    def _check_state(self, h: Any, n: int, unbatched: bool, what: str, dtype: Any
                     ) -> Tensor:
        D = 2 if self.bidirectional else 1
        shape = (D * self.num_layers, n, self.hidden_size)
        if h is None:
            return wrap(np.zeros(shape, dtype=dtype))
        h = _as_tensor(h, dtype)
        want = (shape[0], shape[2]) if unbatched else shape
        if h.shape != want:
            raise ShapeError(f"{type(self).__name__}: {what} must have shape {want} "
                             f"(num_layers * num_directions, {'' if unbatched else 'N, '}"
                             f"hidden_size), got {h.shape}")
        return h.reshape(shape) if unbatched else h

    # ---------------------------------------------------------------- running
    def _direction(self, xs: Tensor | list[Tensor], k: int, h: Tensor, c: Tensor | None,
                   reverse: bool) -> tuple[list[Tensor], Tensor, Tensor | None]:
        names = self._names[k]
        w_ih, w_hh = getattr(self, names[0]), getattr(self, names[1])
        b_ih = getattr(self, names[2]) if self.bias else None
        b_hh = getattr(self, names[3]) if self.bias else None
        # The input projection is made step by step: slicing one projection of the whole
        # sequence would cost, in backward, a zero-filled array of the whole sequence
        # per step (indexing scatters into the full shape).
        L = xs.shape[0] if isinstance(xs, Tensor) else len(xs)
        w_ihT, whT = w_ih.T, w_hh.T
        bias = None
        if b_ih is not None:
            bias = b_ih if self.mode == "GRU" else b_ih + b_hh
        H = self.hidden_size

        def proj(t: int) -> Tensor:
            xp = ops.matmul(xs[t], w_ihT)
            return xp if bias is None else xp + bias

        steps = range(L - 1, -1, -1) if reverse else range(L)
        out: list[Tensor] = [None] * L  # type: ignore[list-item]
        if self.mode == "LSTM":
            for t in steps:
                h, c = _lstm_step(proj(t), h, c, whT, H)
                out[t] = h
        elif self.mode == "GRU":
            for t in steps:
                h = _gru_step(proj(t), h, whT, b_hh, H)
                out[t] = h
        else:
            step = _rnn_step(ops.tanh if self.mode == "RNN_TANH" else ops.relu)
            for t in steps:
                h = step(proj(t), h, whT, None)
                out[t] = h
        return out, h, c

    def _run(self, x: Any, h0: Any, c0: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        x, unbatched = self._check_input(x)
        N = x.shape[1]
        dt = x.data.dtype
        h0 = self._check_state(h0, N, unbatched, "h0", dt)
        lstm = self.mode == "LSTM"
        c0 = self._check_state(c0, N, unbatched, "c0", dt) if lstm else None
        D = 2 if self.bidirectional else 1
        layer_in: Tensor | list[Tensor] = x
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                o, h, c = self._direction(layer_in, k, h0[k], c0[k] if lstm else None,
                                          reverse=d == 1)
                outs.append(o)
                hs.append(h)
                cs.append(c)
            layer_in = outs[0] if D == 1 else [ops.concatenate([a, b], axis=-1)
                                                for a, b in zip(*outs)]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = [F.dropout(t, self.dropout, True) for t in layer_in]
        y = ops.stack(layer_in, axis=0)
        h_n = ops.stack(hs, axis=0)
        c_n = ops.stack(cs, axis=0) if lstm else None
        if unbatched:
            y = y[:, 0]
            h_n = h_n[:, 0]
            c_n = c_n[:, 0] if lstm else None
        elif self.batch_first:
            y = y.swapaxes(0, 1)
        return y, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Elman RNN, ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` per layer.

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``rnn(x, h0=None)`` returns
    ``(output, h_n)`` with PyTorch's shapes (see the module notes).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        y, h, _ = self._run(x, hx, None)
        return y, h


class LSTM(_RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber), PyTorch's gates i, f, g, o.

    ``lstm(x, (h0, c0)=None)`` returns ``(output, (h_n, c_n))`` with PyTorch's shapes
    (see the module notes). ``proj_size`` is not supported.
    """

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32) -> None:
        if proj_size:
            raise NotImplementedError("LSTM: proj_size is not supported; project h "
                                      "with an nn.Linear after the LSTM instead")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)

    def forward(self, x: Any, hx: tuple[Any, Any] | None = None
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError("LSTM: the initial state is a pair (h0, c0), as in PyTorch")
        h0, c0 = (None, None) if hx is None else hx
        y, h, c = self._run(x, h0, c0)
        return y, (h, c)


class GRU(_RNNBase):
    """Gated recurrent unit (Cho et al.), PyTorch's gates r, z, n.

    ``gru(x, h0=None)`` returns ``(output, h_n)`` with PyTorch's shapes.
    """

    mode = "GRU"

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        y, h, _ = self._run(x, hx, None)
        return y, h
