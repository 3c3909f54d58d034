"""The verdict engine: run every test, combine, decide.

Combined p-value: the Cauchy combination (Liu & Xie 2020) of the p-values of the tests
that ran and are valid under H0; it stays valid under arbitrary dependence between tests in
the small-p tail used here. ``related`` requires combined p <= :data:`RELATED_P`.
"""

from __future__ import annotations

from typing import Any

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.evidence import Evidence, Report
from modelkin.forensics.identity import identity_test
from modelkin.forensics.layers import layer_test
from modelkin.forensics.params import parameter_test
from modelkin.forensics.profile import profile_test
from modelkin.forensics.spectra import spectra_test
from modelkin.forensics.stats import cauchy_combine
from modelkin.forensics.tokens import token_test
from modelkin.forensics.units import unit_test

RELATED_P = 1e-6
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
    s: Fingerprint, c: Fingerprint, layers: Evidence | None, units: Evidence | None = None
) -> list[str]:
    why = []
    if units is not None and units.details.get("hidden_basis") == "permuted":
        why.append("hidden (residual-stream) basis permuted")
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
    profile = profile_test(suspect, candidate)
    tokens = token_test(suspect, candidate)
    spectra = spectra_test(suspect, candidate, pairs)
    evidence = [ident, params, units, layers, profile, spectra, tokens]
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
    elif level in ("weights", "near"):
        verdict, related = "converted", True
        p = p if p is not None else 0.0
    elif p is not None and p <= threshold:
        surgery = _surgery(suspect, candidate, layers, units)
        verdict, related = ("derived_surgery" if surgery else "derived"), True
        reason = "; ".join(surgery)
    elif not used:
        verdict, related = "insufficient", None
        reason = "no comparable parameters (different shapes, widths or missing data)"
        if jac is not None and jac >= SAME_TOKENIZER_JACCARD:
            verdict, related = "same_tokenizer_only", False
    elif jac is not None and jac >= SAME_TOKENIZER_JACCARD:
        verdict, related = "same_tokenizer_only", False
    else:
        verdict, related = "unrelated", False
    summary = _summary(verdict, p, threshold, used)
    return Report(
        verdict=verdict,
        related=related,
        p_value=p,
        evidence=evidence,
        suspect=_describe(suspect),
        candidate=_describe(candidate),
        summary=summary,
        reason=reason,
        combination={
            "method": "Cauchy combination (Liu & Xie 2020), valid under dependence",
            "tests": [e.name for e in used],
            "related_threshold": threshold,
        },
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
    return (
        f"Consistent with independent training ({verdict}): combined p = {ps} "
        f"(threshold {threshold:g}; tests: {names})."
    )
