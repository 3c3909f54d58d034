"""One fixed food-label layout, computed once and drawn by both SVG and PNG renderers.

The layout is a list of primitive drawing operations in logical pixels (text with a
baseline and an anchor, filled rectangles). Text is measured with the vendored DejaVu
fonts, so line wrapping is identical wherever it runs, and the SVG and the PNG are the same
picture by construction rather than two drawings kept in sync by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Literal

from PIL import ImageFont

from modelkin.labels.format import (
    DISCLOSURE_NOTE,
    FOOTER,
    NOT_DECLARED,
    disclosure_text,
    evaluation_lines,
    identity_rows,
    number,
    parent_verdict,
    percent,
    plain_verdict,
    provenance_text,
    yes_no,
)
from modelkin.labels.model import Label, Provenance

WIDTH = 560
PAD = 14
INK = "#000000"
MUTED = "#444444"
# Rows drawn per list: the image must stay a readable, bounded size (memory for the PNG
# grows with its height); the JSON, HTML and Markdown forms always carry every row.
MAX_ROWS = 25
STATUS_FILL = {
    "verified": "#0b6b2b",
    "contradicted": "#b00020",
    "partly_supported": "#7a4f00",
    "unverifiable": "#7a4f00",
    "untested": "#7a4f00",
}


@dataclass(frozen=True)
class Text:
    """A single line of text; ``y`` is the baseline, ``anchor`` start (left) or end (right)."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    anchor: Literal["start", "end"] = "start"
    fill: str = INK


@dataclass(frozen=True)
class Rect:
    """A filled rectangle (rules and bars are thin rectangles); ``stroke`` outlines it."""

    x: float
    y: float
    w: float
    h: float
    fill: str | None = INK
    stroke: str | None = None
    stroke_width: float = 0.0


@dataclass
class Layout:
    """Everything needed to draw the label: size, a title for accessibility, operations."""

    width: float
    height: float
    title: str
    ops: list[Text | Rect] = field(default_factory=list)


@cache
def font(size: float, bold: bool) -> ImageFont.FreeTypeFont:
    """The vendored DejaVu Sans (bold) at ``size`` pixels."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    with resources.as_file(resources.files("modelkin.labels").joinpath(f"fonts/{name}")) as path:
        return ImageFont.truetype(str(path), size=round(size))


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Advance width of ``text`` in logical pixels."""
    return float(font(size, bold).getlength(text))


def wrap(
    text: str, size: float, width: float, bold: bool = False, stop_after: int | None = None
) -> list[str]:
    """Greedy word wrap to ``width``; over-long words are cut so nothing runs off the label.

    ``stop_after`` ends the work once that many lines exist (long texts are clipped anyway).
    """
    lines: list[str] = []
    line = ""
    for word in text.split():
        if stop_after is not None and len(lines) >= stop_after:
            return lines
        candidate = f"{line} {word}" if line else word
        if text_width(candidate, size, bold) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while text_width(word, size, bold) > width:
            if stop_after is not None and len(lines) >= stop_after:
                return lines
            lo, hi = 1, len(word)  # longest prefix that fits (binary search)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if text_width(word[:mid], size, bold) <= width:
                    lo = mid
                else:
                    hi = mid - 1
            lines.append(word[:lo])
            word = word[lo:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def fit(text: str, size: float, width: float, bold: bool = False) -> str:
    """``text`` cut with an ellipsis so it fits on one line of ``width``."""
    if text_width(text, size, bold) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_width(text[:mid] + "…", size, bold) <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def clip(text: str, max_lines: int, size: float, width: float, bold: bool = False) -> list[str]:
    """``text`` wrapped to at most ``max_lines`` lines, the last ending in an ellipsis if cut."""
    lines = wrap(text, size, width, bold, stop_after=max_lines + 1)
    if len(lines) <= max_lines:
        return lines
    last = lines[max_lines - 1].rstrip()
    while last and text_width(last + " …", size, bold) > width:
        last = last[:-1]
    return [*lines[: max_lines - 1], last + " …"]


class _Builder:
    """Cursor-based layout: each method appends ops and moves ``y`` down."""

    def __init__(self) -> None:
        self.ops: list[Text | Rect] = []
        self.y = float(PAD)
        self.left = float(PAD)
        self.right = float(WIDTH - PAD)

    @property
    def inner(self) -> float:
        return self.right - self.left

    def bar(self, h: float, gap: float = 4) -> None:
        self.ops.append(Rect(self.left, self.y, self.inner, h))
        self.y += h + gap

    def rule(self) -> None:
        self.ops.append(Rect(self.left, self.y, self.inner, 1, fill=INK))
        self.y += 1

    def heading(self, number_: int, title: str, prov: Provenance | None) -> None:
        self.y += 19
        self.ops.append(Text(self.left, self.y, f"{number_}  {title}", 17, bold=True))
        if prov is not None:
            self.ops.append(
                Text(self.right, self.y, provenance_text(prov), 11, anchor="end", fill=MUTED)
            )
        self.y += 6
        self.rule()

    def row(
        self,
        key: str,
        value: str,
        *,
        bold_key: bool = True,
        bold_value: bool = False,
        value_fill: str = INK,
        indent: float = 0,
        size: float = 13,
    ) -> None:
        """Key on the left, value right-aligned; long values wrap onto right-aligned lines."""
        key = fit(key, size, self.inner * 0.55 - indent, bold_key)
        key_w = text_width(key, size, bold_key)
        room = self.inner - indent - key_w - 16
        value_lines = clip(value, 4, size, max(room, self.inner * 0.4), bold_value)
        self.y += size + 4
        self.ops.append(Text(self.left + indent, self.y, key, size, bold=bold_key))
        for i, line in enumerate(value_lines):
            if i:
                self.y += size + 3
            self.ops.append(
                Text(self.right, self.y, line, size, bold=bold_value, anchor="end", fill=value_fill)
            )
        self.y += 5
        self.rule()

    def note(self, text: str, *, size: float = 11, indent: float = 0, fill: str = MUTED,
             bold: bool = False) -> None:  # fmt: skip
        """Wrapped small text under a row (obligations, dataset details, missing items)."""
        for line in clip(text, 6, size, self.inner - indent, bold):
            self.y += size + 3
            self.ops.append(Text(self.left + indent, self.y, line, size, bold=bold, fill=fill))
        self.y += 3

    def _more(self, count: int, indent: float = 16) -> None:
        """A "… and N more" line when a list was cut at :data:`MAX_ROWS`."""
        if count > MAX_ROWS:
            self.note(f"… and {count - MAX_ROWS} more (see the JSON label)", indent=indent)

    def bullets(self, title: str, items: tuple[str, ...]) -> None:
        self.y += 17
        self.ops.append(Text(self.left, self.y, title, 13, bold=True))
        if not items:
            self.ops.append(Text(self.right, self.y, NOT_DECLARED, 13, anchor="end"))
            self.y += 5
        else:
            self.y += 2
            for item in items[:MAX_ROWS]:
                lines = clip(item, 6, 12, self.inner - 16)
                for i, line in enumerate(lines):
                    self.y += 15
                    if i == 0:
                        self.ops.append(Text(self.left + 4, self.y, "•", 12))
                    self.ops.append(Text(self.left + 16, self.y, line, 12))
            self._more(len(items))
            self.y += 5
        self.rule()


def build_layout(label: Label) -> Layout:
    """The label's fixed layout: title, six numbered sections, footer."""
    b = _Builder()
    i, lin, td, c, u, d = (
        label.identity,
        label.lineage,
        label.training_data,
        label.compute,
        label.use,
        label.disclosure,
    )
    b.y += 32
    b.ops.append(Text(b.left, b.y, "Model Facts", 36, bold=True))
    b.y += 6
    for line in clip(i.name, 3, 16, b.inner, True):
        b.y += 19
        b.ops.append(Text(b.left, b.y, line, 16, bold=True))
    sub = " · ".join(x for x in (i.version and f"version {i.version}", i.organisation) if x)
    if sub:
        b.note(sub, size=13, fill=INK)
    b.y += 4
    b.bar(10, gap=0)

    # 1 Identity
    b.heading(1, "Identity", i.provenance)
    for key, value, checked in identity_rows(label):
        fill = STATUS_FILL["verified"] if checked else INK
        b.row(key, value, value_fill=fill, bold_value=checked)
    b.bar(5, gap=0)

    # 2 IP lineage
    b.heading(2, "IP lineage", None)
    if not lin.parents:
        b.row("Parents", "none: trained from scratch" if lin.from_scratch else NOT_DECLARED)
    for p in lin.parents[:MAX_ROWS]:
        b.row(p.name, parent_verdict(p), value_fill=STATUS_FILL[p.status], bold_value=True)
        b.note(
            f"{plain_verdict(p)} · {provenance_text(p.provenance)} · "
            f"licence {p.licence or NOT_DECLARED}",
            indent=10,
        )
        for text in p.verifications[-2:]:  # the latest two; the page and JSON list them all
            b.note(text, indent=10, size=11)
    b._more(len(lin.parents), indent=10)
    if lin.licences:
        b.y += 16
        b.ops.append(Text(b.left, b.y, "Inherited licences and obligations", 13, bold=True))
        b.y += 2
        for inh in lin.licences[:MAX_ROWS]:
            b.y += 15
            via = fit(f"{inh.licence} via {inh.via}", 12, b.inner - 130, bold=True)
            b.ops.append(Text(b.left + 10, b.y, via, 12, bold=True))
            if not inh.known:
                b.ops.append(Text(b.right, b.y, "unknown licence", 12, anchor="end"))
            for ob in inh.obligations:
                b.note(f"– {ob}", indent=20, size=11, fill=INK)
        b._more(len(lin.licences), indent=10)
        b.y += 3
        b.rule()
    b.y += 17
    b.ops.append(Text(b.left, b.y, "Licence conflicts", 13, bold=True))
    b.ops.append(
        Text(
            b.right,
            b.y,
            str(len(lin.conflicts)) if lin.conflicts else "none found",
            13,
            bold=True,
            anchor="end",
            fill=STATUS_FILL["contradicted"] if lin.conflicts else INK,
        )
    )
    b.y += 2
    for conflict in lin.conflicts[:MAX_ROWS]:
        b.note(f"⚠ {conflict}", indent=10, size=11, fill=STATUS_FILL["contradicted"])
    b._more(len(lin.conflicts), indent=10)
    b.y += 4
    b.bar(5, gap=0)

    # 3 Training data
    b.heading(3, "Training data", None)
    b.y += 14
    b.ops.append(Text(b.left, b.y, "Dataset", 11, bold=True, fill=MUTED))
    b.ops.append(Text(b.right, b.y, "Share of tokens", 11, bold=True, anchor="end", fill=MUTED))
    b.y += 4
    b.rule()
    if not td.datasets:
        b.row("Datasets", NOT_DECLARED)
    for ds in td.datasets[:MAX_ROWS]:
        b.row(ds.name, percent(ds.share_of_tokens), bold_value=True)
        details = (
            f"licence {ds.licence or NOT_DECLARED} · source {ds.source or NOT_DECLARED} · "
            f"consent {ds.consent or NOT_DECLARED} · opt-out {ds.opt_out or NOT_DECLARED} · "
            f"personal data {yes_no(ds.personal_data)} · {provenance_text(ds.provenance)}"
        )
        b.note(details, indent=10)
    b._more(len(td.datasets), indent=10)
    b.row("Known licence share", percent(td.known_licence_share), bold_value=True, size=14)
    b.bar(5, gap=0)

    # 4 Compute
    b.heading(4, "Compute", c.provenance)
    b.row("Accelerator", c.accelerator or NOT_DECLARED)
    b.row("Accelerator-hours", number(c.accelerator_hours, "h"))
    b.row("Training FLOPs", number(c.flops))
    b.row("Energy", number(c.energy_kwh, "kWh"))
    b.bar(5, gap=0)

    # 5 Use
    b.heading(5, "Intended use and limits", u.provenance)
    b.bullets("Intended use", u.intended)
    b.bullets("Out of scope", u.out_of_scope)
    b.bullets("Limitations", u.limitations)
    if u.evaluation:
        b.bullets("Evaluation results (declared)", tuple(evaluation_lines(label)))
    b.bar(5, gap=0)

    # 6 Disclosure
    b.heading(6, "Disclosure completeness", None)
    b.y += 24
    b.ops.append(Text(b.left, b.y, disclosure_text(d.answered, d.total), 14, bold=True))
    b.ops.append(Text(b.right, b.y, percent(d.score), 24, bold=True, anchor="end"))
    b.y += 8
    b.ops.append(Rect(b.left, b.y, b.inner, 10, fill="#ffffff", stroke=INK, stroke_width=1))
    b.ops.append(Rect(b.left, b.y, b.inner * d.score, 10, fill=INK))
    b.y += 12
    b.note(DISCLOSURE_NOTE, size=11)
    if d.missing:
        b.note("Not answered: " + ", ".join(d.missing), size=12, fill=INK)
    b.bar(10, gap=0)
    b.note(f"Generated {label.generated_at} by modelkin from ledger records. {FOOTER}", size=10)
    b.y += PAD - 4
    height = b.y + 2
    frame = Rect(2, 2, WIDTH - 4, height - 4, fill=None, stroke=INK, stroke_width=3)
    return Layout(width=WIDTH, height=height, title=f"Model Facts: {i.name}", ops=[frame, *b.ops])
