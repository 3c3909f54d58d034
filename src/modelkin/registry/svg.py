"""Draw a lineage graph as SVG or PNG, laid out by grandalf (a layered layout).

The layout is Sugiyama's (grandalf's implementation: ranking, crossing reduction, Brandes-
Köpf placement), left to right: parents and datasets before the runs and children built
from them. Every edge label ("finetune (verified) #12") is a vertex of the layout in the
rank between its two ends, sized by its measured text, so the layout keeps labels off
boxes, arrows and each other as it does for boxes; the edge runs through its label. Edge
colour and arrow show the forensic verdict; a dashed edge is unverifiable.

Text is measured with the DejaVu Sans the label renderer vendors, the SVG asks for the
same font, and the PNG is drawn with it by Pillow, so both outputs agree.
"""

from __future__ import annotations

import io
import itertools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from modelkin.registry.lineage import UNDECLARED, GraphEdge, LineageGraph

if TYPE_CHECKING:
    from PIL import ImageDraw

NAME_SIZE, SMALL_SIZE, LABEL_SIZE, TITLE_SIZE = 13, 10, 10, 14
BOX_MIN_W, BOX_MAX_W, BOX_H, PAD = 150.0, 300.0, 58.0, 10.0
RANK_GAP, ROW_GAP, MARGIN = 40.0, 18.0, 24.0
TITLE_H = 30.0
FILL = {
    "model": "#dbeafe",
    "dataset": "#dcfce7",
    "training-run": "#fef3c7",
    "product": "#f3e8ff",
    "work": "#fce7f3",
    "unknown": "#ffffff",
}
PLAIN = "#374151"
VERDICT_COLOUR = {"verified": "#15803d", "contradicted": "#b91c1c", "unverifiable": "#6b7280"}
FONT_FAMILY = "DejaVu Sans, Verdana, sans-serif"
#: The layout's cost grows faster than linearly (about 1 s for 150 nodes on one loaded
#: core, 4 s for 300); a bigger neighbourhood is drawn as its nodes nearest the root.
MAX_DRAWN = 150


@dataclass
class Box:
    """A node: top-left corner, size, fill and its three text lines."""

    key: str
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str
    stroke_width: float
    dashed: bool
    lines: list[tuple[str, float, str]]  # text, size, colour


@dataclass
class Arrow:
    """An edge: polyline from the child's parent box to the child's box, through the label."""

    points: list[tuple[float, float]]
    colour: str
    dashed: bool
    label: str
    label_xy: tuple[float, float]  # centre of the label
    label_w: float


@dataclass
class Drawing:
    width: float
    height: float
    title: str
    boxes: list[Box] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)


class _View:
    """grandalf's vertex view: size in, centre out (``xy``)."""

    def __init__(self, w: float, h: float) -> None:
        self.w, self.h = w, h
        self.xy = (0.0, 0.0)


class _EdgeView:
    def __init__(self) -> None:
        self.points: list[tuple[float, float]] = []

    def setpath(self, pts: list[tuple[float, float]]) -> None:
        self.points = [(float(x), float(y)) for x, y in pts]


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _edge_label(e: GraphEdge) -> str:
    if e.relation == UNDECLARED:  # the claim said "from scratch"; the weights disagree
        text = "derived per forensics; 'from scratch' contradicted"
    else:
        text = e.relation + (f" ({e.verdict})" if e.verdict else "")
    return f"{text} #{e.ledger_index}"


def _box_lines(graph: LineageGraph, key: str) -> list[tuple[str, float, str]]:
    node = graph.nodes[key]
    kind = "dangling reference" if node.dangling else node.kind
    ident = ("sha256:" if key.startswith("sha256") else "record ") + key[7:19]
    return [
        (kind, SMALL_SIZE, "#4b5563"),
        (_short(node.name or "(not registered)", 40), NAME_SIZE, "#111827"),
        (ident, SMALL_SIZE, "#4b5563"),
    ]


def _clip(
    inside: tuple[float, float], outside: tuple[float, float], box: Box
) -> tuple[float, float]:
    """Where the segment from ``inside`` (the box centre) to ``outside`` leaves ``box``."""
    (x0, y0), (x1, y1) = inside, outside
    dx, dy = x1 - x0, y1 - y0
    if dx == 0 and dy == 0:
        return inside
    tx = (box.w / 2) / abs(dx) if dx else math.inf
    ty = (box.h / 2) / abs(dy) if dy else math.inf
    t = min(tx, ty, 1.0)
    return (x0 + dx * t, y0 + dy * t)


def nearest(graph: LineageGraph, limit: int = MAX_DRAWN) -> list[str]:
    """The ``limit`` nodes nearest the root (breadth first, edges in either direction)."""
    near: dict[str, list[str]] = {}
    for e in graph.edges:
        near.setdefault(e.src, []).append(e.dst)
        near.setdefault(e.dst, []).append(e.src)
    order = [graph.root] if graph.root in graph.nodes else []
    seen = set(order)
    for key in order:  # grows while iterating: breadth-first
        if len(order) >= limit:
            break
        for other in near.get(key, []):
            if other not in seen and other in graph.nodes and len(order) < limit:
                seen.add(other)
                order.append(other)
    rest = [k for k in graph.nodes if k not in seen]  # nodes not connected to the root
    return order + rest[: max(0, limit - len(order))]


def layout(graph: LineageGraph) -> Drawing:
    """Place every node and edge label; route each edge through its label.

    grandalf and the font metrics are imported here, not with the registry: only drawing
    a graph pays for them."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    from modelkin.labels.layout import text_width

    keys = nearest(graph)
    lines = {k: _box_lines(graph, k) for k in keys}
    widths = {
        k: min(BOX_MAX_W, max(BOX_MIN_W, *(text_width(t, s) + 2 * PAD for t, s, _ in lines[k])))
        for k in keys
    }
    # grandalf ranks top to bottom; the drawing runs left to right, so sizes go in swapped
    # (a box's width is its extent along the ranks) and coordinates come out swapped.
    vertices = {k: Vertex(k) for k in keys}
    for k, v in vertices.items():
        v.view = _View(BOX_H, widths[k])
    kept = [e for e in graph.edges if e.src in vertices and e.dst in vertices and e.src != e.dst]
    labels: list[Any] = []
    pieces: list[tuple[Any, Any]] = []
    for i, e in enumerate(kept):
        text = _edge_label(e)
        lab = Vertex(f"label:{i}")
        lab.view = _View(LABEL_SIZE + 8, text_width(text, LABEL_SIZE) + 8)
        labels.append(lab)
        first, second = Edge(vertices[e.src], lab), Edge(lab, vertices[e.dst])
        first.view, second.view = _EdgeView(), _EdgeView()
        pieces.append((first, second))
    g = Graph(list(vertices.values()) + labels, [p for pair in pieces for p in pair])
    offset = 0.0  # components stacked top to bottom
    centre: dict[Any, tuple[float, float]] = {}
    for comp in g.C:
        sug = SugiyamaLayout(comp)
        sug.xspace, sug.yspace = ROW_GAP, RANK_GAP
        sug.init_all()
        sug.draw(3)
        placed = {v: (v.view.xy[1], v.view.xy[0]) for v in comp.sV}  # swap back to LR
        if comp.sE:
            for e in comp.sE:
                e.view.points = [(y, x) for x, y in e.view.points]
        top = min(y - v.view.w / 2 for v, (x, y) in placed.items())
        left = min(x - v.view.h / 2 for v, (x, y) in placed.items())
        for v, (x, y) in placed.items():
            centre[v] = (x - left + MARGIN, y - top + offset + MARGIN + TITLE_H)
        shift = (MARGIN - left, offset + MARGIN + TITLE_H - top)
        for e in comp.sE:
            e.view.points = [(x + shift[0], y + shift[1]) for x, y in e.view.points]
        offset += max(y + v.view.w / 2 for v, (x, y) in placed.items()) - top + ROW_GAP * 2
    root = graph.nodes.get(graph.root)
    title = f"Lineage of {root.name if root and root.name else graph.root[7:23]}"
    title += f" — ledger tree size {graph.tree_size}" if graph.tree_size else ""
    if len(keys) < len(graph.nodes) or graph.truncated:
        title += f" — the {len(keys)} nodes nearest it (the lineage table lists every edge)"
    drawing = Drawing(0.0, 0.0, title)
    boxes: dict[str, Box] = {}
    for k, v in vertices.items():
        cx, cy = centre[v]
        node = graph.nodes[k]
        is_root = k == graph.root
        boxes[k] = Box(
            k, cx - widths[k] / 2, cy - BOX_H / 2, widths[k], BOX_H,
            FILL.get(node.kind, "#f3f4f6"), "#111827" if is_root else "#6b7280",
            2.5 if is_root else 1.0, node.dangling, lines[k],
        )  # fmt: skip
    drawing.boxes = list(boxes.values())
    for e, lab, (first, second) in zip(kept, labels, pieces, strict=True):
        a, b = boxes[e.src], boxes[e.dst]
        mid = [*first.view.points[1:-1], centre[lab], *second.view.points[1:-1]]
        start = _clip((a.x + a.w / 2, a.y + a.h / 2), mid[0], a)
        end = _clip((b.x + b.w / 2, b.y + b.h / 2), mid[-1], b)
        colour = VERDICT_COLOUR.get(e.verdict or "", PLAIN)
        drawing.arrows.append(
            Arrow([start, *mid, end], colour, e.verdict == "unverifiable", _edge_label(e),
                  centre[lab], lab.view.h)
        )  # fmt: skip
    right = max((bx.x + bx.w for bx in boxes.values()), default=0.0)
    right = max([right, MARGIN + text_width(title, TITLE_SIZE, True)] + [
        ar.label_xy[0] + ar.label_w / 2 for ar in drawing.arrows
    ])  # fmt: skip
    bottom = max((bx.y + bx.h for bx in boxes.values()), default=MARGIN + TITLE_H)
    bottom = max([bottom] + [ar.label_xy[1] + LABEL_SIZE for ar in drawing.arrows])
    drawing.width, drawing.height = math.ceil(right + MARGIN), math.ceil(bottom + MARGIN)
    return drawing


def _arrow_head(p: tuple[float, float], q: tuple[float, float]) -> list[tuple[float, float]]:
    """A filled triangle ending at ``q`` along the segment ``p -> q``."""
    ang = math.atan2(q[1] - p[1], q[0] - p[0])
    size, spread = 9.0, 0.45
    return [
        q,
        (q[0] - size * math.cos(ang - spread), q[1] - size * math.sin(ang - spread)),
        (q[0] - size * math.cos(ang + spread), q[1] - size * math.sin(ang + spread)),
    ]


def to_svg(d: Drawing) -> str:
    """The drawing as a standalone SVG document."""
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{d.width}" height="{d.height}" '
        f'viewBox="0 0 {d.width} {d.height}" font-family="{FONT_FAMILY}" font-size="12">',
        f'<rect width="{d.width}" height="{d.height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="{MARGIN + 6}" font-size="{TITLE_SIZE}" font-weight="bold">'
        f"{escape(d.title)}</text>",
    ]
    for a in d.arrows:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in a.points)
        dash = ' stroke-dasharray="5,4"' if a.dashed else ""
        head = " ".join(f"{x:.1f},{y:.1f}" for x, y in _arrow_head(a.points[-2], a.points[-1]))
        out.append(
            f'<polyline class="edge" points="{pts}" fill="none" stroke="{a.colour}" stroke-width="1.6" '
            f'stroke-linejoin="round"{dash}/><polygon points="{head}" fill="{a.colour}"/>'
        )
    for a in d.arrows:  # labels over every line
        (cx, cy), w = a.label_xy, a.label_w
        out.append(
            f'<rect class="edge-label" x="{cx - w / 2:.1f}" y="{cy - (LABEL_SIZE + 6) / 2:.1f}" '
            f'width="{w:.1f}" '
            f'height="{LABEL_SIZE + 6}" rx="3" fill="#ffffff" stroke="{a.colour}" '
            f'stroke-width="0.6"/><text x="{cx:.1f}" y="{cy + LABEL_SIZE / 2 - 1:.1f}" '
            f'text-anchor="middle" fill="{a.colour}" font-size="{LABEL_SIZE}">'
            f"{escape(a.label)}</text>"
        )
    for b in d.boxes:
        dash = ' stroke-dasharray="4,3"' if b.dashed else ""
        out.append(
            f'<rect class="node" x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" '
            f'height="{b.h:.1f}" rx="8" '
            f'fill="{b.fill}" stroke="{b.stroke}" stroke-width="{b.stroke_width}"{dash}/>'
        )
        for (text, size, colour), dy in zip(b.lines, (16, 33, 49), strict=False):
            out.append(
                f'<text x="{b.x + PAD:.1f}" y="{b.y + dy:.1f}" font-size="{size}" '
                f'fill="{colour}">{escape(text)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def to_png(d: Drawing, scale: float = 2.0) -> bytes:
    """The same drawing rasterised by Pillow (no browser, no external renderer)."""
    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    from modelkin.labels.layout import font

    img = Image.new("RGB", (round(d.width * scale), round(d.height * scale)), "#ffffff")
    draw = ImageDraw.Draw(img)

    def s(p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] * scale, p[1] * scale)

    draw.text(s((MARGIN, MARGIN + 6)), d.title, font=font(TITLE_SIZE * scale, True),
              fill="#111827", anchor="ls")  # fmt: skip
    for a in d.arrows:
        pts = [s(p) for p in a.points]
        if a.dashed:
            for p, q in itertools.pairwise(pts):
                _dashed(draw, p, q, a.colour, round(1.6 * scale), 5 * scale, 4 * scale)
        else:
            draw.line(pts, fill=a.colour, width=round(1.6 * scale), joint="curve")
        draw.polygon([s(p) for p in _arrow_head(a.points[-2], a.points[-1])], fill=a.colour)
    for a in d.arrows:
        (cx, cy), w = a.label_xy, a.label_w
        h = LABEL_SIZE + 6
        draw.rounded_rectangle(
            (*s((cx - w / 2, cy - h / 2)), *s((cx + w / 2, cy + h / 2))),
            radius=3 * scale, fill="#ffffff", outline=a.colour, width=1,
        )  # fmt: skip
        draw.text(s((cx, cy)), a.label, font=font(LABEL_SIZE * scale, False), fill=a.colour,
                  anchor="mm")  # fmt: skip
    for b in d.boxes:
        draw.rounded_rectangle(
            (*s((b.x, b.y)), *s((b.x + b.w, b.y + b.h))), radius=8 * scale, fill=b.fill,
            outline=b.stroke, width=max(1, round(b.stroke_width * scale)),
        )  # fmt: skip
        for (text, size, colour), dy in zip(b.lines, (16, 33, 49), strict=False):
            draw.text(s((b.x + PAD, b.y + dy)), text, font=font(size * scale, False),
                      fill=colour, anchor="ls")  # fmt: skip
    info = PngInfo()
    info.add_text("Title", d.title)
    info.add_text("Software", "modelkin")
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6, pnginfo=info)
    return buf.getvalue()


def _dashed(
    draw: ImageDraw.ImageDraw, p: tuple[float, float], q: tuple[float, float], colour: str,
    width: int, on: float, off: float,
) -> None:  # fmt: skip
    length = math.dist(p, q)
    if length == 0:
        return
    ux, uy = (q[0] - p[0]) / length, (q[1] - p[1]) / length
    t = 0.0
    while t < length:
        u = min(t + on, length)
        draw.line([(p[0] + ux * t, p[1] + uy * t), (p[0] + ux * u, p[1] + uy * u)],
                  fill=colour, width=width)  # fmt: skip
        t = u + off


def lineage_svg(graph: LineageGraph) -> str:
    """The graph as an SVG document (a string)."""
    return to_svg(layout(graph))


def lineage_png(graph: LineageGraph, scale: float = 2.0) -> bytes:
    """The graph as PNG bytes, drawn at ``scale`` times the SVG's size."""
    return to_png(layout(graph), scale)
