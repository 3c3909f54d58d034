"""The verdict engine: run every test, combine, decide.

Combined p-value: the Cauchy combination (Liu & Xie 2020) of the p-values of the tests
that ran and are valid under H0; it stays valid under arbitrary dependence between tests in
the small-p tail used here. ``related`` requires combined p <= :data:`RELATED_P`.
"""

from __future__ import annotations

from typing import Any

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.evidence import Evidence, Report
from modelkin.forensics.heads import head_test
from modelkin.forensics.identity import identity_test
from modelkin.forensics.layers import layer_test
from modelkin.forensics.params import parameter_test
from modelkin.forensics.profile import profile_test
from modelkin.forensics.spectra import spectra_test
from modelkin.forensics.stats import cauchy_combine
from modelkin.forensics.tokens import token_test
from modelkin.forensics.units import unit_test

RELATED_P = 1e-6
#: A matching's own p-value at or below which its matched order is trusted (the pair is
#: already related by the combined p): 4 heads in 4 layers all agreeing give 3e-6.
ORDER_P = 1e-3
#: Level the liberal shape-free tests must stay above for an ``unrelated`` verdict on
#: pairs no weight-level test can compare (see :func:`_shape_free`).
LIBERAL_ALPHA = 0.01
#: Vocabulary Jaccard above which two models "share a tokenizer".
SAME_TOKENIZER_JACCARD = 0.9


def _describe(fp: Fingerprint) -> dict[str, Any]:
    st = fp.structure
    return {
        "name": fp.name,
        "format": fp.format,
        "mode": fp.mode,
        "seed": fp.seed,
        "fingerprint": fp.digest(),
        "family": st.get("family"),
        "num_layers": st.get("num_layers"),
        "hidden_size": st.get("hidden_size"),
        "vocab_size": st.get("vocab_size"),
    }


def _surgery(
    s: Fingerprint,
    c: Fingerprint,
    layers: Evidence | None,
    units: Evidence | None = None,
    heads: Evidence | None = None,
) -> list[str]:
    """Why a related pair is ``derived_surgery`` (empty: plain ``derived``). Rules, each
    named in the report's reason: a permuted residual stream, MLP units or attention heads
    matched only at other indices (function-preserving permutation), a changed structure
    field, or layers aligned at other depths."""
    why = []
    if units is not None and units.details.get("hidden_basis") == "permuted":
        why.append("hidden (residual-stream) basis permuted")
    for ev, key, text in (
        (units, "unit_order", "MLP units permuted (matched at other indices)"),
        (heads, "head_order", "attention heads permuted (matched at other indices)"),
    ):
        significant = ev is not None and ev.p_value is not None and ev.p_value <= ORDER_P
        if significant and ev is not None and ev.details.get(key) == "permuted":
            why.append(text)
    for k in ("num_layers", "hidden_size", "intermediate_size", "vocab_size", "num_heads"):
        a, b = s.structure.get(k), c.structure.get(k)
        if a is not None and b is not None and a != b:
            why.append(f"{k} {s.structure.get(k)} vs {c.structure.get(k)}")
    mapped = layers is not None and layers.p_value is not None
    if mapped and layers is not None and not layers.details["identity_map"] and not why:
        why.append("layers map to different depths")
    return why


def compare(suspect: Fingerprint, candidate: Fingerprint, **opts: Any) -> Report:
    """Compare two fingerprints; ``opts``: ``related_p`` (default 1e-6)."""
    threshold = float(opts.get("related_p", RELATED_P))
    ident = identity_test(suspect, candidate)
    params = parameter_test(suspect, candidate)
    layers = layer_test(suspect, candidate)
    pairs = [(int(i), int(j)) for i, j, *_ in layers.details.get("map", [])]
    units = unit_test(suspect, candidate, pairs)
    heads = head_test(suspect, candidate, pairs, units.details.get("hidden_basis") == "permuted")
    profile = profile_test(suspect, candidate)
    tokens = token_test(suspect, candidate)
    spectra = spectra_test(suspect, candidate, pairs)
    evidence = [ident, params, units, heads, layers, profile, spectra, tokens]
    used = [e for e in evidence if e.combine and e.p_value is not None]
    p = cauchy_combine([e.p_value for e in used if e.p_value is not None]) if used else None
    overlap = tokens.details.get("vocab", {})
    jac = overlap.get("jaccard")
    level = ident.details["level"]
    reason = ""
    related: bool | None
    if level == "files" or (
        level == "weights"
        and suspect.format == candidate.format
        and suspect.structure.get("digest") == candidate.structure.get("digest")
        and {k: v["size"] for k, v in suspect.files.items()}
        == {k: v["size"] for k, v in candidate.files.items()}
    ):
        verdict, related = "identical", True
    elif suspect.seed != candidate.seed:
        verdict, related = "insufficient", None
        reason = (
            f"fingerprints made with different seeds ({suspect.seed} vs {candidate.seed}) "
            "sample different weights: fingerprint both with the same seed"
        )
    elif level == "weights" or (level == "converted" and p is not None and p <= threshold):
        # a lattice-explained difference is a conversion only once the weight tests have
        # shown relation (a very coarse lattice could otherwise absorb unrelated weights)
        verdict, related = "converted", True
        p = p if p is not None else 0.0
        rules = ", ".join(sorted(r for r in ident.details.get("rules", {}) if r != "exact"))
        reason = f"every shared role equal or explained by rule {rules or 'exact'}"
    elif p is not None and p <= threshold:
        surgery = _surgery(suspect, candidate, layers, units, heads)
        verdict, related = ("derived_surgery" if surgery else "derived"), True
        reason = "; ".join(surgery)
        if not surgery and level == "near":
            reason = "small changes not explained by a conversion (no quantization lattice, "
            reason += "beyond float round-off): fine-tune or noise"
    elif not used:
        verdict, related, p, reason = _shape_free(profile, spectra, tokens)
        if related is False and jac is not None and jac >= SAME_TOKENIZER_JACCARD:
            verdict = "same_tokenizer_only"
    elif jac is not None and jac >= SAME_TOKENIZER_JACCARD:
        verdict, related = "same_tokenizer_only", False
    else:
        verdict, related = "unrelated", False
    summary = _summary(verdict, p, threshold, used)
    if not used and p is not None:
        used_names = [e.name for e in (profile, tokens) if e.p_value is not None]
        comb = {
            "method": "Cauchy combination of shape-free tests with liberal nulls "
            "(they over-reject: a large p here is conservative for 'unrelated')",
            "tests": used_names,
            "related_threshold": threshold,
        }
    else:
        comb = {
            "method": "Cauchy combination (Liu & Xie 2020), valid under dependence",
            "tests": [e.name for e in used],
            "related_threshold": threshold,
        }
    return Report(
        verdict=verdict,
        related=related,
        p_value=p,
        evidence=evidence,
        suspect=_describe(suspect),
        candidate=_describe(candidate),
        summary=summary,
        reason=reason,
        combination=comb,
    )


def _shape_free(
    profile: Evidence, spectra: Evidence, tokens: Evidence
) -> tuple[str, bool | None, float | None, str]:
    """Verdict when no weight-level test could run (shapes differ entirely: other family
    or width). The shape-independent tests that can run are the depth profile (per-layer
    weight spread after depth normalisation) and the vocabulary overlap; their nulls are
    *liberal* (same-recipe models look alike, so they over-reject independence). Rule
    ``shape-free-null``: when they ran and none reaches :data:`LIBERAL_ALPHA`, a valid
    test would not either, so the pair is ``unrelated`` with their combined p; when one
    does, it cannot prove derivation (invalid null): ``insufficient``."""
    ps = [e.p_value for e in (profile,) if e.p_value is not None]
    vocab = tokens.details.get("vocab", {})
    jac = vocab.get("jaccard")
    vtxt = f"; vocabulary Jaccard {jac:.3g}" if isinstance(jac, float) else ""
    if not ps:
        why = profile.details.get("skipped") or "no per-layer role in both"
        return (
            "insufficient",
            None,
            None,
            "no comparable parameters (different shapes, widths or missing data) and no "
            f"shape-independent test could run ({why}){vtxt}",
        )
    p = cauchy_combine(ps)
    if p >= LIBERAL_ALPHA:
        return (
            "unrelated",
            False,
            p,
            "shapes differ entirely; rule shape-free-null: depth-normalised per-layer "
            f"curves (r = {profile.statistic:.2f}) show no relation at the liberal level "
            f"{LIBERAL_ALPHA:g}{vtxt}",
        )
    return (
        "insufficient",
        None,
        p,
        "shapes differ entirely and the depth-normalised per-layer curves agree "
        f"(r = {profile.statistic:.2f}, naive p = {p:.2g}), but that test has no valid "
        f"null for derivation{vtxt}",
    )


def _summary(verdict: str, p: float | None, threshold: float, used: list[Evidence]) -> str:
    ps = f"{p:.3g}" if p is not None else "n/a"
    names = ", ".join(e.name for e in used) or "none"
    if verdict in ("identical", "converted", "derived", "derived_surgery"):
        return (
            f"Statistically consistent with derivation ({verdict}): combined p = {ps} under "
            f"H0 'trained independently' (threshold {threshold:g}; tests: {names})."
        )
    if verdict == "insufficient":
        return "Insufficient evidence: the fingerprints share nothing comparable."
    if not used:
        return (
            f"Consistent with independent training ({verdict}): no weight-level test could "
            f"run (shapes differ); the shape-free tests give p = {ps} (liberal nulls)."
        )
    return (
        f"Consistent with independent training ({verdict}): combined p = {ps} "
        f"(threshold {threshold:g}; tests: {names})."
    )
