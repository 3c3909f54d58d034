"""Human-readable AI-use disclosure labels: plain text/Markdown and a small HTML fragment.

The label states the tier, the IPTC digital source type, the systems and their roles, the
AI share and the human contribution, and any contradictions found, so nothing the creator
declared is hidden. For the EU it notes the AI Act's marking duty (Regulation (EU)
2024/1689 art. 50(2), applicable from 2 August 2026 under art. 113).
"""

from __future__ import annotations

import datetime as dt
from html import escape

from modelkin.works.classify import Classification
from modelkin.works.record import Work

AI_ACT_50_2_FROM = dt.date(2026, 8, 2)
_TIER_TEXT = {
    "human": "Human-authored",
    "ai-assisted": "AI-assisted",
    "ai-generated": "AI-generated (fully autonomous)",
}


def _lines(work: Work, c: Classification, as_of: dt.date) -> list[tuple[str, str]]:
    d = work.disclosure
    rows = [
        ("Work", work.title),
        ("Kind", work.kind),
        ("Tier", _TIER_TEXT[c.tier]),
        ("Digital source type", f"{c.digital_source_type} ({c.digital_source_type_uri})"),
    ]
    systems = d.active_systems
    rows.append(
        (
            "AI systems",
            "; ".join(
                f"{s.name}{' ' + s.version if s.version else ''}: {s.role}"
                + (f" (registered {s.model})" if s.model else "")
                for s in systems
            )
            or "none",
        )
    )
    rows.append(
        ("AI-generated share", f"{d.ai_share:.0%}" if d.ai_share is not None else "not stated")
    )
    rows.append(("Human contribution", d.human_contribution or "not described"))
    if work.sha256:
        rows.append(("Content sha256", work.sha256))
    rows += _trust_rows(work, c)
    if c.tier != "human":
        duty = "applies" if as_of >= AI_ACT_50_2_FROM else f"applies from {AI_ACT_50_2_FROM}"
        rows.append(
            ("EU AI Act art. 50(2)", f"machine-readable marking of AI-generated output {duty}")
        )
    for i in c.inferences:
        rows.append(("Inferred", i.text()))
    for flag in c.contradictions:
        rows.append(("Conflict", flag))
    return rows


def _trust_rows(work: Work, c: Classification) -> list[tuple[str, str]]:
    """The C2PA evidence, with an unverified disclosure marked as such on every label."""
    ev = work.disclosure.c2pa
    trust = c.facts.manifest_trust if c.facts else None
    if ev is None and trust is None:
        return []
    rows = []
    if ev is not None:
        signer = ev.get("signer") or "unknown signer"
        rows.append(("C2PA validation", f"{ev.get('validation_state')} ({signer})"))
    if trust == "unverified" or (ev is not None and not ev.get("trusted")):
        rows.append(
            (
                "Disclosure status",
                "UNVERIFIED DISCLOSURE: the C2PA manifest is intact but its signer is not "
                "on the trust list",
            )
        )
    elif trust == "trusted" or (ev is not None and ev.get("trusted")):
        rows.append(("Disclosure status", "C2PA manifest signed by a trusted signer"))
    return rows


def disclosure_rows(
    work: Work, c: Classification, as_of: dt.date | None = None
) -> list[tuple[str, str]]:
    """The label's rows (key, value), for pages that lay them out themselves."""
    return _lines(work, c, as_of or dt.date.today())


def label_markdown(work: Work, c: Classification, as_of: dt.date | None = None) -> str:
    """A Markdown disclosure (also readable as plain text)."""
    rows = _lines(work, c, as_of or dt.date.today())
    out = [f"## AI-use disclosure: {work.title}", ""]
    out += [f"- **{k}:** {v}" for k, v in rows]
    out += ["", "Reasons: " + " ".join(r.rstrip(".") + "." for r in c.reasons)]
    return "\n".join(out) + "\n"


def label_text(work: Work, c: Classification, as_of: dt.date | None = None) -> str:
    """A plain-text disclosure, one ``key: value`` per line."""
    rows = _lines(work, c, as_of or dt.date.today())
    width = max(len(k) for k, _ in rows)
    body = [f"{k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(["AI-use disclosure", *body, "Reasons: " + "; ".join(c.reasons)]) + "\n"


def label_html(work: Work, c: Classification, as_of: dt.date | None = None) -> str:
    """A small, self-contained HTML fragment (escaped; no scripts, no external resources)."""
    rows = _lines(work, c, as_of or dt.date.today())
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    return (
        f'<section class="modelkin-disclosure" data-tier="{escape(c.tier)}">'
        f"<h2>AI-use disclosure</h2><dl>{cells}</dl>"
        f"<p>{escape('; '.join(c.reasons))}</p></section>\n"
    )
