"""The rules of the house, checked over the source of ``src/chainrule`` (AST, no import).

* Imports point down: a module imports chainrule modules of its own floor or below
  (``layout.FLOORS``), and the floor units form no circle.
* No import at the bottom of a file; no underscored name imported from another package.
* No module is shadowed by a function of the same name in its package.
* The core stays small: a budget on its code lines (docstrings, comments and blank lines
  not counted).
"""

from __future__ import annotations

import ast
import importlib
import types
from collections import defaultdict

import pytest

from .layout import (
    FACE,
    FLOORS,
    PACKAGE,
    code_lines,
    core_files,
    dotted,
    imports,
    late_imports,
    modules,
    unit,
)

#: Code-line budgets of the core. The engine (Tensor, recording, backward, the binding
#: of ops) was 1,074 lines when this was written: 1,250 leaves room for the features
#: still to come into it (thread-safe grad mode, forward mode) and fails a silent
#: doubling. The gates grow with the op set, so they are budgeted per gate class: the
#: 41 gates took 888 lines (22 each, with their functions); 35 a gate on average is
#: generous for a convolution and strict for a copy-pasted one.
ENGINE_BUDGET = 1250
LINES_PER_GATE = 35
#: No file over this many lines; a file that must be longer is listed with its reason.
MAX_FILE_LINES = 600
LONG_FILES: dict[str, str] = {
    "data/datasets.py": "three dataset classes, their file specs with SHA-256 sums, the "
                        "search path and the verified, bounded download",
}


def _floor(parts: list[str]) -> int | None:
    return FLOORS.get(unit(parts))


def test_every_module_has_a_floor():
    unknown = sorted({unit(dotted(p)) for p in modules()} - set(FLOORS) - FACE)
    assert not unknown, f"modules without a floor in tests/house/layout.py: {unknown}"


def test_imports_point_down():
    bad = []
    for path, line, target, _name in imports():
        src = dotted(path)
        if unit(src) in FACE:
            continue
        here, there = _floor(src), _floor(target)
        if there is None and unit(target) in FACE:
            bad.append(f"{path.relative_to(PACKAGE)}:{line} imports the package face")
        elif there is not None and here is not None and there > here:
            bad.append(f"{path.relative_to(PACKAGE)}:{line}: {unit(src)} (floor {here}) "
                       f"imports {'.'.join(target)} (floor {there})")
    assert not bad, "imports that point up:\n" + "\n".join(bad)


def test_no_import_circles_between_units():
    edges: dict[str, set[str]] = defaultdict(set)
    for path, _line, target, _name in imports():
        a, b = unit(dotted(path)), unit(target)
        if a != b and a not in FACE and b not in FACE:
            edges[a].add(b)
    state: dict[str, int] = {}
    path_: list[str] = []

    def visit(u: str) -> None:
        state[u] = 1
        path_.append(u)
        for v in sorted(edges[u]):
            if state.get(v) == 1:
                raise AssertionError("import circle: " + " -> ".join([*path_[path_.index(v):], v]))
            if v not in state:
                visit(v)
        path_.pop()
        state[u] = 2

    for u in sorted(edges):
        if u not in state:
            visit(u)


def test_no_import_at_the_bottom_of_a_file():
    late = {str(p.relative_to(PACKAGE)): lines for p in modules() if (lines := late_imports(p))}
    assert not late, f"module-level imports after code: {late}"


def test_no_private_name_from_another_package():
    bad = []
    for path, line, target, name in imports():
        src_pkg = dotted(path)[:-1]
        if name and name.startswith("_") and not name.startswith("__"):
            # the package the name lives in: `target` itself if it is a package, else the
            # package holding the module `target`
            tgt_pkg = target if PACKAGE.joinpath(*target).is_dir() else target[:-1]
            if tgt_pkg != src_pkg:
                bad.append(f"{path.relative_to(PACKAGE)}:{line}: {name} from {'.'.join(target)}")
    assert not bad, "private names imported across packages:\n" + "\n".join(bad)


def test_no_file_is_a_warehouse():
    long = {}
    for p in modules():
        rel = str(p.relative_to(PACKAGE))
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > MAX_FILE_LINES and rel not in LONG_FILES:
            long[rel] = n
    assert not long, f"files over {MAX_FILE_LINES} lines (split them, or say why): {long}"


def test_the_core_stays_within_its_budget():
    from chainrule.ops import gate_classes

    files = core_files()
    engine = sum(code_lines(p) for p in files["engine"])
    gates = sum(code_lines(p) for p in files["gates"])
    n_gates = len(gate_classes())
    assert engine <= ENGINE_BUDGET, f"engine: {engine} code lines > {ENGINE_BUDGET}"
    assert gates <= LINES_PER_GATE * n_gates, \
        f"gates: {gates} code lines for {n_gates} gates > {LINES_PER_GATE} each"


@pytest.mark.parametrize("name", sorted({".".join([*dotted(p)[:-1], dotted(p)[-1]])
                                         for p in modules() if dotted(p)[-1] not in FACE}))
def test_no_module_is_shadowed_by_a_function(name):
    mod = importlib.import_module(f"chainrule.{name}")
    parent_name, _, leaf = f"chainrule.{name}".rpartition(".")
    parent = importlib.import_module(parent_name)
    assert isinstance(getattr(parent, leaf, mod), types.ModuleType), \
        f"chainrule.{name} is shadowed by {getattr(parent, leaf)!r} in {parent_name}"


def test_the_layout_reader_understands_this_file():
    tree = ast.parse((PACKAGE / "ops" / "__init__.py").read_text())
    assert tree.body
