"""cr.explain and the drawings of a small convolutional net: the conv and pool gates
are named, their local gradients described, in English and Korean."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def _net() -> cr.Tensor:
    x = cr.tensor(np.array([[[[1.0, 2, 0, 1], [0, 1, 3, 2], [2, 0, 1, 1], [1, 3, 0, 2]]]]),
                  requires_grad=True, name="x")
    w = cr.tensor(np.array([[[[1.0, -1], [0.5, 2]]]]), requires_grad=True, name="W")
    b = cr.tensor(np.array([0.5]), requires_grad=True, name="b")
    y = cr.max_pool2d(cr.relu(cr.conv2d(x, w, b)), 2, 1)
    return cr.avg_pool2d(y, 2).sum()


def test_explain_names_and_describes_the_conv_gates() -> None:
    ex = cr.explain(_net())
    text = str(ex)
    for gate in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        assert gate in text
    assert "relu(conv2d(x, W, b))" in text and "max_pool2d1 = [[[[9, 9]," in text
    assert "col2im(· Wᵀ)" in text and "route to max" in text and "÷ window" in text
    # the forward value and the exact gradients of the filter and the bias
    assert "f = 7.875" in text
    assert "df/dW = [[[[1.75, 0.25],\n             [0.75, 2.75]]]]" in text
    assert "df/db = [1]" in text
    full = str(cr.explain(_net(), full=True))
    assert ("df/dx = [[[[0.0, 0.5, -0.5, 0.0],\n             [0.0, 0.25, 1.0, 0.0],\n"
            "             [0.25, -0.25, 0.25, -0.25],\n             [0.125, 0.5, 0.125, 0.5]]]]"
            in full)
    ko = str(cr.explain(_net(), lang="ko"))
    assert "합성곱 계층 Conv2d" in ko and "최대 풀링 계층 MaxPool2d" in ko


def test_the_rules_and_drawings_cover_the_conv_gates() -> None:
    from chainrule.viz import i18n

    for gate in ("Conv2d", "MaxPool2d", "AvgPool2d", "Im2Col", "Col2Im"):
        assert i18n.rule(gate, "en", "") and i18n.rule(gate, "ko", "")
    assert "first one on a tie" in i18n.rule("MaxPool2d", "en", "")
    f = _net()
    dot = cr.viz.to_dot(f)
    assert "conv2d" in dot and "max_pool2d" in dot
    svg = str(cr.viz.to_svg(f))
    assert svg.startswith("<svg") or "<svg" in svg[:300]
    assert "conv2d" in svg
