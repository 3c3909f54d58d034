"""Formatting shared by every renderer, so HTML, SVG/PNG and Markdown say the same thing."""

from __future__ import annotations

from modelkin.labels.model import Parent, Provenance

NOT_DECLARED = "not declared"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

STATUS_TEXT = {
    "verified": "verified",
    "contradicted": "CONTRADICTED",
    "unverifiable": "unverifiable",
    "untested": "claimed, not tested",
}


def provenance_text(p: Provenance) -> str:
    """``ledger #12 · verified``: the source line every section and fact carries."""
    where = f"ledger #{p.ledger_index}" if p.ledger_index is not None else "not in ledger"
    return f"{where} · {p.status}"


def percent(x: float | None) -> str:
    """A share in [0, 1] as a percentage with sensible precision."""
    if x is None:
        return NOT_DECLARED
    v = 100.0 * x
    if v == 0 or v >= 10:
        return f"{v:.0f} %"
    return f"{v:.1f} %"


def number(x: float | None, unit: str = "") -> str:
    """Numbers as a person reads them: thousands separators, scientific for huge values."""
    if x is None:
        return NOT_DECLARED
    if abs(x) >= 1e9:
        mant, exp = f"{x:.2e}".split("e")
        text = f"{mant} × 10{str(int(exp)).translate(_SUPERSCRIPT)}"
    elif float(x).is_integer():
        text = f"{int(x):,}"
    else:
        text = f"{x:,.1f}"
    return f"{text} {unit}".rstrip()


def short_digest(digest: str | None) -> str:
    """``sha256:1a2b3c4d…9f8e7d6c``: enough to compare by eye; the JSON keeps the full one."""
    if not digest:
        return NOT_DECLARED
    algo, _, hexpart = digest.partition(":")
    if len(hexpart) <= 20:
        return digest
    return f"{algo}:{hexpart[:8]}…{hexpart[-8:]}"


def parent_verdict(p: Parent) -> str:
    """``fine-tune · verified (p = 1.0e-12)``."""
    text = f"{p.relation} · {STATUS_TEXT[p.status]}"
    if p.p_value is not None:
        shown = "p < 1e-15" if p.p_value < 1e-15 else f"p = {p_value(p.p_value)}"
        text += f" ({shown})"
    return text


def p_value(p: float) -> str:
    """``0.62``, ``0.004`` or ``3.2e-14``: fixed notation while it stays readable."""
    if p == 0:
        return "0"
    if p >= 0.001:
        return f"{p:.3g}"
    return f"{p:.1e}"


def yes_no(x: bool | None) -> str:
    """Tri-state for personal-data flags."""
    if x is None:
        return NOT_DECLARED
    return "yes" if x else "no"
