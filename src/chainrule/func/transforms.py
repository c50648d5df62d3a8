"""vjp, jvp, jacobian, hessian, hvp, vhp and vmap on top of the reverse-mode engine.

Signatures follow ``torch.func`` / ``torch.autograd.functional`` (and JAX):

* ``vjp(f, *primals) -> (out, vjp_fn)``; ``vjp_fn(cotangent)`` returns one gradient per
  primal, a tuple: backprop, the vector-Jacobian product ``uᵀ J``.
* ``jvp(f, primals, tangents) -> (out, tangent_out)``: the Jacobian-vector product
  ``J v``, exact (no finite differences), by **forward mode**: the tangents are pushed
  through the recorded graph oldest gate first, by each gate's ``jvp`` rule where it
  has one (and by the double-vjp trick on that one gate where it has not; see
  :mod:`chainrule.func.forward`). Cost: about a second forward pass.
* ``jacobian(f, *inputs, mode=...)``: shape ``out.shape + in.shape`` per (output,
  input). ``"rev"`` costs one reverse pass per output element, ``"fwd"`` one forward-mode
  product per input element (after one recorded pass); ``"auto"`` picks reverse mode when
  the outputs have at most as many elements as the inputs, forward mode otherwise.
* ``hessian(f, *inputs)`` (the Jacobian of the gradient), ``hvp(f, inputs, v) -> (f(x),
  H v)`` (reverse over forward: the gradient of the tangent ``∇f · v``) and ``vhp``
  (the same for the symmetric Hessian of a twice-differentiable f).
* ``vmap(f, in_dims=0, out_dims=0)``: **a loop fallback**: it calls ``f`` once per
  slice and stacks the results (``cr.stack``), so it is as fast as the loop, and
  differentiable.

Inputs may be Tensors, ndarrays or numbers. Tensors that require grad stay connected to
their graph when ``create_graph=True`` (so a Jacobian can be differentiated again);
otherwise each input becomes a fresh leaf over a read-only view of its array (no copy;
float32 stays float32, an integer input becomes float64). An output that does not
depend on an input gives zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops
from .._tensor import Tensor, wrap
from ..autograd import enable_grad
from ..autograd import grad as _grad
from .forward import push_tangents

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp", "vmap"]

_MODES = ("auto", "rev", "fwd")


def _leaf(x: Any, keep_graph: bool) -> Tensor:
    if isinstance(x, Tensor):
        if keep_graph and x.requires_grad:
            return x
        data = x.data
    else:
        data = np.asarray(x)
    if data.dtype.kind == "c":
        raise TypeError("chainrule.func: complex inputs are not supported")
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    # No copy (torch.func makes none either): a read-only view of the caller's array,
    # so f can modify it neither through the leaf's operators (an error for a leaf that
    # requires grad) nor through its .data (NumPy refuses to write a read-only array).
    view = data.view()
    view.flags.writeable = False
    return wrap(view).requires_grad_(True)


def _outputs(out: Any, where: str) -> tuple[tuple[Tensor, ...], bool]:
    """f's result as a tuple of tensors, and whether it was a tuple."""
    many = isinstance(out, (tuple, list))
    items = tuple(out) if many else (out,)
    fixed = []
    for o in items:
        if not isinstance(o, Tensor):
            if isinstance(o, (int, float, np.ndarray, np.generic)):
                o = Tensor(np.asarray(o, dtype=np.float64))
            else:
                raise TypeError(f"{where}: f must return a Tensor or a tuple of Tensors, got "
                                f"{type(o).__name__}")
        fixed.append(o)
    return tuple(fixed), many


def _grads(outs: Sequence[Tensor], ins: Sequence[Tensor], cots: Sequence[Any],
           create_graph: bool) -> list[Tensor]:
    """sum_k cot_k · d out_k / d ins, zeros (not None) for what does not depend."""
    live = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
    if not live:
        return [_zeros(x) for x in ins]
    gs = _grad([o for o, _ in live], list(ins), grad_outputs=[c for _, c in live],
               retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [_zeros(x) if g is None else g for g, x in zip(gs, ins)]


def _zeros(x: Tensor) -> Tensor:
    return Tensor(np.zeros(x.shape, dtype=x.dtype))


def _as_tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _cotangent(v: Any, like: Tensor, what: str) -> Any:
    arr = v.data if isinstance(v, Tensor) else np.asarray(v, dtype=like.dtype)
    if tuple(np.shape(arr)) != tuple(like.shape):
        raise ValueError(f"{what} of shape {np.shape(arr)} does not match the shape "
                         f"{like.shape} it pairs with")
    return v if isinstance(v, Tensor) else arr


def _paired(where: str, what: str, points: Any, vectors: Any,
            create_graph: bool) -> tuple[list[Tensor], list[Any]]:
    """The inputs as leaves and one vector per input, of its shape (jvp, hvp)."""
    xs, vs = _as_tuple(points), _as_tuple(vectors)
    if len(xs) != len(vs):
        raise ValueError(f"{where}: {len(vs)} {what}s for {len(xs)} inputs")
    ins = [_leaf(x, create_graph) for x in xs]
    return ins, [_cotangent(v, x, f"{where}: {what}") for v, x in zip(vs, ins)]


def vjp(f: Callable[..., Any], *primals: Any, create_graph: bool = False
        ) -> tuple[Any, Callable[..., tuple[Tensor, ...]]]:
    """``(f(*primals), vjp_fn)``; ``vjp_fn(u)`` (``u`` shaped like the output, a tuple for
    a tuple output) returns ``uᵀ J`` for each primal, as a tuple. ``vjp_fn`` may be
    called many times."""
    ins = [_leaf(x, create_graph) for x in primals]
    with enable_grad():
        raw = f(*ins)
    outs, many = _outputs(raw, "vjp")

    def vjp_fn(*cotangents: Any) -> tuple[Tensor, ...]:
        cots = cotangents[0] if len(cotangents) == 1 and many else cotangents
        cots = _as_tuple(cots)
        if len(cots) != len(outs):
            raise ValueError(f"vjp_fn: {len(cots)} cotangents for {len(outs)} outputs")
        cs = [_cotangent(c, o, "vjp_fn: cotangent") for c, o in zip(cots, outs)]
        return tuple(_grads(outs, ins, cs, create_graph))

    return raw if many else outs[0], vjp_fn


def _jvp_builder(outs: Sequence[Tensor], ins: Sequence[Tensor], create_graph: bool
                 ) -> Callable[[Sequence[Any]], list[Tensor]]:
    """A function tangents -> J·tangents (one per output), by forward mode
    (:func:`chainrule.func.forward.push_tangents` over the recorded graph)."""
    def apply(tangents: Sequence[Any]) -> list[Tensor]:
        res = push_tangents(outs, ins, tangents, create_graph=create_graph)
        return [_zeros(o) if r is None else r if isinstance(r, Tensor) else Tensor(r)
                for r, o in zip(res, outs)]

    return apply


def jvp(f: Callable[..., Any], primals: Any, tangents: Any, *,
        create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(*primals), J · tangents)``, forward mode, exact: the tangents are pushed
    through the recorded graph gate by gate (see :mod:`chainrule.func.forward`), at
    about the cost of a second forward pass. ``primals`` and ``tangents`` are a tensor
    each or tuples of the same length and shapes; the result has the structure of f's
    output. With ``create_graph=True`` the product can be differentiated again."""
    ins, ts = _paired("jvp", "tangent", primals, tangents, create_graph)
    with enable_grad():
        raw = f(*ins)
    outs, many = _outputs(raw, "jvp")
    with enable_grad():
        jv = _jvp_builder(outs, ins, create_graph)(ts)
    return (raw, tuple(jv)) if many else (outs[0], jv[0])


def _basis(shape: tuple[int, ...], dtype: Any) -> Any:
    n = int(np.prod(shape, dtype=np.int64))
    for k in range(n):
        e = np.zeros(n, dtype=dtype)
        e[k] = 1
        yield e.reshape(shape)


def jacobian(f: Callable[..., Any], *inputs: Any, mode: str = "auto",
             create_graph: bool = False) -> Any:
    """The Jacobian of ``f`` at ``inputs``: for output ``o`` and input ``x`` a tensor of
    shape ``o.shape + x.shape`` (``J[i..., j...] = d o[i...] / d x[j...]``). Several
    inputs give a tuple per output; a tuple output gives a tuple of those. A single
    tuple argument is read as the inputs (PyTorch's ``jacobian(f, (x, y))``).

    ``mode="rev"``: one reverse pass per output element; ``"fwd"``: one forward-mode
    product per input element; ``"auto"`` (default): reverse when the outputs have no
    more elements than the inputs. ``create_graph=True`` keeps the result differentiable.
    """
    if mode not in _MODES:
        raise ValueError(f"jacobian: mode must be one of {_MODES}, got {mode!r}")
    if len(inputs) == 1 and isinstance(inputs[0], tuple):
        inputs = inputs[0]
        single_in = False
    else:
        single_in = len(inputs) == 1
    ins = [_leaf(x, create_graph) for x in inputs]
    with enable_grad():
        raw = f(*ins)
    outs, many = _outputs(raw, "jacobian")
    n_out = sum(o.size for o in outs)
    n_in = sum(x.size for x in ins)
    if mode == "auto":
        mode = "rev" if n_out <= n_in else "fwd"
    # blocks[k][j]: d outs[k] / d ins[j], as a list of per-element pieces
    if mode == "rev":
        rows: list[list[list[Tensor]]] = [[[] for _ in ins] for _ in outs]
        with enable_grad():
            for k, o in enumerate(outs):
                for e in _basis(o.shape, o.dtype):
                    cots = [e if kk == k else np.zeros(oo.shape, dtype=oo.dtype)
                            for kk, oo in enumerate(outs)]
                    for j, g in enumerate(_grads(outs, ins, cots, create_graph)):
                        rows[k][j].append(g)
        blocks = [[_assemble(rows[k][j], o.shape, x.shape, by_rows=True)
                   for j, x in enumerate(ins)] for k, o in enumerate(outs)]
    else:
        cols: list[list[list[Tensor]]] = [[[] for _ in ins] for _ in outs]
        with enable_grad():
            apply = _jvp_builder(outs, ins, create_graph)
            for j, x in enumerate(ins):
                for e in _basis(x.shape, x.dtype):
                    ts = [e if jj == j else np.zeros(xx.shape, dtype=xx.dtype)
                          for jj, xx in enumerate(ins)]
                    for k, c in enumerate(apply(ts)):
                        cols[k][j].append(c)
        blocks = [[_assemble(cols[k][j], o.shape, x.shape, by_rows=False)
                   for j, x in enumerate(ins)] for k, o in enumerate(outs)]
    per_out = [b[0] if single_in else tuple(b) for b in blocks]
    return tuple(per_out) if many else per_out[0]


def _assemble(pieces: list[Tensor], out_shape: tuple[int, ...], in_shape: tuple[int, ...],
              by_rows: bool) -> Tensor:
    """Stack per-element gradients (rows) or products (columns) into out + in shape."""
    if not pieces:
        return Tensor(np.zeros(out_shape + in_shape))
    if by_rows:   # each piece has in_shape, one per output element
        return ops.reshape(ops.stack(pieces), out_shape + in_shape)
    stacked = ops.stack(pieces)      # (n_in, *out_shape)
    m = len(out_shape)
    moved = ops.moveaxis(stacked, 0, -1) if m else stacked
    return ops.reshape(moved, out_shape + in_shape)


def _scalar(out: Any, where: str) -> Tensor:
    outs, many = _outputs(out, where)
    if many or outs[0].size != 1:
        raise ValueError(f"{where}: f must return a single number (one element), got "
                         f"{'a tuple' if many else f'shape {outs[0].shape}'}")
    return outs[0]


def hessian(f: Callable[..., Any], *inputs: Any, mode: str = "auto",
            create_graph: bool = False) -> Any:
    """The Hessian of a scalar ``f``: shape ``x.shape + x.shape`` for one input, a tuple
    of tuples ``H[i][j]`` (shape ``x_i.shape + x_j.shape``) for several."""
    if len(inputs) == 1 and isinstance(inputs[0], tuple):
        inputs = inputs[0]
        single = False
    else:
        single = len(inputs) == 1

    def gradient(*xs: Tensor) -> Any:
        y = _scalar(f(*xs), "hessian")
        gs = _grads([y], xs, [np.ones(y.shape, dtype=y.dtype)], True)
        return gs[0] if single else tuple(gs)

    h = jacobian(gradient, *inputs, mode=mode, create_graph=create_graph) if single \
        else jacobian(gradient, tuple(inputs), mode=mode, create_graph=create_graph)
    return h


def hvp(f: Callable[..., Any], inputs: Any, v: Any, *,
        create_graph: bool = False) -> tuple[Tensor, Any]:
    """``(f(inputs), H · v)`` for a scalar ``f`` (PyTorch's
    ``torch.autograd.functional.hvp``), no Hessian formed.

    Reverse over forward: ``H v`` is the gradient of the directional derivative
    ``∇f(x) · v``, which forward mode gives as the tangent of ``f`` along ``v``
    (recorded, so that one reverse pass differentiates it). This is Pearlmutter's
    R-operator done by the engine: it never computes the gradient itself, which a
    reverse-over-reverse product computes (the weight gradients of a network, say)
    only to differentiate it.
    """
    ins, cs = _paired("hvp", "v", inputs, v, create_graph)
    with enable_grad():
        y = _scalar(f(*ins), "hvp")
        (dy,) = push_tangents([y], ins, cs, create_graph=True)
        if isinstance(dy, Tensor) and dy.requires_grad:
            hv = _grad([dy], ins, grad_outputs=[np.ones(dy.shape, dtype=dy.dtype)],
                       retain_graph=True, create_graph=create_graph, allow_unused=True)
            hv = [_zeros(x) if h is None else h for h, x in zip(hv, ins)]
        else:
            hv = [_zeros(x) for x in ins]
    return y, (hv[0] if not isinstance(inputs, (tuple, list)) else tuple(hv))


def vhp(f: Callable[..., Any], inputs: Any, v: Any, *,
        create_graph: bool = False) -> tuple[Tensor, Any]:
    """``(f(inputs), vᵀ H)``; the Hessian of a twice continuously differentiable f is
    symmetric, so this equals :func:`hvp` (PyTorch keeps both names)."""
    return hvp(f, inputs, v, create_graph=create_graph)


def vmap(f: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0) -> Callable[..., Any]:
    """``f`` mapped over axis ``in_dims`` of its inputs (an int for all, or one per
    input, ``None`` for an input passed whole), results stacked along ``out_dims``.

    A loop fallback, said plainly: ``f`` runs once per slice (no batching rule per gate),
    so it costs what the Python loop costs; it is differentiable like any composition.
    """
    def mapped(*args: Any) -> Any:
        dims = in_dims if isinstance(in_dims, (tuple, list)) else (in_dims,) * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} inputs")
        sizes = {np.shape(a.data if isinstance(a, Tensor) else a)[d]
                 for a, d in zip(args, dims) if d is not None}
        if len(sizes) != 1:
            raise ValueError(f"vmap: the mapped axes must have one size, got {sorted(sizes)}")
        n = sizes.pop()
        results = []
        for i in range(n):
            sl = [a if d is None else _take(a, d, i) for a, d in zip(args, dims)]
            results.append(f(*sl))
        if isinstance(results[0], (tuple, list)):
            odims = out_dims if isinstance(out_dims, (tuple, list)) else \
                (out_dims,) * len(results[0])
            return tuple(ops.stack([r[k] for r in results], axis=od)
                         for k, od in enumerate(odims))
        return ops.stack(results, axis=out_dims)
    return mapped


def _take(a: Any, axis: int, i: int) -> Any:
    t = a if isinstance(a, Tensor) else Tensor(np.asarray(a))
    axis %= t.ndim
    return t[(slice(None),) * axis + (i,)]
