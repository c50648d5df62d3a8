"""The page's lab: change an input and every value and gradient is recomputed in the
page (JavaScript), equal to what chainrule computes for the same inputs; the numerical
check agrees with each gradient."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

pytestmark = pytest.mark.browser

EXPRESSIONS = {
    "abc": ("(a+b)*(b+c)", {"a": -1.0, "b": 3.0, "c": 4.0}, {"a": 2.5, "b": -0.5}),
    "sigmoid": ("sigmoid(w0*x0 + w1*x1 + w2)",
                {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}, {"x0": 0.7}),
    "mixed": ("maximum(a, b) * exp(-a) + log(b) / sqrt(a*a + 1) - relu(a - b) + tanh(a)**2",
              {"a": 0.3, "b": 1.7}, {"a": 1.2}),
}


def _python(expr: str, values: dict[str, float]) -> tuple[dict[str, float], float]:
    from chainrule.cli.expr import evaluate
    y, leaves = evaluate(expr, {k: np.array(v) for k, v in values.items()})
    y.backward()
    return {k: float(t.grad.item()) for k, t in leaves.items()}, float(y.item())


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_live_inputs_recompute_as_chainrule_does(browser, tmp_path: Path, name: str) -> None:
    from chainrule.cli.expr import evaluate
    expr, start, change = EXPRESSIONS[name]
    y, _ = evaluate(expr, {k: np.array(v) for k, v in start.items()})
    path = tmp_path / f"{name}.html"
    cr.viz.to_html(y, path)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.as_uri())
        assert page.locator("[data-testid=lab]").is_visible()
        new = {**start, **change}
        for k, v in change.items():
            page.fill(f"[data-testid=lab-input-{k}]", str(v))
        grads, value = _python(expr, new)
        for k, g in grads.items():
            shown = page.locator(f"[data-testid=lab-grad-{k}] td").nth(1).inner_text()
            assert float(shown.lstrip("= ")) == pytest.approx(g, rel=1e-5, abs=1e-6), k
        page.click("[data-testid=numcheck]")
        for k in grads:
            cells = page.locator(f"[data-testid=lab-check-{k}] td")
            assert cells.nth(2).inner_text() == "agrees", cells.nth(1).inner_text()
        assert not errors
    finally:
        page.close()
    _ = value


def test_array_graphs_have_no_lab(browser, tmp_path: Path) -> None:
    x = cr.tensor(np.ones(3), requires_grad=True, name="x")
    path = tmp_path / "arr.html"
    cr.viz.to_html(cr.sum(x * x), path)
    page = browser.new_page()
    try:
        page.goto(path.as_uri())
        assert not page.locator("[data-testid=lab]").is_visible()
    finally:
        page.close()


def test_practice_mode_asks_checks_and_explains(browser, tmp_path: Path) -> None:
    a, b, c = (cr.tensor(v, requires_grad=True, name=n) for v, n in
               ((-1.0, "a"), (3.0, "b"), (4.0, "c")))
    path = tmp_path / "abc.html"
    cr.viz.to_html((a + b) * (b + c), path)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.as_uri())
        page.check("[data-testid=practice]")
        for _ in range(5):                      # inputs, 3 forward gates, the seed
            page.click("[data-testid=step-next]")
        # the Mul gate's backward step: the answers are hidden until found
        assert page.locator('[data-testid="ask-local-a + b"]').count() == 1
        assert "7.0" not in page.locator("[data-testid=step-detail]").inner_text()
        page.fill('[data-testid="ask-local-a + b"]', "2")          # the wrong input's value
        page.fill('[data-testid="ask-down-a + b"]', "2")
        page.fill('[data-testid="ask-local-b + c"]', "7")
        page.fill('[data-testid="ask-down-b + c"]', "7")
        page.click("[data-testid=ask-check]")
        fb = page.locator("[data-testid=feedback]").inner_text()
        assert fb.startswith("Not yet") and "rule of this gate" in fb
        page.fill('[data-testid="ask-local-a + b"]', "7")
        page.fill('[data-testid="ask-down-a + b"]', "7.0")
        page.fill('[data-testid="ask-local-b + c"]', "2")
        page.fill('[data-testid="ask-down-b + c"]', "2")
        page.click("[data-testid=ask-check]")
        assert page.locator("[data-testid=feedback]").inner_text().startswith("Right:")
        assert "= 7.0" in page.locator("[data-testid=step-detail]").inner_text()
        page.uncheck("[data-testid=practice]")
        page.click("[data-testid=step-next]")
        assert page.locator("[data-testid=ask-check]").count() == 0
        assert not errors
    finally:
        page.close()
