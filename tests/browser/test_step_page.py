"""The step-through page in a real browser: headless Chromium driven by Playwright.

Opens the page for the seeds' f = (a+b)(b+c) at a=-1, b=3, c=4 from a file:// URL,
steps to the end with the keyboard, reads the gradients the page shows and checks
them against backward (7, 9, 2); then the slider and the buttons. Saves a screenshot
to artifacts/step_page.png. Skipped when Playwright or /usr/bin/chromium is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import chainrule as cr
from chainrule.viz import to_html

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def make_page(tmp_path, lang="en"):
    a, b, c = (cr.tensor(v, requires_grad=True, name=n) for v, n in
               ((-1.0, "a"), (3.0, "b"), (4.0, "c")))
    f = (a + b) * (b + c)
    path = tmp_path / f"abc_{lang}.html"
    to_html(f, path, lang=lang)
    f.backward()
    expected = {t.name: repr(t.grad.item()) for t in (a, b, c)}
    return path, expected


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 760})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.errors = errors
    pg.requests = requests
    yield pg
    ctx.close()


def grads_shown(pg):
    return {n: pg.get_by_test_id(f"grad-{n}").inner_text() for n in "abc"}


def test_keyboard_to_the_end_shows_backwards_gradients(page, tmp_path):
    path, expected = make_page(tmp_path)
    assert expected == {"a": "7.0", "b": "9.0", "c": "2.0"}
    page.goto(path.as_uri())
    counter = page.get_by_test_id("step-counter")
    assert counter.inner_text() == "Step 1 of 9"
    assert grads_shown(page) == {"a": "…", "b": "…", "c": "…"}
    for i in range(2, 10):
        page.keyboard.press("ArrowRight")
        assert counter.inner_text() == f"Step {i} of 9"
    page.keyboard.press("ArrowRight")                    # already at the end: stays
    assert counter.inner_text() == "Step 9 of 9"
    assert page.get_by_test_id("step-title").inner_text() == "Done: the gradients"
    assert grads_shown(page) == expected
    assert page.get_by_test_id("grad-b").get_attribute("data-value") == "9.0"
    # every gradient label on the graph is visible now, in red
    hidden = page.locator("svg .grad.hidden").count()
    assert hidden == 0
    color = page.locator("#cr-eg0").evaluate("e => getComputedStyle(e).fill")
    assert color == "rgb(214, 39, 40)"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "step_page.png"), full_page=True)
    assert page.errors == []
    assert all(u.startswith("file://") for u in page.requests)   # no network at all


def test_backward_step_shows_upstream_times_local(page, tmp_path):
    path, _ = make_page(tmp_path)
    page.goto(path.as_uri())
    page.keyboard.press("End")
    page.keyboard.press("Home")
    assert page.get_by_test_id("step-counter").inner_text() == "Step 1 of 9"
    for _ in range(5):                                    # inputs, 3 gates, seed -> Mul
        page.keyboard.press("ArrowRight")
    assert page.get_by_test_id("step-phase").inner_text() == "Backward pass"
    assert page.get_by_test_id("step-title").inner_text() == \
        "Mul gate: upstream × local = downstream"
    rows = page.get_by_test_id("chain-row").all_inner_texts()
    assert [" ".join(r.split()) for r in rows] == ["→ a + b 1.0 × 7.0 = 7.0",
                                                   "→ b + c 1.0 × 2.0 = 2.0"]
    assert page.locator("#cr-g2").get_attribute("class") == "node gate current-bwd"
    page.keyboard.press("ArrowLeft")
    assert page.get_by_test_id("step-title").inner_text() == "Backward starts at the output"
    assert page.errors == []


def test_slider_and_buttons(page, tmp_path):
    path, expected = make_page(tmp_path)
    page.goto(path.as_uri())
    slider = page.get_by_test_id("step-slider")
    slider.fill("3")                                      # scrub to the Mul gate's forward
    assert page.get_by_test_id("step-counter").inner_text() == "Step 4 of 9"
    assert page.get_by_test_id("step-title").inner_text() == "Mul gate computes f"
    assert "2.0 * 7.0 = 14.0" in page.get_by_test_id("step-detail").inner_text()
    assert page.locator("#cr-ev6").get_attribute("class") == "val"   # 14.0 now shown
    slider.fill("2")
    assert page.locator("#cr-ev6").get_attribute("class") == "val hidden"
    first, prev = page.get_by_test_id("step-first"), page.get_by_test_id("step-prev")
    nxt, last = page.get_by_test_id("step-next"), page.get_by_test_id("step-last")
    last.click()
    assert page.get_by_test_id("step-counter").inner_text() == "Step 9 of 9"
    assert nxt.is_disabled() and last.is_disabled()
    assert grads_shown(page) == expected
    prev.click()
    prev.click()
    assert page.get_by_test_id("step-counter").inner_text() == "Step 7 of 9"
    assert grads_shown(page) == {"a": "…", "b": "…", "c": "2.0"}  # c is final already
    first.click()
    assert first.is_disabled() and prev.is_disabled()
    assert slider.input_value() == "0"
    nxt.click()
    assert slider.input_value() == "1"
    assert page.errors == []


def test_korean_page(page, tmp_path):
    path, expected = make_page(tmp_path, lang="ko")
    page.goto(path.as_uri())
    assert page.get_by_test_id("step-counter").inner_text() == "9단계 중 1단계"
    assert page.get_by_test_id("step-next").inner_text().strip() == "다음"
    page.keyboard.press("End")
    assert page.get_by_test_id("step-title").inner_text() == "완료: 기울기"
    assert grads_shown(page) == expected
    page.screenshot(path=str(tmp_path / "ko.png"), full_page=True)
    assert page.errors == []
