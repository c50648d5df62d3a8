"""A layered (Sugiyama-style) layout of a computational graph, in pure Python.

The step-through page and :func:`chainrule.viz.to_svg` draw the graph without Graphviz,
so they need their own layout. The graph flows left to right like the seed notes'
pictures: inputs on the left, each gate one column right of its latest input, the
output on the far right. Steps, all iterative (no recursion, linear or near-linear):

1. *Layering*: a gate's column is one more than the largest column of its inputs
   (longest path); an input sits just left of its first consumer; the output right of
   the last gate.
2. Edges spanning several columns get invisible *dummy* points, one per column, so
   they bend around the nodes in between.
3. *Ordering* within each column: a few sweeps of the barycenter heuristic, which
   removes most edge crossings.
4. *Coordinates*: columns are spaced to fit the widest edge label; within a column,
   nodes are pulled towards the mean height of their neighbours, subject to a minimum
   gap (an exact least-squares projection, the pool-adjacent-violators algorithm).

Text widths are estimated for a monospace font (the page uses one): the terminal
width of the text (:func:`chainrule._text.display_width`, Hangul counts 2) times the
width of one character.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from .._text import display_width
from .graph import Graph, format_value

__all__ = ["Edge", "Layout", "Node", "graph_edges", "layout"]

NAME_CHAR_W = 8.4   # px per character of node names and gate symbols (14-15px font)
LABEL_CHAR_W = 7.2  # px per character of edge labels and constants (12-13px font)
NODE_H = 38.0
GATE_R = 21.0
ROW_GAP = 52.0      # vertical room between two nodes of a column (edge labels live there)
MIN_COL_GAP = 96.0
MARGIN = 28.0


class Node:
    """A box (input, constant, output), a gate, or an invisible dummy bend point."""

    __slots__ = ("h", "key", "kind", "label", "layer", "order", "ref", "scope", "w", "x", "y")

    def __init__(self, key: Any, kind: str, label: str, ref: int, scope: str | None) -> None:
        self.key = key
        self.kind = kind          # "leaf", "const", "gate", "out" or "dummy"
        self.label = label
        self.ref = ref            # value index (leaf/const/out) or gate index
        self.scope = scope
        self.layer = 0
        self.order = 0.0
        self.x = 0.0
        self.y = 0.0
        if kind == "gate":
            tw = display_width(label) * NAME_CHAR_W
            self.w = max(2 * GATE_R, tw + 22) if tw > 2 * GATE_R - 14 else 2 * GATE_R
            self.h = 2 * GATE_R if self.w == 2 * GATE_R else NODE_H - 4
        elif kind == "const":
            self.w = display_width(label) * LABEL_CHAR_W + 10
            self.h = 22.0
        elif kind == "dummy":
            self.w = 0.0
            self.h = 16.0
        else:
            self.w = max(display_width(label) * NAME_CHAR_W + 26, 50.0)
            self.h = NODE_H

    @property
    def round(self) -> bool:
        """Drawn as a circle (short gate symbols)."""
        return self.kind == "gate" and self.w == 2 * GATE_R and self.h == 2 * GATE_R


class Edge:
    """An edge of the drawing: a value flowing from a node into a gate (or the output).

    ``gate``/``pos`` identify the input slot (``None`` for the edge into the output);
    ``value`` is the index of the value it carries.
    """

    __slots__ = ("dst", "gate", "index", "label_at", "points", "pos", "src", "value")

    def __init__(self, index: int, src: Any, dst: Any, value: int, gate: int | None,
                 pos: int | None) -> None:
        self.index = index
        self.src = src
        self.dst = dst
        self.value = value
        self.gate = gate
        self.pos = pos
        self.points: list[tuple[float, float]] = []
        self.label_at = (0.0, 0.0)


def _node_key(g: Graph, vi: int) -> Any:
    v = g.values[vi]
    return ("g", v.gate) if v.kind == "gate" else ("v", vi)


def graph_edges(g: Graph) -> list[Edge]:
    """Every edge of the drawing, in forward order (the output edge last)."""
    edges: list[Edge] = []
    for gi in g.gates:
        for pos, vi in enumerate(gi.inputs):
            edges.append(Edge(len(edges), _node_key(g, vi), ("g", gi.index), vi, gi.index,
                              pos))
    root = g.values[g.root]
    if root.kind == "gate":
        edges.append(Edge(len(edges), ("g", root.gate), ("out",), g.root, None, None))
    return edges


class Layout:
    """Positions of every node and the route of every edge, in px."""

    def __init__(self, nodes: dict[Any, Node], edges: list[Edge], width: float,
                 height: float) -> None:
        self.nodes = nodes
        self.edges = edges
        self.width = width
        self.height = height


def _pav(desired: list[float], gaps: list[float]) -> list[float]:
    """Closest positions (least squares) to ``desired`` with ``y[i+1] - y[i] >= gaps[i]``.

    Substituting ``z[i] = y[i] - offset[i]`` turns the gaps into ``z`` non-decreasing,
    which pool-adjacent-violators solves exactly in linear time.
    """
    n = len(desired)
    offset = [0.0] * n
    for i in range(1, n):
        offset[i] = offset[i - 1] + gaps[i - 1]
    z = [d - o for d, o in zip(desired, offset)]
    blocks: list[list[float]] = []   # [mean, count]
    for v in z:
        blocks.append([v, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, c2 = blocks.pop()
            m1, c1 = blocks[-1]
            blocks[-1] = [(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2]
    out = []
    for m, c in blocks:
        out.extend([m] * int(c))
    return [v + o for v, o in zip(out, offset)]


def layout(g: Graph, show_grads: bool = True, sweeps: int = 8) -> Layout:
    """Lay out the graph snapshot ``g`` (see the module documentation)."""
    nodes: dict[Any, Node] = {}
    values = g.values
    for gi in g.gates:
        nodes[("g", gi.index)] = Node(("g", gi.index), "gate", gi.symbol, gi.index, gi.scope)
    for v in values:
        if v.kind != "gate" and (v.uses or v.is_root):
            nodes[("v", v.index)] = Node(("v", v.index), v.kind, v.label, v.index, v.scope)
    root = values[g.root]
    if root.kind == "gate":
        nodes[("out",)] = Node(("out",), "out", root.label, g.root, None)
    edges = graph_edges(g)

    # 1. layering: longest path for gates; inputs just left of their first consumer
    layer: dict[Any, int] = {}
    for gi in g.gates:
        best = 0
        for vi in gi.inputs:
            v = values[vi]
            if v.kind == "gate":
                best = max(best, layer[("g", v.gate)])
        layer[("g", gi.index)] = best + 1
    for key, n in nodes.items():
        if n.kind in ("leaf", "const"):
            uses = values[n.ref].uses
            layer[key] = min((layer[("g", u[0])] for u in uses), default=1) - 1
    if ("out",) in nodes:
        layer[("out",)] = layer[("g", root.gate)] + 1
    for key, n in nodes.items():
        n.layer = layer[key]
    n_layers = max(layer.values(), default=0) + 1

    # 2. dummy points for long edges; the chain of each edge
    chains: list[list[Any]] = []
    for e in edges:
        a, b = nodes[e.src], nodes[e.dst]
        chain = [e.src]
        for lay in range(a.layer + 1, b.layer):
            key = ("d", e.index, lay)
            d = Node(key, "dummy", "", e.index, None)
            d.layer = lay
            nodes[key] = d
            chain.append(key)
        chain.append(e.dst)
        chains.append(chain)
    preds: dict[Any, list[Any]] = {k: [] for k in nodes}
    succs: dict[Any, list[Any]] = {k: [] for k in nodes}
    for chain in chains:
        for u, w in pairwise(chain):
            succs[u].append(w)
            preds[w].append(u)

    # 3. ordering: discovery order, then barycenter sweeps
    rank: dict[Any, float] = {}
    for chain in chains:
        for key in chain:
            if key not in rank:
                rank[key] = float(len(rank))
    for key in nodes:
        rank.setdefault(key, float(len(rank)))
    layers: list[list[Any]] = [[] for _ in range(n_layers)]
    for key in sorted(nodes, key=rank.__getitem__):
        layers[nodes[key].layer].append(key)
    pos = {}
    for lay in layers:
        for i, key in enumerate(lay):
            pos[key] = float(i)
    for s in range(sweeps):
        down = s % 2 == 0
        seq = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for li in seq:
            lay = layers[li]
            nb = preds if down else succs
            bary = {}
            for key in lay:
                ns = nb[key]
                bary[key] = sum(pos[n] for n in ns) / len(ns) if ns else pos[key]
            lay.sort(key=lambda k: (bary[k], pos[k]))
            for i, key in enumerate(lay):
                pos[key] = float(i)

    # 4. coordinates. Columns: wide enough for the labels on the edges entering them.
    labels_w = [0.0] * n_layers
    edge_w: dict[int, float] = {}
    for e, chain in zip(edges, chains):
        v = values[e.value]
        w = display_width(format_value(v.value, short=True)) * LABEL_CHAR_W
        if v.kind == "const" and v.label == format_value(v.value, short=True):
            w = 0.0   # no label: the constant's node shows its value
        if show_grads and g.has_grads:
            w = max(w, display_width(_edge_grad_text(g, e)) * LABEL_CHAR_W)
        li = nodes[chain[-1]].layer
        labels_w[li] = max(labels_w[li], w)
        edge_w[e.index] = w
    def room(n: Node) -> float:
        """A node's width, or its gradient's when that is wider (a leaf's gradient is
        written under it and must not be clipped at the page's edge)."""
        v = values[n.ref] if n.kind == "leaf" else None
        if v is None or not (show_grads and g.has_grads) or v.grad is None:
            return n.w
        return max(n.w, display_width(format_value(v.grad, short=True)) * LABEL_CHAR_W + 6)

    half = [max((room(nodes[k]) for k in lay), default=0.0) / 2 for lay in layers]
    extra = [0.0] * n_layers          # widened where labels could not be placed apart
    xs = [0.0] * n_layers

    def columns() -> None:
        x = MARGIN + half[0] if n_layers else MARGIN
        for li in range(n_layers):
            if li:
                x += half[li - 1] + max(MIN_COL_GAP, labels_w[li] + 48) + extra[li] + half[li]
            xs[li] = x
        for n in nodes.values():
            n.x = xs[n.layer]

    columns()
    # Rows: start stacked, then pull towards neighbours under the minimum gaps.
    for lay in layers:
        y = 0.0
        for i, key in enumerate(lay):
            n = nodes[key]
            if i:
                y += nodes[lay[i - 1]].h / 2 + ROW_GAP + n.h / 2
            n.y = y
    for s in range(sweeps):
        down = s % 2 == 0
        seq = range(n_layers) if down else range(n_layers - 1, -1, -1)
        for li in seq:
            lay = layers[li]
            if not lay:
                continue
            desired = []
            for key in lay:
                ns = preds[key] + succs[key] if s >= sweeps - 2 else \
                    (preds[key] if down else succs[key]) or preds[key] + succs[key]
                desired.append(sum(nodes[n].y for n in ns) / len(ns) if ns else nodes[key].y)
            gaps = [nodes[a].h / 2 + ROW_GAP + nodes[b].h / 2 for a, b in pairwise(lay)]
            for key, y in zip(lay, _pav(desired, gaps)):
                nodes[key].y = y
    top = min((n.y - n.h / 2 for n in nodes.values()), default=0.0)
    bottom = max((n.y + n.h / 2 for n in nodes.values()), default=0.0)
    shift = MARGIN + 18 - top  # room above the first row for an edge label
    for n in nodes.values():
        n.y += shift
    height = bottom - top + 2 * MARGIN + 36

    def route() -> None:
        """Edge routes: source's right side -> dummy points -> a port on the target's left."""
        for e, chain in zip(edges, chains):
            pts = []
            a = nodes[chain[0]]
            pts.append((a.x + a.w / 2, a.y))
            for key in chain[1:-1]:
                pts.append((nodes[key].x, nodes[key].y))
            b = nodes[chain[-1]]
            n_in = len(g.gates[e.gate].inputs) if e.gate is not None else 1
            dy = 0.0
            if n_in > 1 and e.pos is not None:
                spread = min(b.h * 0.55, 12.0 * (n_in - 1))
                dy = -spread / 2 + spread * e.pos / (n_in - 1)
            if b.round:
                r = b.w / 2
                dx = (max(r * r - dy * dy, 0.0)) ** 0.5
                pts.append((b.x - dx, b.y + dy))
            else:
                pts.append((b.x - b.w / 2, b.y + dy))
            e.points = pts

    # Labels that found no free spot (edges converging on one node: a value used twice
    # by one gate) get a wider column gap, so that they can stand apart along their
    # segments; a few rounds settle it.
    for _ in range(4):
        route()
        crowded = _place_labels(edges, nodes, edge_w, show_grads and g.has_grads)
        if not crowded:
            break
        into = {e.index: nodes[c[-1]].layer for e, c in zip(edges, chains)}
        for li in {into[e.index] for e in crowded}:
            extra[li] += labels_w[li] + 12
        columns()
    width = (xs[-1] + half[-1] + MARGIN) if n_layers else 2 * MARGIN
    return Layout(nodes, edges, width, height)


#: Where along its last segment an edge label may sit (fractions from its start).
_LABEL_SPOTS = (0.5, 0.62, 0.38, 0.74, 0.26, 0.84, 0.16)


def _place_labels(edges: list[Edge], nodes: dict[Any, Node], widths: dict[int, float],
                  grads: bool) -> list[Edge]:
    """Put each edge's label (value above the line, gradient below) on its last segment,
    at the first spot that collides with no node and no label placed before it (the
    midpoint when it is free, so simple graphs look as before; the least-overlapping
    spot otherwise). Labels of edges fanning out of one node no longer pile up. Returns
    the edges whose label overlaps something wherever it goes."""
    boxes: list[tuple[float, float, float, float]] = []
    for n in nodes.values():
        below = 22.0 if grads and n.kind == "leaf" else 0.0
        boxes.append((n.x - n.w / 2, n.y - n.h / 2, n.x + n.w / 2, n.y + n.h / 2 + below))

    def overlap(b: tuple[float, float, float, float]) -> float:
        area = 0.0
        for o in boxes:
            dx = min(b[2], o[2]) - max(b[0], o[0])
            dy = min(b[3], o[3]) - max(b[1], o[1])
            if dx > 0 and dy > 0:
                area += dx * dy
        return area

    crowded: list[Edge] = []
    for e in edges:
        p, q = e.points[-2], e.points[-1]
        half = widths.get(e.index, 0.0) / 2 + 2
        best = None
        for t in _LABEL_SPOTS:
            x, y = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
            box = (x - half, y - 20.0, x + half, y + (21.0 if grads else 0.0))
            cost = overlap(box)
            if best is None or cost < best[0]:
                best = (cost, (x, y), box)
            if cost == 0:
                break
        e.label_at = best[1]
        if half > 2:
            boxes.append(best[2])
            if best[0] > 0:
                crowded.append(e)
    return crowded


def _edge_grad_text(g: Graph, e: Edge) -> str:
    return format_value(edge_grad(g, e), short=True) if edge_grad(g, e) is not None else ""


def edge_grad(g: Graph, e: Edge) -> Any:
    """The gradient that flows back along edge ``e`` (``None`` if none does)."""
    if not g.has_grads:
        return None
    if e.gate is None:
        return g.seed
    gi = g.gates[e.gate]
    if gi.step is None or e.pos is None:
        return None
    return gi.downstream[e.pos]
