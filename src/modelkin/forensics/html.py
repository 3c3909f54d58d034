"""Self-contained HTML evidence report with inline SVG plots.

Written for a non-specialist: the verdict in words first, then a table of tests (what each
measures, its number, its null, its p-value, its limits), then the plots: per-layer curves
overlaid, the layer-similarity matrix with the alignment map, and per-role correlations.
No scripts, no external resources.
"""

from __future__ import annotations

from html import escape
from typing import Any

from modelkin.forensics.evidence import Evidence, Report

_CSS = (
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px;"
    "vertical-align:top;font-size:13px}.v{font-size:20px;font-weight:bold}"
    "svg{background:#fafafa;border:1px solid #ddd;margin:4px}"
)


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3g}"
    return escape(str(x))


def _lines(curves: dict[str, dict[str, list[float]]], w: int = 300, h: int = 160) -> str:
    """Per-layer curves, suspect and candidate overlaid. The suspect is drawn wide and pale
    with round markers, the candidate narrow and dark with square ones on top, so two
    curves that coincide (a copy, a light fine-tune) still show as two; the plot then says
    so in words as well."""
    out = []
    for name, c in curves.items():
        ys = [v for v in c["suspect"] + c["candidate"] if v == v]
        lo, hi = (min(ys), max(ys)) if ys else (0.0, 1.0)
        span = (hi - lo) or 1.0

        def xy(v: list[float], lo: float = lo, span: float = span) -> list[tuple[float, float]]:
            n = max(1, len(v) - 1)
            return [
                (10 + (w - 20) * i / n, h - 20 - (h - 40) * (y - lo) / span)
                for i, y in enumerate(v)
                if y == y
            ]

        def path(pts: list[tuple[float, float]]) -> str:
            return " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)

        sp, cp = xy(c["suspect"]), xy(c["candidate"])
        same = len(sp) == len(cp) and all(
            abs(a[1] - b[1]) < 0.01 * (h - 40) for a, b in zip(sp, cp, strict=True)
        )
        dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#e8a0a0"/>' for x, y in sp)
        squares = "".join(
            f'<rect x="{x - 2:.1f}" y="{y - 2:.1f}" width="4" height="4" fill="#1f4e99"/>'
            for x, y in cp
        )
        note = (
            f'<text x="{w - 10}" y="{h - 6}" font-size="10" text-anchor="end">'
            "the two curves coincide</text>"
            if same
            else ""
        )
        out.append(
            f'<svg width="{w}" height="{h}" role="img"><title>{escape(name)}</title>'
            f'<text x="10" y="14" font-size="11">{escape(name)} std by relative depth</text>'
            f'<polyline fill="none" stroke="#e8a0a0" stroke-width="5" stroke-linejoin="round" '
            f'points="{path(sp)}"/>{dots}'
            f'<polyline fill="none" stroke="#1f4e99" stroke-width="1.5" '
            f'stroke-dasharray="4 3" points="{path(cp)}"/>{squares}{note}</svg>'
        )
    return "".join(out)


def _matrix(m: list[list[float]], pairs: list[list[int]], cell: int = 22) -> str:
    if not m or not m[0]:
        return ""
    n, k = len(m), len(m[0])
    parts = [
        f'<svg width="{k * cell + 60}" height="{n * cell + 40}" role="img">'
        "<title>layer similarity</title>"
    ]
    mapped = {(p[0], p[1]) for p in pairs}
    for i in range(n):
        parts.append(f'<text x="2" y="{34 + i * cell + cell // 2}" font-size="10">S{i}</text>')
        for j in range(k):
            v = max(0.0, min(1.0, m[i][j]))
            shade = int(255 - 200 * v)
            stroke = ' stroke="#000" stroke-width="2"' if (i, j) in mapped else ""
            parts.append(
                f'<rect x="{40 + j * cell}" y="{24 + i * cell}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="rgb({shade},{shade},255)"{stroke}>'
                f"<title>S{i}~C{j}: r={m[i][j]:.3f}</title></rect>"
            )
    for j in range(k):
        parts.append(f'<text x="{42 + j * cell}" y="18" font-size="10">C{j}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _bars(bars: list[list[Any]], w: int = 600) -> str:
    if not bars:
        return ""
    h = 16 * len(bars) + 10
    parts = [f'<svg width="{w}" height="{h}" role="img"><title>per-test values</title>']
    for i, (label, v) in enumerate(bars):
        length = max(0.0, min(1.0, float(v))) * (w - 260)
        parts.append(
            f'<text x="2" y="{14 + 16 * i}" font-size="10">{escape(str(label))}</text>'
            f'<rect x="220" y="{4 + 16 * i}" width="{length:.1f}" height="12" fill="#6a6"/>'
            f'<text x="{225 + length:.1f}" y="{14 + 16 * i}" font-size="10">{float(v):.3f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _row(e: Evidence) -> str:
    skipped = e.details.get("skipped")
    null = escape(str(e.null.get("description", "")))
    used = (
        "yes" if e.combine and e.p_value is not None else ("descriptive" if not e.combine else "no")
    )
    floor = f"<br><small>floor {e.p_floor:.2g}</small>" if e.p_floor is not None else ""
    return (
        f"<tr><td><b>{escape(e.name)}</b><br>{escape(e.meaning)}</td>"
        f"<td>{_fmt(e.statistic)}</td><td>{escape(e.p_text)}{floor}</td><td>{used}</td>"
        f"<td>{null}</td><td>{escape(skipped) if skipped else ''}{escape(e.limits)}</td></tr>"
    )


def _findings(report: Report) -> str:
    """Findings beside the verdict (behaviour, not lineage), each with its calibration."""
    if not report.findings:
        return ""
    items = "".join(
        f"<li><b>{escape(str(f.get('kind')))}</b>: {escape(str(f.get('statement', '')))}</li>"
        for f in report.findings
    )
    return f"<h2>Findings beside the verdict</h2><ul>{items}</ul>"


def _power(report: Report) -> str:
    """The positive control an independence verdict rests on, and what would decide."""
    parts = []
    pw = report.power
    if pw:
        ok = "passed" if pw.get("passed") else "failed"
        parts.append(
            f"<p><b>Power (positive control, {ok}):</b> {escape(str(pw.get('control')))}: "
            f"{escape(str(pw.get('p_text')))} (threshold {_fmt(pw.get('threshold'))}).</p>"
        )
    if report.decide:
        items = "".join(f"<li>{escape(d)}</li>" for d in report.decide)
        parts.append(f"<p><b>What would decide:</b></p><ul>{items}</ul>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    s, c = report.suspect, report.candidate
    plots = []
    for e in report.evidence:
        if "curves" in e.plot:
            plots.append(
                "<h3>Per-layer weight spread (wide pale red with dots: suspect; "
                "thin dark blue with squares: candidate)"
                f"</h3>{_lines(e.plot['curves'])}"
            )
        if "matrix_r" in e.plot:
            plots.append(
                "<h3>Layer alignment (darker = more similar; outlined = map)</h3>"
                f"{_matrix(e.plot['matrix_r'], e.plot.get('map', []))}"
            )
        if "cka_matrix" in e.plot:
            plots.append(
                "<h3>Activation CKA by layer (S = suspect rows, C = candidate columns; "
                f"outlined = monotone alignment)</h3>{_matrix(e.plot['cka_matrix'], e.plot.get('alignment', []))}"
            )
        if "bars" in e.plot:
            plots.append(f"<h3>{escape(e.name)}</h3>{_bars(e.plot['bars'])}")
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>modelkin evidence report"
        f"</title><style>{_CSS}</style></head><body><h1>Model comparison</h1>"
        f"<p>Suspect: <b>{escape(str(s.get('name')))}</b> ({escape(str(s.get('format')))}, "
        f"{_fmt(s.get('num_layers'))} layers) — Candidate: <b>{escape(str(c.get('name')))}"
        f"</b> ({escape(str(c.get('format')))}, {_fmt(c.get('num_layers'))} layers)</p>"
        f"<p class='v'>Verdict: {escape(str(report.verdict))}</p>"
        f"<p>{escape(report.summary)}</p><p>{escape(report.reason)}</p>{_power(report)}"
        "<p>Each test asks: <i>if these two models had been trained independently, how "
        "surprising would this be?</i> That probability is the p-value; 'related' needs the "
        f"combined p-value ≤ {_fmt(report.combination.get('related_threshold'))}. "
        f"Combination: {escape(str(report.combination.get('method')))}.</p>"
        "<p>A p-value at the precision its method supports is shown as <i>p &lt; floor</i> "
        "(Monte Carlo: 1/(draws+1); normal tails: 1e-16).</p>"
        "<table><tr><th>Test (what it means)</th><th>Statistic</th><th>p-value</th>"
        "<th>Counted</th><th>Null distribution</th><th>Limits</th></tr>"
        + "".join(_row(e) for e in report.evidence)
        + "</table>"
        + _findings(report)
        + "".join(plots)
        + "</body></html>"
    )
