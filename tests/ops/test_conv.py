"""Convolution and pooling against PyTorch (float64 values, first and second
derivatives; float32 values and gradients), the book's im2col, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import DtypeError, ShapeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from tests.torch_compare import compare_with_torch  # noqa: E402

rng = np.random.default_rng(7)


def _r(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


CONV2D = [
    ((2, 3, 6, 5), (4, 3, 3, 2), {}),
    ((1, 2, 7, 7), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 2, 6, 7), (2, 2, 2, 3), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2)}),
    ((1, 4, 5, 5), (6, 2, 3, 3), {"groups": 2, "padding": "same"}),
    ((2, 3, 5, 6), (3, 1, 3, 3), {"groups": 3, "padding": 1}),          # depthwise
    ((1, 2, 5, 4), (2, 2, 2, 2), {"padding": "same"}),                    # even kernel
    ((1, 2, 6, 6), (2, 2, 3, 3), {"padding": "valid", "dilation": 2}),
    ((2, 1, 4, 4), (2, 1, 1, 1), {}),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("xs", "ws", "kw"), CONV2D, ids=[str(c[2]) for c in CONV2D])
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(xs: tuple, ws: tuple, kw: dict, bias: bool) -> None:
    arrays = [_r(*xs), _r(*ws)] + ([_r(ws[0])] if bias else [])
    compare_with_torch(lambda *a: cr.conv2d(*a, **kw), lambda *a: TF.conv2d(*a, **kw), arrays)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("xs", "ws", "kw"), CONV2D[:4], ids=[str(c[2]) for c in CONV2D[:4]])
def test_conv2d_float32_matches_torch(xs: tuple, ws: tuple, kw: dict) -> None:
    x, w, b = (a.astype(np.float32) for a in (_r(*xs), _r(*ws), _r(ws[0])))
    X, W, B = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y, ty = cr.conv2d(X, W, B, **kw), TF.conv2d(tx, tw, tb, **kw)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * g).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    for a, t in ((X, tx), (W, tw), (B, tb)):
        assert a.grad.dtype == np.float32
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-5, atol=1e-4)


def test_conv2d_one_image_and_memory_layouts_give_the_same_result() -> None:
    x, w = _r(3, 6, 6), _r(2, 3, 3, 3)
    ref = TF.conv2d(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(cr.conv2d(x, w).data, ref, atol=1e-12)
    batch = x[None]
    channels_last = np.ascontiguousarray(batch.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    strided = np.repeat(batch, 2, axis=3)[..., ::2]
    for arr in (batch, channels_last, strided, np.asfortranarray(batch)):
        np.testing.assert_allclose(cr.conv2d(arr, w).data[0], ref, atol=1e-12)


CONV1D = [((2, 3, 9), (4, 3, 3), {}), ((1, 2, 8), (4, 1, 2), {"groups": 2, "stride": 2}),
          ((2, 2, 7), (2, 2, 3), {"padding": "same", "dilation": 2}),
          ((1, 3, 6), (2, 3, 3), {"padding": 2})]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize(("xs", "ws", "kw"), CONV1D, ids=[str(c[2]) for c in CONV1D])
def test_conv1d_matches_torch(xs: tuple, ws: tuple, kw: dict) -> None:
    arrays = [_r(*xs), _r(*ws), _r(ws[0])]
    compare_with_torch(lambda *a: cr.conv1d(*a, **kw), lambda *a: TF.conv1d(*a, **kw), arrays)


CONVT = [((2, 3, 4, 3), (3, 2, 3, 3), {}),
         ((1, 2, 3, 4), (2, 3, 3, 2), {"stride": 2, "padding": 1, "output_padding": 1}),
         ((1, 4, 3, 3), (4, 1, 2, 2), {"stride": 2, "groups": 2, "dilation": 2}),
         ((1, 2, 4, 4), (2, 2, 3, 3), {"stride": 1, "dilation": 2, "output_padding": 1}),
         ((2, 2, 3, 3), (2, 2, 3, 3), {"stride": 3, "padding": (2, 0),
                                       "output_padding": (2, 1)})]


@pytest.mark.parametrize(("xs", "ws", "kw"), CONVT, ids=[str(c[2]) for c in CONVT])
def test_conv_transpose2d_matches_torch(xs: tuple, ws: tuple, kw: dict) -> None:
    arrays = [_r(*xs), _r(*ws), _r(ws[1] * kw.get("groups", 1))]
    compare_with_torch(lambda *a: cr.conv_transpose2d(*a, **kw),
                       lambda *a: TF.conv_transpose2d(*a, **kw), arrays)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d() -> None:
    x, w, g = _r(1, 2, 7, 7), _r(3, 2, 3, 3), None
    X = cr.tensor(x, requires_grad=True)
    y = cr.conv2d(X, w, stride=2, padding=1)
    g = _r(*y.shape)
    (dx,) = cr.grad(y, [X], grad_outputs=g)
    np.testing.assert_allclose(cr.conv_transpose2d(g, w, stride=2, padding=1).data, dx.data,
                               atol=1e-12)


POOLS = [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
         {"kernel_size": (3, 2), "stride": (2, 1), "ceil_mode": True},
         {"kernel_size": 2, "stride": 1, "dilation": 2},
         {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}]


def _distinct(*shape: int) -> np.ndarray:
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1).reshape(shape)


@pytest.mark.parametrize("kw", POOLS, ids=str)
def test_max_pool2d_matches_torch(kw: dict) -> None:
    compare_with_torch(lambda a: cr.max_pool2d(a, **kw), lambda a: TF.max_pool2d(a, **kw),
                       [_distinct(2, 3, 7, 8)])
    x = _distinct(2, 3, 7, 8)
    _y, idx = cr.max_pool2d(x, **kw, return_indices=True)
    _ty, tidx = TF.max_pool2d(torch.tensor(x), **kw, return_indices=True)
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    assert idx.data.dtype == np.int64 and not idx.requires_grad


@pytest.mark.parametrize("kw", [{"kernel_size": 2}, {"kernel_size": 3, "stride": 1},
                                {"kernel_size": 3, "stride": 2, "padding": 1}], ids=str)
def test_max_pool2d_ties_go_to_the_first_maximum_as_in_torch(kw: dict) -> None:
    x = rng.integers(0, 3, (2, 2, 6, 6)).astype(np.float64)   # many ties
    X, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = cr.max_pool2d(X, **kw), TF.max_pool2d(tx, **kw)
    g = rng.standard_normal(y.shape)
    (y * g).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    # the same routing (a wrong one would differ by O(1)); sums may differ in the last bit
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), rtol=1e-15, atol=1e-15)
    # each window's gradient goes to exactly one input: the total is preserved
    assert np.isclose(X.grad.sum(), g.sum())


def test_max_pool2d_with_nan_routes_to_the_last_nan_as_torch() -> None:
    x = _r(1, 2, 4, 4)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 1, 3, 2] = np.nan
    X, tx = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = cr.max_pool2d(X, 2), TF.max_pool2d(tx, 2)
    np.testing.assert_array_equal(np.isnan(y.data), np.isnan(ty.detach().numpy()))
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(X.grad, tx.grad.numpy())


AVGS = [{"kernel_size": 2}, {"kernel_size": 3, "stride": 2, "padding": 1},
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
        {"kernel_size": (3, 2), "stride": (2, 1), "ceil_mode": True},
        {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
         "count_include_pad": False},
        {"kernel_size": 2, "padding": 1, "divisor_override": 3}]


@pytest.mark.parametrize("kw", AVGS, ids=str)
def test_avg_pool2d_matches_torch(kw: dict) -> None:
    compare_with_torch(lambda a: cr.avg_pool2d(a, **kw), lambda a: TF.avg_pool2d(a, **kw),
                       [_r(2, 3, 7, 8)])


def test_pool_float32_keeps_dtype_and_matches_torch() -> None:
    x = _r(2, 3, 8, 8).astype(np.float32)
    for ours, theirs in ((cr.max_pool2d, TF.max_pool2d), (cr.avg_pool2d, TF.avg_pool2d)):
        y = ours(x, 2)
        assert y.dtype == np.float32
        np.testing.assert_allclose(y.data, theirs(torch.tensor(x), 2).numpy(), rtol=1e-6)


def _book_im2col(x: np.ndarray, fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """Chapter 7's im2col, position by position (a slow, obviously right reference)."""
    n, _c, h, w = x.shape
    oh, ow = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = []
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                win = xp[b, :, i * stride:i * stride + fh, j * stride:j * stride + fw]
                rows.append(win.reshape(-1))
    return np.array(rows)


@pytest.mark.parametrize(("shape", "fh", "fw", "stride", "pad"),
                         [((1, 3, 7, 7), 5, 5, 1, 0), ((10, 3, 7, 7), 5, 5, 1, 0),
                          ((2, 2, 6, 5), 3, 2, 2, 1)])
def test_im2col_is_the_books(shape: tuple, fh: int, fw: int, stride: int, pad: int) -> None:
    x = _r(*shape)
    col = cr.im2col(x, fh, fw, stride, pad)
    np.testing.assert_array_equal(col.data, _book_im2col(x, fh, fw, stride, pad))
    if shape[0] in (1, 10):                        # the book's printed shapes
        assert col.shape == ({1: 9, 10: 90}[shape[0]], 75)


def test_col2im_is_the_adjoint_of_im2col() -> None:
    x = _r(2, 3, 6, 5)
    col = cr.im2col(x, 3, 2, stride=2, pad=1)
    c = _r(*col.shape)
    back = cr.col2im(c, x.shape, 3, 2, stride=2, pad=1)
    assert np.isclose(np.sum(col.data * c), np.sum(x * back.data))
    ones = cr.col2im(np.ones(col.shape), x.shape, 3, 2, stride=2, pad=1).data
    counts = TF.fold(torch.ones(2, 18, col.shape[0] // 2), (6, 5), (3, 2), padding=1,
                     stride=2).numpy()                  # 3 channels of 3x2 windows each
    np.testing.assert_array_equal(ones, counts)


def test_conv2d_equals_the_books_im2col_matmul() -> None:
    x, w, b = _r(2, 3, 6, 6), _r(4, 3, 3, 3), _r(4)
    col = cr.im2col(x, 3, 3, stride=1, pad=1)
    y = (col @ w.reshape(4, -1).T + b).reshape(2, 6, 6, 4).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(cr.conv2d(x, w, b, padding=1).data, y.data, atol=1e-12)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: cr.conv2d(_r(1, 3, 5, 5), _r(2, 2, 3, 3)), r"conv2d: weight of shape \(2, 2, 3, 3\)"
     r" does not fit input of shape \(1, 3, 5, 5\)"),
    (lambda: cr.conv2d(_r(1, 4, 5, 5), _r(3, 2, 3, 3), groups=2), "C_out divisible by 2"),
    (lambda: cr.conv2d(_r(1, 3, 5, 5), _r(2, 3, 3, 3), _r(3)), r"bias of shape \(3,\)"),
    (lambda: cr.conv2d(_r(5, 5), _r(2, 1, 3, 3)), r"expected a batch of images \(N, C, H, W\)"),
    (lambda: cr.conv2d(_r(1, 1, 2, 2), _r(1, 1, 3, 3)), "smaller than the kernel"),
    (lambda: cr.conv2d(_r(1, 1, 5, 5), _r(1, 1, 3, 3), stride=2, padding="same"),
     "padding='same' is not supported for strided"),
    (lambda: cr.conv2d(_r(1, 1, 5, 5), _r(1, 1, 3, 3), padding="full"), "padding must be"),
    (lambda: cr.conv2d(_r(1, 1, 5, 5), _r(1, 1, 3, 3), stride=0), "stride must be at least 1"),
    (lambda: cr.conv2d(_r(1, 1, 5, 5), _r(1, 1, 3), stride=1), "weight must be 4-D"),
    (lambda: cr.max_pool2d(_r(1, 1, 4, 4), 2, padding=2), "at most half the kernel size"),
    (lambda: cr.max_pool2d(_r(4, 4), 2), r"expected \(N, C, H, W\) or \(C, H, W\)"),
    (lambda: cr.conv_transpose2d(_r(1, 2, 3, 3), _r(2, 1, 3, 3), stride=2, output_padding=2),
     "output_padding"),
    (lambda: cr.col2im(_r(5, 4), (1, 1, 4, 4), 2, 2), r"expected \(9, 4\)"),
])
def test_errors_name_the_op_and_the_shapes(call, match: str) -> None:
    with pytest.raises((ShapeError, ValueError), match=match):
        call()


def test_integer_images_are_refused_with_a_hint() -> None:
    with pytest.raises(DtypeError, match=r"conv2d: expected floating-point.*astype"):
        cr.conv2d(np.ones((1, 1, 4, 4), dtype=np.uint8), _r(1, 1, 2, 2))
    with pytest.raises(DtypeError, match="max_pool2d"):
        cr.max_pool2d(np.ones((1, 1, 4, 4), dtype=np.int64), 2)
