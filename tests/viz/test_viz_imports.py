"""chainrule.viz stays on its floor: it imports only the engine and the bottom floor, no
private name from outside viz/, and nothing at the bottom of a file."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import chainrule
import chainrule.viz

VIZ = Path(chainrule.viz.__file__).parent
#: what viz may import from chainrule (besides itself)
ALLOWED = {"_config", "errors", "_text", "_io", "random", "_tensor", "autograd", "scopes",
           "ops", "func"}   # func: the local Jacobians of explain(jacobians=True)


def imports(path: Path):
    """(chainrule module under the package root, imported names, line) of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.level == 1:         # from .x import y: inside viz
                continue
            assert node.level == 2, f"{path.name}:{node.lineno}: import above the package"
            top = (node.module or "").split(".")[0]
            yield top, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("chainrule"):
            parts = node.module.split(".")
            yield (parts[1] if len(parts) > 1 else ""), [a.name for a in node.names], \
                node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                assert not a.name.startswith("chainrule"), f"{path.name}:{node.lineno}"


def test_viz_imports_only_its_floor_and_below():
    files = sorted(VIZ.glob("*.py"))
    assert {p.name for p in files} >= {"graph.py", "table.py", "dot.py", "svg.py",
                                       "page.py", "layout.py", "i18n.py"}
    for path in files:
        for top, names, line in imports(path):
            where = f"{path.name}:{line}"
            assert top in ALLOWED, f"{where}: viz must not import chainrule.{top}"
            private = [n for n in names if n.startswith("_")]
            assert not private, f"{where}: private names from chainrule.{top}: {private}"


def test_no_import_after_the_first_definition():
    for path in VIZ.glob("*.py"):
        body = ast.parse(path.read_text(encoding="utf-8")).body
        first_def = next((i for i, n in enumerate(body)
                          if isinstance(n, (ast.FunctionDef, ast.ClassDef))), len(body))
        late = [n.lineno for n in body[first_def:] if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert not late, f"{path.name}: module-level imports at lines {late}"
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 600, path.name


def test_explain_and_i18n_live_in_viz():
    # cr.explain is the function; no module chainrule.explain shadows it
    assert importlib.util.find_spec("chainrule.explain") is None
    assert importlib.util.find_spec("chainrule.i18n") is None
    assert chainrule.explain is chainrule.viz.explain
    assert callable(chainrule.explain)
    assert (VIZ / "assets" / "step_page.html").is_file()
