"""The lineage drawing (grandalf layout): no label or box overlaps another, every arrow
runs from its source box to its target box, and SVG and PNG show the same picture."""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from modelkin.registry.lineage import GraphEdge, LineageGraph, Node
from modelkin.registry.svg import LABEL_SIZE, layout, lineage_png, lineage_svg

Rect = tuple[float, float, float, float]


def _graph(children: int, chain: int) -> LineageGraph:
    """A parent with ``children`` claimed children (mixed verdicts) and a chain of
    ``chain`` models below the first child, plus a dataset feeding a training run."""
    nodes: dict[str, Node] = {}
    edges: list[GraphEdge] = []

    def node(i: int, kind: str, name: str) -> str:
        key = f"sha256:{i:064x}"
        nodes[key] = Node(key, kind, name, f"{i:064x}", False)
        return key

    root = node(0, "model", "all-MiniLM-L6-v2")
    verdicts = ["verified", "contradicted", "unverifiable", None]
    kids = [node(1 + i, "model", f"child-model-number-{i}") for i in range(children)]
    for i, kid in enumerate(kids):
        edges.append(GraphEdge(root, kid, "finetune", "r", "derivation", 10 + i, [],
                               verdicts[i % 4]))  # fmt: skip
    prev = kids[0]
    for j in range(chain):
        nxt = node(100 + j, "model", f"chain-{j}")
        edges.append(GraphEdge(prev, nxt, "quantization", "r", "derivation", 50 + j, []))
        prev = nxt
    data, run = node(200, "dataset", "sentence-pairs"), node(201, "training-run", "tune-run")
    edges += [
        GraphEdge(data, run, "dataset", "r", "training-run", 60, []),
        GraphEdge(root, run, "input", "r", "training-run", 60, []),
        GraphEdge(run, kids[0], "output", "r", "training-run", 60, []),
    ]
    return LineageGraph(root, nodes, edges, 99, "checkpoint")


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _on_border(p: tuple[float, float], r: Rect) -> bool:
    x, y, w, h = r
    inside = x - 0.5 <= p[0] <= x + w + 0.5 and y - 0.5 <= p[1] <= y + h + 0.5
    edge = min(abs(p[0] - x), abs(p[0] - x - w), abs(p[1] - y), abs(p[1] - y - h)) < 0.5
    return inside and edge


@pytest.mark.parametrize(("children", "chain"), [(1, 0), (3, 2), (8, 4)])
def test_no_box_or_label_overlaps_another(children: int, chain: int) -> None:
    graph = _graph(children, chain)
    d = layout(graph)
    boxes = {b.key: (b.x, b.y, b.w, b.h) for b in d.boxes}
    labels = [
        (a.label_xy[0] - a.label_w / 2, a.label_xy[1] - (LABEL_SIZE + 6) / 2, a.label_w,
         LABEL_SIZE + 6) for a in d.arrows
    ]  # fmt: skip
    assert len(boxes) == len(graph.nodes) and len(labels) == len(graph.edges)
    shapes = list(boxes.values()) + labels
    for a, b in itertools.combinations(shapes, 2):
        assert not _overlap(a, b), (a, b)
    for e, arrow in zip(graph.edges, d.arrows, strict=True):
        assert _on_border(arrow.points[0], boxes[e.src]), (e.relation, arrow.points)
        assert _on_border(arrow.points[-1], boxes[e.dst]), (e.relation, arrow.points)
        assert str(e.ledger_index) in arrow.label
    for r in shapes:  # everything inside the canvas
        assert r[0] >= 0 and r[1] >= 0 and r[0] + r[2] <= d.width and r[1] + r[3] <= d.height


def test_parents_are_drawn_left_of_their_children() -> None:
    graph = _graph(3, 3)
    d = layout(graph)
    centre = {b.key: b.x + b.w / 2 for b in d.boxes}
    for e in graph.edges:
        assert centre[e.src] < centre[e.dst], e


def test_svg_and_png_agree() -> None:
    graph = _graph(4, 2)
    svg = lineage_svg(graph)
    doc = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(doc.findall(f"{ns}rect[@class='node']")) == len(graph.nodes)
    assert len(doc.findall(f"{ns}polyline[@class='edge']")) == len(graph.edges)
    texts = " ".join(t.text or "" for t in doc.iter(f"{ns}text"))
    assert "finetune (contradicted) #11" in texts and "all-MiniLM-L6-v2" in texts
    png = Image.open(io.BytesIO(lineage_png(graph, scale=2.0)))
    assert png.format == "PNG"
    assert png.size == (
        round(float(doc.get("width", 0)) * 2),
        round(float(doc.get("height", 0)) * 2),
    )
    # the verified edge's green appears in the raster, the contradicted edge's red too
    colours = {c for _, c in png.convert("RGB").getcolors(1 << 20) or []}
    assert (0x15, 0x80, 0x3D) in colours and (0xB9, 0x1C, 0x1C) in colours


def test_a_big_neighbourhood_is_drawn_as_the_nodes_nearest_the_root() -> None:
    from modelkin.registry.svg import MAX_DRAWN

    graph = _graph(MAX_DRAWN + 40, 0)
    d = layout(graph)
    assert len(d.boxes) == MAX_DRAWN and graph.root in {b.key for b in d.boxes}
    assert f"the {MAX_DRAWN} nodes nearest it" in d.title
