"""HTML, SVG, PNG and Markdown renderings of the same label."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import numpy as np
from label_samples import gemma_conflict_label, minilm_label
from PIL import Image

from modelkin.labels import Dataset, Identity, Parent, Use, assemble_label
from modelkin.labels.html import render_html
from modelkin.labels.layout import PAD, WIDTH, Text, build_layout, text_width, wrap
from modelkin.labels.markdown import render_markdown
from modelkin.labels.png import render_png
from modelkin.labels.svg import render_svg

SECTIONS = ["Identity", "IP lineage", "Training data", "Compute", "Intended use", "Disclosure"]


def _hostile():  # type: ignore[no-untyped-def]
    label = minilm_label()
    ident = replace(label.identity, name="<script>alert(1)</script> & | co", organisation="A&B")
    return replace(label, identity=ident)


def test_html_is_self_contained_ordered_and_escaped() -> None:
    html = render_html(_hostile())
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert "<script" not in html and "&lt;script&gt;" in html and "A&amp;B" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no external resources
    positions = [html.index(f"{n}&nbsp; {s}") for n, s in enumerate(SECTIONS, 1)]
    assert positions == sorted(positions)
    assert 'class="num">81 %</td>' in html  # numbers in right-aligned cells
    assert '<meter min="0" max="18" value="16"' in html
    assert "ledger #15 · checked by modelkin" in html and "3.2e-14" in html
    assert "no layer of the child aligns" in render_html(gemma_conflict_label())


def test_markdown_has_six_sections_and_escapes_tables() -> None:
    md = render_markdown(_hostile())
    heads = re.findall(r"^## (\d)\. (.+)$", md, re.MULTILINE)
    assert [int(n) for n, _ in heads] == [1, 2, 3, 4, 5, 6]
    assert "&lt;script>" in md and "\\|" in md
    assert "| **reddit-comments-2015-2018** | 81 % |" in md
    assert "**16 of 18 disclosure questions answered: 89 %**" in md


def test_svg_is_well_formed_accessible_and_matches_layout() -> None:
    label = _hostile()
    svg = render_svg(label)
    root = ET.fromstring(svg.encode())
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg" and root.get("role") == "img"
    assert root.find(f"{ns}title").text.startswith("Model Facts: <script>")  # type: ignore[union-attr]
    texts = [t.text or "" for t in root.iter(f"{ns}text")]
    layout = build_layout(label)
    assert texts == [op.text for op in layout.ops if isinstance(op, Text)]
    joined = "\n".join(texts)
    for n, s in enumerate(SECTIONS, 1):
        assert f"{n}  {s}" in joined
    assert "89 %" in texts and "✓ checked by modelkin" in texts


def _huge():  # type: ignore[no-untyped-def]
    """Registrant-controlled sizes at their schema maxima: long names, many rows."""
    ds = [Dataset(name="d" * 512, tokens=i + 1, licence="x" * 300, source="s " * 200)
          for i in range(40)]  # fmt: skip
    parents = [Parent(name="p" * 512, relation="finetune", licence=f"l{i}") for i in range(30)]
    return assemble_label(
        Identity(name="N" * 512, organisation="O" * 512),
        parents=parents,
        datasets=ds,
        use=Use(intended=("word " * 4000,) * 30),
    )


def test_huge_labels_stay_bounded() -> None:
    layout = build_layout(_huge())
    assert layout.height < 12_000
    texts = [op.text for op in layout.ops if isinstance(op, Text)]
    assert any(t.startswith("… and 15 more") for t in texts)
    assert any(t.startswith("… and 5 more") for t in texts)


def test_layout_keeps_every_line_inside_the_label() -> None:
    for label in (minilm_label(), gemma_conflict_label(), _hostile(), _huge()):
        layout = build_layout(label)
        for op in layout.ops:
            if not isinstance(op, Text):
                continue
            w = text_width(op.text, op.size, op.bold)
            left = op.x if op.anchor == "start" else op.x - w
            assert left >= PAD - 0.5 and left + w <= WIDTH - PAD + 0.5, op
            assert 0 < op.y <= layout.height


def test_wrap_splits_words_and_cuts_overlong_tokens() -> None:
    lines = wrap("a " * 200, 12, 100)
    assert len(lines) > 5 and all(text_width(x, 12) <= 100 for x in lines)
    long = wrap("x" * 500, 12, 100)
    assert "".join(long) == "x" * 500 and all(text_width(x, 12) <= 100 for x in long)


def test_png_has_the_layout_size_and_real_content() -> None:
    label = minilm_label()
    data = render_png(label)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(data))
    assert img.text["Title"] == "Model Facts: all-MiniLM-L6-v2"  # type: ignore[attr-defined]
    layout = build_layout(label)
    assert img.size == (2 * WIDTH, round(2 * layout.height))
    assert img.size[1] > 2000  # six sections: a tall, readable label
    grey = img.convert("L")
    hist = grey.histogram()
    dark = sum(hist[:128]) / (img.size[0] * img.size[1])
    assert 0.05 < dark < 0.5, dark  # ink, but mostly paper
    # the verified-parent line is drawn in green (status colour)
    px = np.asarray(img.convert("RGB")).astype(int)
    greens = int(((px[..., 1] > 90) & (px[..., 0] < 40) & (px[..., 2] < 70)).sum())
    assert greens > 200
    # deterministic: the same label gives the same image
    assert render_png(label) == data


def test_png_grows_with_content() -> None:
    small = Image.open(io.BytesIO(render_png(gemma_conflict_label(), scale=1)))
    big = Image.open(io.BytesIO(render_png(minilm_label(), scale=1)))
    assert small.size[0] == big.size[0] == WIDTH
    assert small.size[1] != big.size[1]
