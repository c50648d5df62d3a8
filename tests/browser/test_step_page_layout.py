"""The step-through page fits its viewport: no sideways scrolling at 1280x800 or on a
390 px phone, the step card in view at 1280x800, for the seeds' graph and a small MLP."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

pytestmark = pytest.mark.browser

def _abc() -> cr.Tensor:
    a, b, c = (cr.tensor(v, requires_grad=True, name=n) for v, n in
               ((-1.0, "a"), (3.0, "b"), (4.0, "c")))
    return (a + b) * (b + c)


def _mlp() -> cr.Tensor:
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((2, 3)), name="x")
    w1 = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True, name="W1")
    b1 = cr.tensor(np.zeros(4), requires_grad=True, name="b1")
    w2 = cr.tensor(rng.standard_normal((4, 2)), requires_grad=True, name="W2")
    h = cr.relu(cr.affine(x, w1, b1))
    return cr.softmax_cross_entropy(h @ w2, np.array([0, 1]))


def _deep_mlp() -> cr.Tensor:
    from chainrule import nn
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Sigmoid(), nn.Linear(5, 4), nn.ReLU(),
                          nn.Linear(4, 3))
    model.double()
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 4)), name="x")
    return nn.functional.cross_entropy(model(x), np.array([0, 2]))


def _residual() -> cr.Tensor:
    from chainrule import nn
    cr.manual_seed(0)
    layer = nn.Sequential(nn.Linear(3, 3), nn.Tanh())
    layer.double()
    h = layer(cr.tensor(np.random.default_rng(1).standard_normal((2, 3)), name="x"))
    return cr.sum(h * h + h)


def _conv() -> cr.Tensor:
    """The tiny convolutional net of the conv issue: one 1x4x4 image, one 2x2 filter."""
    x = cr.tensor(np.array([[[[1.0, 2, 0, 1], [0, 1, 3, 2], [2, 0, 1, 1], [1, 3, 0, 2]]]]),
                  requires_grad=True, name="x")
    w = cr.tensor(np.array([[[[1.0, -1], [0.5, 2]]]]), requires_grad=True, name="W")
    b = cr.tensor(np.array([0.5]), requires_grad=True, name="b")
    return cr.max_pool2d(cr.relu(cr.conv2d(x, w, b)), 2, 1).sum()


def _fan_out() -> cr.Tensor:
    x, y, z = (cr.tensor(v, requires_grad=True, name=n) for v, n in
               ((0.5, "x"), (2.0, "y"), (-1.5, "z")))
    return x * x + x * y + cr.sin(x) + cr.exp(x) + x / y + x * z


def _reuse() -> cr.Tensor:
    x, y = (cr.tensor(v, requires_grad=True, name=n) for v, n in ((0.5, "x"), (2.0, "y")))
    h = cr.tanh(x * y)
    return h * h * h + h + cr.exp(h)


GRAPHS = {"abc": _abc, "mlp": _mlp, "deep": _deep_mlp, "residual": _residual, "conv": _conv,
          "fan": _fan_out, "reuse": _reuse}

#: (text labels that overlap, cluster boxes that overlap, labels outside the drawing)
OVERLAP_JS = (Path(__file__).with_name("overlap.js")).read_text(encoding="utf-8")


@pytest.mark.parametrize("graph", ["abc", "mlp", "conv"])
@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_page_fits_the_viewport(browser, tmp_path: Path, graph: str, width: int,
                                height: int) -> None:
    y = GRAPHS[graph]()
    path = tmp_path / f"{graph}.html"
    cr.viz.to_html(y, path)
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(path.as_uri())
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"the page is {scroll} px wide in a {width} px viewport"
        for sel in ("[data-testid=step-next]", "[data-testid=step-slider]",
                    "[data-testid=step-detail]", "[data-testid=gradients]"):
            box = page.locator(sel).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, sel
        if width >= 1280:
            detail = page.locator("[data-testid=step-detail]").bounding_box()
            assert detail["y"] < height, "the step card starts below the fold"
        page.keyboard.press("End")
        assert page.locator("[data-testid=step-phase]").inner_text()
    finally:
        page.close()


@pytest.mark.parametrize("engine", ["own", "dot"])
@pytest.mark.parametrize("graph", ["abc", "mlp", "deep", "residual", "conv", "fan", "reuse"])
def test_no_label_is_clipped_and_no_cluster_overlaps(browser, tmp_path: Path,
                                                     graph: str, engine: str) -> None:
    if engine == "dot" and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    y = GRAPHS[graph]()
    path = tmp_path / f"{graph}.html"
    cr.viz.to_html(y, path, engine=engine)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(path.as_uri())
        page.keyboard.press("End")            # every value and gradient label shown
        n_overlaps, pairs, cluster_overlaps, clipped = page.evaluate(OVERLAP_JS)
        assert clipped == [], f"labels outside the drawing: {clipped}"
        assert cluster_overlaps == 0
        assert n_overlaps == 0, pairs
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_tiny_conv_net_shows_its_numbers(browser, tmp_path: Path, width: int) -> None:
    path = tmp_path / "conv.html"
    cr.viz.to_html(_conv(), path)
    page = browser.new_page(viewport={"width": width, "height": 844})
    try:
        page.goto(path.as_uri())
        page.keyboard.press("End")
        page.keyboard.press("ArrowLeft")      # the Conv2d gate's backward step
        assert "Conv2d" in page.locator("[data-testid=step-title]").inner_text()
        card = page.locator("[data-testid=step-detail]").inner_text()
        # the forward output, every value of the 3x3 map
        assert "[[1.5, 9, 5]," in card and "[9, 1, 4.5]]" in card
        # dW = col^T . dY, the filter's gradient, and db = sum of dY
        assert "[[7, 1]," in card and "[3, 11]]" in card and "[4]" in card
        grads = page.locator("[data-testid=gradients]").inner_text()
        assert "[[0, 2, -2, 0]," in grads and "[0.5, 2, 0.5, 2]]" in grads
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width
    finally:
        page.close()
