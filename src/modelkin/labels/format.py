"""Formatting shared by every renderer, so HTML, SVG/PNG and Markdown say the same thing."""

from __future__ import annotations

from modelkin.labels.model import Label, Parent, Provenance

NOT_DECLARED = "not declared"
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")

STATUS_TEXT = {
    "verified": "verified",
    "contradicted": "CONTRADICTED",
    "partly_supported": "partly supported",
    "unverifiable": "unverifiable",
    "untested": "claimed, not tested",
}


def provenance_text(p: Provenance) -> str:
    """``ledger #12 · declared by the registrant``: the source line every section and fact
    carries. "checked by modelkin" only for what modelkin verified itself (issue 14: a
    logged record is not a verified one)."""
    where = f"ledger #{p.ledger_index}" if p.ledger_index is not None else "not in ledger"
    said = "checked by modelkin" if p.status == "verified" else "declared by the registrant"
    return f"{where} · {said}"


def disclosure_text(answered: int, total: int) -> str:
    """The disclosure score as what it is: how complete the disclosure is."""
    return f"{answered} of {total} disclosure questions answered"


DISCLOSURE_NOTE = (
    "Completeness of what the registrant disclosed, not a compliance check: "
    "answers are as declared."
)
FOOTER = (
    "“checked by modelkin” = recomputed by modelkin (inclusion proof, a signature over the "
    "files, forensics on the weights); everything else is declared by the registrant and "
    "logged, not verified."
)


def identity_rows(label: Label) -> list[tuple[str, str, bool]]:
    """(key, value, checked by modelkin) rows of the Identity section, shared by renderers."""
    i = label.identity
    d, a = i.details, i.architecture
    entry = NOT_DECLARED if i.ledger_index is None else f"#{i.ledger_index}"
    if i.ledger_index is not None and i.tree_size is not None:
        entry += f" of {i.tree_size:,}"
    arch = NOT_DECLARED
    if a is not None:
        arch = " ".join(x for x in (a.name, f"({a.family})" if a.family else None) if x)
        if a.parameters:
            arch += f", {number(a.parameters)} parameters"
    rows = [
        ("Organisation", i.organisation or NOT_DECLARED, False),
        ("Version", i.version or NOT_DECLARED, False),
        ("Licence", i.licence or NOT_DECLARED, False),
        ("Architecture", arch or NOT_DECLARED, False),
        ("Task", d.task or NOT_DECLARED, False),
        ("Contact", d.contact or NOT_DECLARED, False),
        ("Weight digest", short_digest(i.weight_digest), False),
        ("Ledger entry", entry, False),
        (
            "Inclusion proof",
            "✓ checked by modelkin" if i.inclusion_proof == "verified" else i.inclusion_proof,
            i.inclusion_proof == "verified",
        ),
    ]
    if i.signature is not None:
        who = i.signature.signer + (f" ({i.signature.issuer})" if i.signature.issuer else "")
        rows.append(("Files signed by", f"✓ {who}, OpenSSF model signing", True))
    return rows


def evaluation_lines(label: Label) -> list[str]:
    """Declared evaluation results, one line each."""
    return [
        f"{e.metric} = {e.value}"
        + (f" on {e.dataset}" if e.dataset else "")
        + (f" ({e.split})" if e.split else "")
        + (f", task {e.task}" if e.task else "")
        for e in label.use.evaluation
    ]


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
    """``fine-tune · verified (p = 1.0e-12)``; a contradicted claim shows no p-value (a large
    p says only "no evidence of derivation", which :func:`plain_verdict` puts in words)."""
    text = f"{p.relation} · {STATUS_TEXT[p.status]}"
    if p.p_value is not None and p.status != "contradicted":
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


def _chance(p: float) -> str:
    """A p-value as a lay reader reads it: how often unrelated models would look this alike."""
    if p <= 0 or p < 1e-15:
        return "less than one in a million billion"
    if p < 1e-6:
        return "less than one in a million"
    if p < 0.001:
        return f"about one in {round(1 / p):,}"
    return f"{p:.1%}"


def plain_verdict(p: Parent) -> str:
    """What forensics found about one claimed parent, in words a lay reader understands."""
    if p.status == "verified":
        text = (
            f"checked: modelkin compared the weights, and they are statistically consistent "
            f"with being derived from {p.name}"
        )
        if p.p_value is not None:
            text += (
                f" (the chance that an unrelated model would look this alike is "
                f"{_chance(p.p_value)})"
            )
        return text
    if p.status == "contradicted":
        text = (
            f"not supported: modelkin compared the weights and found none of the traces that "
            f"making this model from {p.name} would leave, so the claim does not hold up"
        )
        return text + (f" ({p.detail})" if p.detail else "")
    if p.status == "partly_supported":
        text = (
            f"partly supported: modelkin compared the weights and they are related to {p.name}, "
            f"but not in the way claimed ({p.relation})"
        )
        return text + (f": {p.detail}" if p.detail else "")
    if p.status == "unverifiable":
        return "could not be checked from the weights" + (f": {p.detail}" if p.detail else "")
    return "claimed by the registrant; modelkin has not compared the weights"
