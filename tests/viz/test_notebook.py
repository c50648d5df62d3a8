"""A notebook shows the explanation table and the drawing inline (executed with
nbconvert, as Jupyter would run it)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbconvert")
pytest.importorskip("ipykernel")

from nbconvert.preprocessors import ExecutePreprocessor  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_a_notebook_displays_the_table_the_svg_and_the_framed_page(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import sys; sys.path.insert(0, {str(ROOT / 'src')!r})\n"
            "import chainrule as cr\n"
            "a, b, c = (cr.tensor(v, requires_grad=True, name=n) for v, n in "
            "((-1.0, 'a'), (3.0, 'b'), (4.0, 'c')))\n"
            "f = (a + b) * (b + c)\n"
            "ex = cr.explain(f)\n"
            "ex"),
        nbformat.v4.new_code_cell("cr.viz.to_svg(ex)"),
        nbformat.v4.new_code_cell("cr.viz.to_html(ex)"),
    ]
    ExecutePreprocessor(timeout=120, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    table, svg, page = (c.outputs[0]["data"] for c in nb.cells)
    assert "df/db" in table["text/html"] and "<table" in table["text/html"]
    assert "Backward pass of f" in table["text/plain"]     # the REPL form is the table too
    assert "<svg" in svg["image/svg+xml"]
    html = page["text/html"]
    assert html.startswith('<iframe class="chainrule-page" srcdoc="')
    assert "<style" not in html.split('srcdoc="')[0]          # no style leaks outside
