"""Specs of the convolution and pooling gates (``ops/conv.py``, ``ops/pool.py``): the
plain form of each over several shapes, and variants for stride, padding ("same"
included), dilation, groups, ceil mode, the transposed and 1-D convolutions, the
book's im2col/col2im, and max pooling with overlapping windows. Max pooling's inputs
are distinct values (``spread``), so no window has a tie within a finite-difference
step."""

from __future__ import annotations

from .. import ops
from .spec import C, GateSpec, Variant, normal, spread
from .spec import spec as _S
from .spec import variant as _V


def _im2col() -> ops.Im2Col:
    return ops.Im2Col((2, 3), (1, 2), (1, 0, 1, 1))


def _col2im() -> ops.Col2Im:
    return ops.Col2Im((4, 5), (2, 3), (1, 2), (1, 0, 1, 1))


SPECS: list[GateSpec] = [
    _S(ops.Im2Col, lambda x: ops.apply(_im2col(), x), lambda x: (_im2col(), (x,)),
       [C("(1,2,4,5)", normal(1, 2, 4, 5)), C("(2,1,3,3)", normal(2, 1, 3, 3))]),
    _S(ops.Col2Im, lambda c: ops.apply(_col2im(), c), lambda c: (_col2im(), (c,)),
       [C("cols (1,4,3,2,2,3)", normal(1, 4, 3, 2, 2, 3)),
        C("cols (2,4,3,1,2,3)", normal(2, 4, 3, 1, 2, 3))]),
    _S(ops.Conv2d, ops.conv2d, lambda x, w, b: (ops.Conv2d(), (x, w, b)),
       [C("x (1,1,4,4), W (2,1,2,2), b (2,)", normal(1, 1, 4, 4), normal(2, 1, 2, 2), normal(2)),
        C("x (2,3,5,4), W (2,3,3,2), b (2,)", normal(2, 3, 5, 4), normal(2, 3, 3, 2), normal(2))]),
    _S(ops.MaxPool2d, lambda x: ops.max_pool2d(x, 2),
       lambda x: (ops.MaxPool2d((2, 2), (2, 2), (0, 0, 0, 0)), (x,)),
       [C("(1,1,4,4)", spread(1, 1, 4, 4)), C("(2,3,5,4) (a row left over)", spread(2, 3, 5, 4))]),
    _S(ops.AvgPool2d, lambda x: ops.avg_pool2d(x, 2),
       lambda x: (ops.AvgPool2d((2, 2), (2, 2), (0, 0, 0, 0)), (x,)),
       [C("(1,1,4,4)", normal(1, 1, 4, 4)), C("(2,3,5,4)", normal(2, 3, 5, 4))]),
]

VARIANTS: tuple[Variant, ...] = (
    _V(ops.Conv2d, "stride 2, padding 1, no bias",
       lambda x, w: ops.conv2d(x, w, stride=2, padding=1), normal(2, 2, 5, 5), normal(3, 2, 3, 3)),
    _V(ops.Conv2d, "padding 'same', even kernel", lambda x, w: ops.conv2d(x, w, padding="same"),
       normal(1, 2, 4, 5), normal(2, 2, 2, 2)),
    _V(ops.Conv2d, "dilation 2, stride (1,2)",
       lambda x, w, b: ops.conv2d(x, w, b, stride=(1, 2), dilation=2),
       normal(1, 2, 6, 7), normal(2, 2, 2, 3), normal(2)),
    _V(ops.Conv2d, "groups 2", lambda x, w, b: ops.conv2d(x, w, b, groups=2),
       normal(2, 4, 4, 4), normal(4, 2, 2, 2), normal(4)),
    _V(ops.Conv2d, "depthwise (groups = channels)",
       lambda x, w: ops.conv2d(x, w, groups=3, padding=1), normal(1, 3, 4, 4), normal(3, 1, 3, 3)),
    _V(ops.Conv2d, "one image (C, H, W)", lambda x, w: ops.conv2d(x, w),
       normal(2, 4, 4), normal(3, 2, 2, 2)),
    _V(ops.Conv2d, "conv1d, stride 2, padding 1",
       lambda x, w, b: ops.conv1d(x, w, b, stride=2, padding=1),
       normal(2, 3, 7), normal(4, 3, 3), normal(4)),
    _V(ops.Col2Im, "conv_transpose2d, stride 2, padding 1, output_padding 1",
       lambda x, w, b: ops.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
       normal(2, 3, 3, 3), normal(3, 2, 3, 3), normal(2)),
    _V(ops.Col2Im, "conv_transpose2d, groups 2, dilation 2",
       lambda x, w: ops.conv_transpose2d(x, w, groups=2, dilation=2),
       normal(1, 4, 3, 2), normal(4, 1, 2, 2)),
    _V(ops.Im2Col, "the book's im2col, stride 2, pad 1",
       lambda x: ops.im2col(x, 3, 3, stride=2, pad=1), normal(2, 2, 5, 5)),
    _V(ops.Col2Im, "the book's col2im", lambda c: ops.col2im(c, (1, 2, 4, 4), 2, 2, stride=2),
       normal(4, 8)),
    _V(ops.MaxPool2d, "kernel 3, stride 2, padding 1 (overlapping)",
       lambda x: ops.max_pool2d(x, 3, 2, 1), spread(2, 2, 5, 5)),
    _V(ops.MaxPool2d, "kernel (3,2), stride (2,1), ceil mode",
       lambda x: ops.max_pool2d(x, (3, 2), (2, 1), ceil_mode=True), spread(1, 2, 6, 5)),
    _V(ops.MaxPool2d, "dilation 2", lambda x: ops.max_pool2d(x, 2, 1, dilation=2),
       spread(1, 1, 5, 5)),
    _V(ops.AvgPool2d, "kernel 3, stride 2, padding 1, count_include_pad=False",
       lambda x: ops.avg_pool2d(x, 3, 2, 1, count_include_pad=False), normal(2, 2, 5, 5)),
    _V(ops.AvgPool2d, "ceil mode, divisor_override 3",
       lambda x: ops.avg_pool2d(x, 2, ceil_mode=True, divisor_override=3), normal(1, 2, 5, 5)),
)
