"""Graphviz drawings of a computational graph: DOT text, and SVG/PNG/PDF through ``dot``.

The drawing follows the seed notes' pictures: gates are nodes (``+``, ``×``, ``σ``...),
inputs are labelled with their names, every edge carries its forward value and, once
backward has run, the gradient that flows back along it, in red beneath. Gates created
inside a module call (an ``nn.Linear``, an ``nn.Sequential``'s layers) are grouped in
a cluster named after the module, so a network's loss graph stays readable.

:func:`to_dot` needs nothing but the standard library; :func:`draw` runs Graphviz's
``dot`` program to render the text.
"""

from __future__ import annotations

import html
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from .._io import atomic_write_bytes
from ..errors import GraphvizError, GraphvizNotFoundError, GraphvizTimeoutError
from .graph import Graph, format_value, graph_of
from .layout import edge_grad, graph_edges

__all__ = ["GraphvizError", "GraphvizNotFoundError", "GraphvizTimeoutError", "draw", "to_dot"]

#: Output formats :func:`draw` understands (by file suffix).
FORMATS = ("svg", "png", "pdf", "dot", "gv")

GRAD_COLOR = "#d62728"
VALUE_COLOR = "#1f2937"
INSTALL_HINT = (
    "Install Graphviz: Debian/Ubuntu `sudo apt-get install graphviz`, Fedora `sudo dnf "
    "install graphviz`, macOS `brew install graphviz`, conda `conda install -c conda-forge "
    "graphviz`, Windows `winget install graphviz` (then make sure `dot` is on PATH).")


def _h(s: str) -> str:
    return html.escape(s, quote=True)


def _edge_label(value: str, grad: str | None) -> str:
    lab = f'<FONT COLOR="{VALUE_COLOR}">{_h(value)}</FONT>'
    if grad is not None:
        lab += f'<BR/><FONT COLOR="{GRAD_COLOR}">{_h(grad)}</FONT>'
    return f"<{lab}>"


def to_dot(y: Any, grads: bool | None = None, rankdir: str = "LR",
           title: str | None = None) -> str:
    """The graph of ``y`` as Graphviz DOT text.

    Parameters
    ----------
    y:
        A tensor (its graph must still be there: draw before ``backward()``, or after
        ``backward(retain_graph=True)``) or an :class:`~chainrule.viz.Explanation`
        from ``cr.explain(y)`` (a snapshot that works even after the graph is gone).
    grads:
        Show gradients beneath the values. ``None`` (default): yes once backward has
        run on this graph (some input has a ``.grad``) or for an explanation; the
        gradients are then computed by a traced backward pass that touches no ``.grad``.
        ``True`` always (the tensor must require grad), ``False`` never.
    rankdir:
        ``"LR"`` (left to right, as the seed notes draw it) or ``"TB"``.
    title:
        A caption drawn above the graph.

    Nodes are named ``v<i>`` (inputs, constants, the output) and ``g<i>`` (gates, in
    forward order). Building the text is iterative and linear in the graph's size.
    """
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"to_dot: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")
    g, show = graph_of(y, grads, "cr.viz.to_dot")
    return _render(g, show, rankdir, title)


def _render(g: Graph, show: bool, rankdir: str, title: str | None) -> str:
    values = g.values
    out = ["digraph chainrule {",
           f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=12, nodesep=0.3, '
           f'ranksep=0.45, bgcolor="white"];',
           '  node [fontname="Helvetica", fontsize=12, color="#334155", penwidth=1.2];',
           f'  edge [fontname="Helvetica", fontsize=10, color="#64748b", arrowsize=0.6, '
           f'fontcolor="{VALUE_COLOR}"];']
    if title:
        out.append(f"  labelloc=t; label=<<B>{_h(title)}</B>>;")
    lines_of: dict[str | None, list[str]] = {}

    def emit(scope: str | None, line: str) -> None:
        lines_of.setdefault(scope, []).append(line)

    for v in values:
        if v.kind == "gate" or not (v.uses or v.is_root):
            continue
        if v.kind == "leaf":
            lab = f"<B>{_h(v.label)}</B>"
            if show and v.grad is not None:
                lab += (f'<BR/><FONT COLOR="{GRAD_COLOR}" POINT-SIZE="10">'
                        f"{_h(format_value(v.grad, short=True))}</FONT>")
            emit(v.scope, f'  v{v.index} [label=<{lab}>, shape=box, style="rounded,filled", '
                          f'fillcolor="#e0f2fe", color="#0369a1"];')
        else:
            emit(v.scope, f'  v{v.index} [label=<<I>{_h(v.label)}</I>>, shape=plaintext, '
                          f'fontcolor="#64748b"];')
    for gi in g.gates:
        short = len(gi.symbol) <= 3
        shape = ('shape=circle, width=0.42, fixedsize=true' if short
                 else 'shape=box, style="rounded,filled", height=0.36')
        if short:
            shape += ', style=filled'
        emit(gi.scope, f'  g{gi.index} [label=<{_h(gi.symbol)}>, {shape}, '
                       f'fillcolor="#f8fafc", tooltip="{_h(gi.cls)}"];')
    root = values[g.root]
    if root.kind == "gate":
        out.append(f'  v{root.index} [label=<<B>{_h(root.label)}</B>>, shape=box, '
                   f'style="rounded,filled", fillcolor="#dcfce7", color="#15803d"];')
    # clusters, nested by dotted scope names ("layers" holds "layers.0"), emitted
    # with an explicit stack
    scopes = sorted(s for s in lines_of if s is not None)
    children: dict[str, list[str]] = {}
    tops: list[str] = []
    known = set()
    for s in scopes:
        parts = s.split(".")
        for k in range(1, len(parts) + 1):
            p = ".".join(parts[:k])
            if p in known:
                continue
            known.add(p)
            if k == 1:
                tops.append(p)
            else:
                children.setdefault(".".join(parts[:k - 1]), []).append(p)
    out.extend(lines_of.get(None, []))
    stack: list[tuple[str, bool]] = [(s, True) for s in reversed(tops)]
    cid = 0
    depth = 1
    while stack:
        s, opening = stack.pop()
        if not opening:
            depth -= 1
            out.append("  " * depth + "}")
            continue
        pad = "  " * depth
        out.append(f"{pad}subgraph cluster_{cid} {{")
        cid += 1
        out.append(f'{pad}  label=<{_h(s)}>; style="rounded,dashed"; color="#94a3b8"; '
                   f'fontcolor="#475569"; fontsize=11;')
        out.extend(pad + ln for ln in lines_of.get(s, []))
        depth += 1
        stack.append((s, False))
        stack.extend((c, True) for c in reversed(children.get(s, [])))
    for e in graph_edges(g):
        src = f"g{e.src[1]}" if e.src[0] == "g" else f"v{e.src[1]}"
        dst = f"g{e.dst[1]}" if e.dst[0] == "g" else f"v{g.root}"
        value = format_value(values[e.value].value, short=True)
        grad = edge_grad(g, e) if show else None
        gtxt = format_value(grad, short=True) if grad is not None else None
        out.append(f"  {src} -> {dst} [label={_edge_label(value, gtxt)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _find_dot() -> str:
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFoundError(
            "cr.viz.draw needs Graphviz's `dot` program to render images, and it is not on "
            f"PATH. {INSTALL_HINT} Without Graphviz you can still get the DOT text "
            "(cr.viz.to_dot(y), or draw to a .dot file), a drawing from chainrule's own "
            "layout (cr.viz.to_svg(y)), or the step-through page (cr.viz.to_html(y, path)).")
    return exe


def _run_dot(argv: list[str], data: bytes, timeout: float | None) -> Any:
    """Run ``dot`` in a session of its own, so that on timeout the whole group is
    killed (a ``dot`` that is a wrapper script leaves no orphan behind)."""
    posix = os.name == "posix"
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=posix) as proc:
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            if posix:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    proc.kill()
            else:
                proc.kill()
            proc.wait()
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def draw(y: Any, path: str | os.PathLike[str], format: str | None = None,
         grads: bool | None = None, rankdir: str = "LR", title: str | None = None,
         timeout: float | None = None) -> Path:
    """Render the graph of ``y`` to an image file with Graphviz.

    ``format`` is ``"svg"``, ``"png"`` or ``"pdf"`` (or ``"dot"``/``"gv"`` for the DOT
    text itself); by default it comes from ``path``'s suffix. ``y``, ``grads``,
    ``rankdir`` and ``title`` are as for :func:`to_dot`. The file is written
    atomically. Raises :class:`GraphvizNotFoundError` (saying how to install Graphviz)
    if ``dot`` is missing, :class:`GraphvizError` if it fails; ``timeout`` (seconds)
    bounds how long ``dot`` may run on a very large graph (it is killed after that and
    :class:`GraphvizTimeoutError` is raised). Returns the path written.
    """
    path = Path(os.fspath(path))
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"cr.viz.draw: cannot tell the format of {str(path)!r}; use a "
                         f"file name ending in .svg, .png, .pdf or .dot, or pass "
                         f"format= one of {', '.join(FORMATS)}")
    text = to_dot(y, grads=grads, rankdir=rankdir, title=title)
    if fmt in ("dot", "gv"):
        atomic_write_bytes(path, text.encode("utf-8"))
        return path
    exe = _find_dot()
    try:
        proc = _run_dot([exe, f"-T{fmt}"], text.encode("utf-8"), timeout)
    except subprocess.TimeoutExpired as e:
        raise GraphvizTimeoutError(
            f"cr.viz.draw: Graphviz's dot did not finish within {timeout:g} s on a graph of "
            f"{text.count(' -> ')} edges and was stopped; draw a smaller graph, raise "
            f"timeout=, or use cr.viz.to_dot(y) and render it yourself") from e
    if proc.returncode != 0 or not proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise GraphvizError(f"cr.viz.draw: Graphviz's dot failed with exit code "
                            f"{proc.returncode} while rendering {fmt}: {err or '(no output)'}")
    atomic_write_bytes(path, proc.stdout)
    return path
