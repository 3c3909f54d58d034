"""Draw a lineage graph as standalone SVG (no graphviz): a simple layered layout.

Layers go left to right: each node sits one layer right of its furthest predecessor
(longest path, as in Sugiyama-style layouts), so datasets and parents come before the runs
and children built from them. Within a layer nodes are ordered by the mean position of
their predecessors to reduce crossings. Edge colour shows the forensic verdict.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from modelkin.registry.lineage import UNDECLARED, LineageGraph

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 230, 58, 150, 26, 24
TOP = 20 + BOX_H + GAP_Y  # title line plus room for arcs over the first row
FILL = {
    "model": "#dbeafe",
    "dataset": "#dcfce7",
    "training-run": "#fef3c7",
    "product": "#f3e8ff",
    "work": "#fce7f3",
    "unknown": "#ffffff",
}
VERDICT_COLOUR = {"verified": "#15803d", "contradicted": "#b91c1c", "unverifiable": "#6b7280"}


def _layers(graph: LineageGraph) -> dict[str, int]:
    layer = dict.fromkeys(graph.nodes, 0)
    links = [(e.src, e.dst) for e in graph.edges if e.src in layer and e.dst in layer]
    for _ in range(len(layer)):  # Bellman-Ford style relaxation; bounded even with cycles
        changed = False
        for s, d in links:
            if layer[d] < layer[s] + 1 and layer[s] + 1 < len(layer):
                layer[d] = layer[s] + 1
                changed = True
        if not changed:
            break
    # Pull each source (no predecessor) right, next to its nearest successor, so a dataset
    # sits beside the run that used it instead of far left across other boxes.
    has_pred = {d for _, d in links}
    for key in layer:
        succ = [layer[d] for s, d in links if s == key]
        if key not in has_pred and succ:
            layer[key] = max(0, min(succ) - 1)
    return layer


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def lineage_svg(graph: LineageGraph) -> str:
    """The graph as an SVG document (a string)."""
    layer = _layers(graph)
    columns: dict[int, list[str]] = {}
    for key in graph.nodes:
        columns.setdefault(layer[key], []).append(key)
    pos: dict[str, tuple[float, float]] = {}
    preds: dict[str, list[str]] = {}
    for e in graph.edges:
        preds.setdefault(e.dst, []).append(e.src)
    for col in sorted(columns):
        keys = columns[col]

        def bary(k: str) -> float:
            ys = [pos[p][1] for p in preds.get(k, []) if p in pos]
            return sum(ys) / len(ys) if ys else 0.0

        keys.sort(key=lambda k: (bary(k), k))
        for row, key in enumerate(keys):
            pos[key] = (MARGIN + col * (BOX_W + GAP_X), MARGIN + TOP + row * (BOX_H + GAP_Y))
    width = MARGIN * 2 + (max(columns, default=0) + 1) * (BOX_W + GAP_X) - GAP_X
    height = MARGIN * 2 + TOP + max((len(v) for v in columns.values()), default=1) * (BOX_H + GAP_Y)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        "<defs>",
    ]
    for name, colour in {"plain": "#374151", **VERDICT_COLOUR}.items():
        out.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
            f'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    out.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    root = graph.nodes.get(graph.root)
    title = f"Lineage of {root.name if root and root.name else graph.root[7:23]}"
    title += f" — ledger tree size {graph.tree_size}" if graph.tree_size else ""
    out.append(
        f'<text x="{MARGIN}" y="{MARGIN}" font-size="14" font-weight="bold">{escape(title)}</text>'
    )
    for e in graph.edges:
        if e.src not in pos or e.dst not in pos:
            continue
        (x1, y1), (x2, y2) = pos[e.src], pos[e.dst]
        span = layer[e.dst] - layer[e.src]
        x1, y1, x2, y2 = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        c1y, c2y = y1, y2
        if x2 <= x1:  # same or earlier layer (cycle): route around
            x2 = x2 + BOX_W / 2
            y2 = y2 - BOX_H / 2 if y2 > y1 else y2 + BOX_H / 2
        elif span > 1:  # skips a layer: leave from the top and arc over the boxes between
            x1, y1 = pos[e.src][0] + BOX_W * 0.75, pos[e.src][1]
            x2, y2 = pos[e.dst][0] + BOX_W * 0.25, pos[e.dst][1]
            c1y = c2y = min(y1, y2) - BOX_H - GAP_Y
        colour = VERDICT_COLOUR.get(e.verdict or "", "#374151")
        marker = e.verdict if e.verdict in VERDICT_COLOUR else "plain"
        dash = ' stroke-dasharray="5,4"' if e.verdict == "unverifiable" else ""
        cx = (x1 + x2) / 2
        out.append(
            f'<path d="M{x1:.1f},{y1:.1f} C{cx:.1f},{c1y:.1f} {cx:.1f},{c2y:.1f} {x2:.1f},{y2:.1f}" '
            f'fill="none" stroke="{colour}" stroke-width="1.6"{dash} marker-end="url(#arrow-{marker})"/>'
        )
        if e.relation == UNDECLARED:  # the claim said "from scratch"; the weights disagree
            label = "derived per forensics; 'from scratch' claim contradicted"
        else:
            label = e.relation + (f" ({e.verdict})" if e.verdict else "")
        label += f" #{e.ledger_index}"
        label_y = (y1 + y2) / 2 - 4 if c1y == y1 else min(y1, y2) - BOX_H / 2 - GAP_Y / 2
        out.append(
            f'<text x="{cx:.1f}" y="{label_y:.1f}" text-anchor="middle" fill="{colour}" '
            f'font-size="10">{escape(label)}</text>'
        )
    for key, node in graph.nodes.items():
        x, y = pos[key]
        fill = FILL.get(node.kind, "#f3f4f6")
        stroke = "#111827" if key == graph.root else "#6b7280"
        sw = 2.5 if key == graph.root else 1
        dash = ' stroke-dasharray="4,3"' if node.dangling else ""
        out.append(
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="{sw}"{dash}/>'
        )
        kind = "dangling reference" if node.dangling else node.kind
        name = node.name or "(not registered)"
        ident = key[7:19]
        lines = [
            (f"{y + 16}", "10", "#4b5563", kind),
            (f"{y + 33}", "13", "#111827", _short(name, 30)),
            (
                f"{y + 49}",
                "10",
                "#4b5563",
                ("sha256:" if key.startswith("sha256") else "record ") + ident,
            ),
        ]
        for ty, size, colour, txt in lines:
            out.append(
                f'<text x="{x + 10}" y="{ty}" font-size="{size}" fill="{colour}">{escape(txt)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"
