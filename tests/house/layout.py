"""What the house rules measure: the import floors of ``src/chainrule`` and code lines.

Kept apart from the tests so that a developer can print the figures::

    python -m tests.house.layout
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "chainrule"

#: The floors, bottom up. A module may import only from its own floor or below.
FLOORS: dict[str, int] = {
    "_config": 1, "_malloc": 1, "_graphgc": 1, "errors": 1, "_text": 1, "_io": 1, "random": 1,
    "_check": 1,
    "_version": 1, "threads": 1,
    "_tensor": 2,
    "autograd": 3, "scopes": 3, "grad_hooks": 3,
    "ops": 4,
    "serialization": 5, "linalg": 5, "func": 5,
    "check": 6, "viz": 6, "nn": 6, "optim": 6, "data": 6, "scratch": 6,
    "train": 7,
    "distributed": 8,
    "cli": 9,
}
#: The face of the package: re-exports, may import anything.
FACE = {"__init__", "__main__"}


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def dotted(path: Path) -> list[str]:
    """``src/chainrule/ops/shape.py`` -> ``['ops', 'shape']``; packages end in __init__."""
    return list(path.relative_to(PACKAGE).with_suffix("").parts)


def resolve(path: Path, node: ast.ImportFrom | ast.Import) -> list[tuple[list[str], str | None]]:
    """The chainrule modules an import statement names, as (dotted parts, imported name)."""
    here = dotted(path)
    package = here[:-1]                       # the package the module sits in
    out: list[tuple[list[str], str | None]] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "chainrule":
                out.append((parts[1:], None))
        return out
    if node.level == 0:
        parts = (node.module or "").split(".")
        if parts[0] != "chainrule":
            return out
        base = parts[1:]
    else:
        up = node.level - 1
        if up > len(package):
            raise ValueError(f"{path}: relative import above the package")
        base = package[:len(package) - up] + ((node.module or "").split(".") if node.module else [])
    for alias in node.names:
        sub = PACKAGE.joinpath(*base, alias.name)
        if sub.with_suffix(".py").exists() or sub.is_dir():
            out.append(([*base, alias.name], None))     # `from . import mod`: a module
        else:
            out.append((base, alias.name))
    return out


def unit(parts: list[str]) -> str:
    """The floor unit of a module: its first component below ``chainrule``."""
    return parts[0] if parts else "__init__"


def imports() -> list[tuple[Path, int, list[str], str | None]]:
    """Every import of a chainrule module in the package: (file, line, target, name)."""
    found = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target, name in resolve(path, node):
                    found.append((path, node.lineno, target, name))
    return found


def late_imports(path: Path) -> list[int]:
    """Module-level imports that come after the first definition or statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    seen_code = False
    late = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if seen_code:
                late.append(node.lineno)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue                            # a docstring
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and all(
                (isinstance(t, ast.Name) and t.id.isupper()) or getattr(t, "id", "") == "__all__"
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target])):
            continue                            # constants and __all__ between imports
        else:
            seen_code = True
    return late


def code_lines(path: Path) -> int:
    """Lines of code without docstrings, comments and blank lines."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    code: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        for line in range(tok.start[0], tok.end[0] + 1):
            if line not in doc_lines:
                code.add(line)
    return len(code)


def core_files() -> dict[str, list[Path]]:
    """The core, as the budget counts it: the engine, and the gates."""
    ops = PACKAGE / "ops"
    engine = [PACKAGE / "_tensor.py", *sorted((PACKAGE / "autograd").glob("*.py")),
              *sorted(ops.glob("_*.py"))]
    gates = [p for p in sorted(ops.glob("*.py")) if not p.name.startswith("_")]
    return {"engine": engine, "gates": gates}


if __name__ == "__main__":
    for part, files in core_files().items():
        print(f"{part}: {sum(code_lines(p) for p in files)} code lines")
        for p in files:
            print(f"  {p.relative_to(PACKAGE)}: {code_lines(p)}")
    print("largest files (lines):")
    for p in sorted(modules(), key=lambda p: -len(p.read_text().splitlines()))[:10]:
        print(f"  {p.relative_to(PACKAGE)}: {len(p.read_text().splitlines())}")
