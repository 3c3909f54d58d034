"""The verdict engine: run every test, combine, decide, and abstain when it cannot.

Rules, in order (each named in the report):

1. ``identical`` / ``converted``: same files or weights, or every difference explained by
   a conversion rule (the latter only once the tests below show relation).
2. Different fingerprint seeds: ``insufficient`` (the samples differ).
3. **related** (``derived`` / ``derived_surgery``): the combined p-value of the tests with a
   valid null (``Evidence.combine``) is at most :data:`RELATED_P`. Combination: Cauchy
   (Liu & Xie 2020, valid under dependence; large p-values clipped so that one test at
   p = 1 cannot veto the others, see :mod:`.stats`).
4. **independence** (``unrelated`` / ``same_tokenizer_only``, CLI exit 0) only when a test
   with a valid null ran *and had power on this pair*: the same tests call a control copy
   of the candidate (:mod:`.control`: the candidate's own values plus
   :data:`~modelkin.forensics.control.POWER_NOISE` relative noise, in the suspect's
   layout) related, or a test supplied from outside states its own passed positive
   control (``Evidence.power``). Failing to reject is otherwise no evidence of
   independence.
5. Otherwise ``insufficient``, with the reason and what evidence would decide.
6. **incomplete**: a model file truncated inside its tensor data is fingerprinted as far
   as it can be read (``Fingerprint.missing`` lists the absent tensors); relation found in
   the readable part stands, anything else becomes ``insufficient`` naming the file.

Descriptive tests (no valid null: depth profile, attention spectra) are shown and never
decide. New tests plug in through :func:`fingerprint_evidence` (fingerprint-level tests,
re-run on the power control) or ``compare(..., extra=[...])`` (evidence computed
elsewhere, e.g. from activations); every one with ``combine=True`` enters the combined p.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.control import POWER_NOISE, control_copy
from modelkin.forensics.evidence import Evidence, EvidenceLevel, Report, Verdict
from modelkin.forensics.heads import head_test
from modelkin.forensics.identity import identity_test
from modelkin.forensics.layers import layer_test
from modelkin.forensics.params import parameter_test
from modelkin.forensics.profile import profile_test
from modelkin.forensics.rotation import rotation_test
from modelkin.forensics.spectra import spectra_test
from modelkin.forensics.stats import P_FLOOR, cauchy_combine, p_text
from modelkin.forensics.subset import pruned_text, subset_test
from modelkin.forensics.tokens import token_test
from modelkin.forensics.units import unit_test

RELATED_P = 1e-6
#: A matching's own p-value at or below which its matched order is trusted (the pair is
#: already related by the combined p): 4 heads in 4 layers all agreeing give 3e-6.
ORDER_P = 1e-3
#: Tests that assume a shared hidden basis: a rotation is named only when none of them
#: rejects but the rotation-invariant test does.
BASIS_TESTS = (
    "parameter_similarity",
    "unit_matching",
    "head_matching",
    "layer_alignment",
    "subset_matching",
)
#: Vocabulary Jaccard above which two models "share a tokenizer".
SAME_TOKENIZER_JACCARD = 0.9

#: What evidence would decide, by the reason an answer was withheld.
DECIDE_ACTIVATIONS = (
    "compare behaviour on the model files (modelkin compare --activations): hidden "
    "representations compare across shapes, rotations and pruning (descriptive until "
    "that test has a calibrated null)"
)
DECIDE_SEED = "fingerprint both models with the same seed (--seed)"
DECIDE_TOKENIZER = (
    "provide each model's tokenizer (tokenizer.json beside the weights) so that "
    "token-keyed embedding rows can be compared (and width-pruned or rotated models matched)"
)
DECIDE_COMPLETE = "provide the complete model file (this one ends before all its tensors)"
DECIDE_FULL = "fingerprint both models in full mode (--mode full) for more comparable cells"

_COMBINATION = "Cauchy combination (Liu & Xie 2020), valid under dependence; p clipped at 0.99"


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


def _significant(ev: Evidence | None) -> bool:
    return ev is not None and ev.p_value is not None and ev.p_value <= ORDER_P


def _surgery(
    s: Fingerprint,
    c: Fingerprint,
    layers: Evidence | None,
    units: Evidence | None = None,
    heads: Evidence | None = None,
    evidence: Sequence[Evidence] = (),
) -> list[str]:
    """Why a related pair is ``derived_surgery`` (empty: plain ``derived``). Rules, each
    named in the report's reason: width pruning (a subset of the other's hidden
    dimensions and units), a rotated residual stream (only the rotation-invariant test
    rejects), a permuted residual stream, MLP units or attention heads matched only at
    other indices (function-preserving permutation), a changed structure field, or
    layers aligned at other depths."""
    why = []
    by = {e.name: e for e in evidence}
    subset = by.get("subset_matching")
    pruned = subset is not None and _significant(subset)
    if pruned and subset is not None:
        why.append(pruned_text(subset, s, c))
    rotation = by.get("rotation_matching")
    if (
        rotation is not None
        and _significant(rotation)
        and not any(_significant(by.get(n)) for n in BASIS_TESTS)
    ):
        text = (
            "residual stream rotated (an orthogonal change of basis, SliceGPT/QuaRot-style): "
            "only the rotation-invariant unit-by-token responses match"
        )
        fit = rotation.details.get("orthogonal_fit")
        if fit:
            kind = f" ({fit['kind']})" if fit.get("kind") else ""
            text += (
                f"; an orthogonal map takes one model's token embeddings onto the other's "
                f"with relative residual {fit['relative_residual']:.2g}{kind}"
            )
        why.append(text)
    if units is not None and units.details.get("hidden_basis") == "permuted":
        why.append("hidden (residual-stream) basis permuted")
    for ev, key, text in (
        (units, "unit_order", "MLP units permuted (matched at other indices)"),
        (heads, "head_order", "attention heads permuted (matched at other indices)"),
    ):
        significant = ev is not None and ev.p_value is not None and ev.p_value <= ORDER_P
        if significant and ev is not None and ev.details.get(key) == "permuted":
            why.append(text)
    named = ("num_layers", "hidden_size", "intermediate_size", "num_heads") if pruned else ()
    for k in ("num_layers", "hidden_size", "intermediate_size", "vocab_size", "num_heads"):
        if k in named:
            continue
        a, b = s.structure.get(k), c.structure.get(k)
        if a is not None and b is not None and a != b:
            why.append(f"{k} {s.structure.get(k)} vs {c.structure.get(k)}")
    mapped = layers is not None and layers.p_value is not None
    if mapped and layers is not None and not layers.details["identity_map"] and not why:
        why.append("layers map to different depths")
    return why


def fingerprint_evidence(s: Fingerprint, c: Fingerprint) -> list[Evidence]:
    """Every fingerprint-level test on the pair, in report order. A new test is added
    here; if it sets ``combine=True`` (a null validated by ``benchmarks/null_study.py``)
    it enters the combined p-value and the power control automatically."""
    ident = identity_test(s, c)
    params = parameter_test(s, c)
    layers = layer_test(s, c)
    pairs = [(int(i), int(j)) for i, j, *_ in layers.details.get("map", [])]
    units = unit_test(s, c, pairs)
    heads = head_test(s, c, pairs, units.details.get("hidden_basis") == "permuted")
    profile = profile_test(s, c)
    tokens = token_test(s, c)
    spectra = spectra_test(s, c, pairs)
    subset = subset_test(s, c)
    rotation = rotation_test(s, c, pairs)
    return [ident, params, units, heads, subset, rotation, layers, profile, spectra, tokens]


def combined(evidence: Sequence[Evidence]) -> tuple[float | None, float | None, list[Evidence]]:
    """(combined p, its floor, the tests combined): the Cauchy combination of every test
    with ``combine=True`` that produced a p-value."""
    used = [e for e in evidence if e.combine and e.p_value is not None]
    if not used:
        return None, None, []
    p = cauchy_combine([float(e.p_value) for e in used if e.p_value is not None])
    floors = [e.p_floor if e.p_floor is not None else P_FLOOR for e in used]
    return p, min(floors), used


def power_control(
    s: Fingerprint, c: Fingerprint, threshold: float, noise: float = POWER_NOISE
) -> dict[str, Any]:
    """Run the fingerprint tests on the control pair (see :mod:`.control`)."""
    ctrl = control_copy(s, c, noise)
    ev = fingerprint_evidence(ctrl, c)
    p, floor, used = combined(ev)
    return {
        "control": f"the candidate's own weights plus Gaussian noise of {noise:g} x each "
        "stored array's standard deviation, in the suspect's layout, against the candidate",
        "noise": noise,
        "p": p,
        "p_text": p_text(p, floor, "combined") if p is not None else "n/a",
        "threshold": threshold,
        "passed": p is not None and p <= threshold,
        "tests": {e.name: e.p_value for e in used},
        "powered_tests": [e.name for e in used if e.p_value is not None and e.p_value <= threshold],
    }


def compare(
    suspect: Fingerprint,
    candidate: Fingerprint,
    *,
    extra: Sequence[Evidence] = (),
    related_p: float = RELATED_P,
    power_noise: float = POWER_NOISE,
) -> Report:
    """Compare two fingerprints.

    ``extra``: evidence computed outside the fingerprint engine (e.g. activations); each
    with ``combine=True`` enters the combined p, and one that states a passed positive
    control (``power["passed"]``) can support an independence verdict. ``related_p``: the
    related threshold; ``power_noise``: the relative noise of the power control."""
    threshold = float(related_p)
    evidence = fingerprint_evidence(suspect, candidate) + list(extra)
    ident = evidence[0]
    layers = next(e for e in evidence if e.name == "layer_alignment")
    units = next(e for e in evidence if e.name == "unit_matching")
    heads = next(e for e in evidence if e.name == "head_matching")
    tokens = next(e for e in evidence if e.name == "tokens_embeddings")
    p, floor, used = combined(evidence)
    jac = tokens.details.get("vocab", {}).get("jaccard")
    shared_tok = jac is not None and jac >= SAME_TOKENIZER_JACCARD
    level = EvidenceLevel(ident.details["level"])
    reason = ""
    decide: list[str] = []
    power: dict[str, Any] | None = None
    verdict: Verdict
    if level is EvidenceLevel.FILES or (
        level is EvidenceLevel.WEIGHTS
        and suspect.format == candidate.format
        and suspect.structure.get("digest") == candidate.structure.get("digest")
        and {k: v["size"] for k, v in suspect.files.items()}
        == {k: v["size"] for k, v in candidate.files.items()}
    ):
        verdict = Verdict.IDENTICAL
        reason = "rule identity: same files" if level is EvidenceLevel.FILES else ""
        reason = reason or "rule identity: same weights, same format and structure"
    elif suspect.seed != candidate.seed:
        verdict = Verdict.INSUFFICIENT
        reason = (
            f"fingerprints made with different seeds ({suspect.seed} vs {candidate.seed}) "
            "sample different weights"
        )
        decide = [DECIDE_SEED]
    elif level is EvidenceLevel.WEIGHTS or (
        level is EvidenceLevel.CONVERTED and p is not None and p <= threshold
    ):
        # a lattice-explained difference is a conversion only once the weight tests have
        # shown relation (a very coarse lattice could otherwise absorb unrelated weights)
        verdict = Verdict.CONVERTED
        if p is None:
            p, floor = P_FLOOR, P_FLOOR
        rules = ", ".join(sorted(r for r in ident.details.get("rules", {}) if r != "exact"))
        reason = f"every shared role equal or explained by rule {rules or 'exact'}"
    elif p is not None and p <= threshold:
        surgery = _surgery(suspect, candidate, layers, units, heads, evidence)
        verdict = Verdict.DERIVED_SURGERY if surgery else Verdict.DERIVED
        reason = "; ".join(surgery)
        if not surgery and level is EvidenceLevel.NEAR:
            reason = "small changes not explained by a conversion (no quantization lattice, "
            reason += "beyond float round-off): fine-tune or noise"
    elif not used:
        verdict = Verdict.INSUFFICIENT
        reason, decide = _nothing_comparable(evidence, jac, suspect, candidate)
    else:
        power = power_control(suspect, candidate, threshold, power_noise)
        outside = [
            e.name
            for e in extra
            if e.combine and e.p_value is not None and (e.power or {}).get("passed") is True
        ]
        if outside:
            power["outside_controls"] = outside
        if power["passed"] or outside:
            verdict = Verdict.SAME_TOKENIZER_ONLY if shared_tok else Verdict.UNRELATED
            names = ", ".join(power["powered_tests"] + outside) or "the combined tests"
            reason = (
                f"rule powered-null: no valid test rejects independence ({p_text(p)}), and "
                f"{names} had power on this pair (control: the candidate plus "
                f"{power_noise:g} relative noise gives {power['p_text']})"
            )
            if shared_tok:
                reason += f"; vocabulary Jaccard {jac:.3g}"
        else:
            verdict = Verdict.INSUFFICIENT
            reason = (
                f"no valid test rejects independence ({p_text(p)}), but they had no power "
                f"on this pair: even the candidate plus {power_noise:g} relative noise, in "
                f"the suspect's layout, gives only {power['p_text']} (threshold "
                f"{threshold:g}); the models share too few comparable cells"
            )
            decide = [DECIDE_ACTIVATIONS, DECIDE_FULL]
            if not (suspect.tokens and candidate.tokens):
                # width pruning and rotations are matched through shared token rows
                decide.append(DECIDE_TOKENIZER)
    incomplete = [f for f in (suspect, candidate) if f.missing]
    if incomplete and not verdict.related:
        # an independence verdict, or an abstention, about a partly read file: the
        # missing tensors could have decided, so say what was and was not compared
        verdict = Verdict.INSUFFICIENT
        reason = "; ".join(_truncated(f) for f in incomplete) + (
            f"; the readable part: {reason}" if reason else ""
        )
        decide = [DECIDE_COMPLETE, *(d for d in decide if d != DECIDE_COMPLETE)]
        power = None
    method = "combined" if used else None
    return Report(
        verdict=verdict,
        related=verdict.related,
        p_value=p,
        evidence=evidence,
        suspect=_describe(suspect),
        candidate=_describe(candidate),
        summary=_summary(verdict, p, floor, threshold, used),
        reason=reason,
        combination={
            "method": _COMBINATION,
            "tests": [e.name for e in used],
            "related_threshold": threshold,
            "descriptive": [e.name for e in evidence if not e.combine and e.statistic is not None],
        },
        p_floor=floor,
        p_method=method,
        power=power,
        decide=decide,
    )


def _truncated(fp: Fingerprint) -> str:
    """Why a fingerprint covers only part of its model (rule incomplete)."""
    shown = ", ".join(fp.missing[:5]) + (" ..." if len(fp.missing) > 5 else "")
    return (
        f"rule incomplete: {fp.name} is truncated inside its tensor data ({len(fp.missing)} "
        f"tensors listed but absent: {shown}); only its readable roles ({len(fp.roles)}) "
        "and tokenizer were compared"
    )


def _nothing_comparable(
    evidence: Sequence[Evidence], jac: float | None, s: Fingerprint, c: Fingerprint
) -> tuple[str, list[str]]:
    """Reason and next steps when no test with a valid null could run (shapes differ
    entirely: another family or width). Descriptive curves never decide (rule
    shape-free: abstain)."""
    skipped = {e.name: e.details.get("skipped") for e in evidence if e.details.get("skipped")}
    vtxt = f"; vocabulary Jaccard {jac:.3g}" if isinstance(jac, float) else ""
    profile = next((e for e in evidence if e.name == "depth_profile"), None)
    prof = ""
    if profile is not None and profile.statistic is not None:
        prof = f"; depth-profile correlation r = {profile.statistic:.2f} (descriptive)"
    decide = [DECIDE_ACTIVATIONS]
    if jac is None or not (s.tokens and c.tokens):
        decide.append(DECIDE_TOKENIZER)
    why = skipped.get("parameter_similarity") or "no comparable parameters"
    return (
        "rule shape-free: no test with a valid null could run (" + why + "); shape-free "
        "curves have no valid null and never decide" + prof + vtxt,
        decide,
    )


def _summary(
    verdict: Verdict, p: float | None, floor: float | None, threshold: float, used: list[Evidence]
) -> str:
    ps = p_text(p, floor) if p is not None else "p n/a"
    names = ", ".join(e.name for e in used) or "none"
    if verdict.related:
        return (
            f"Statistically consistent with derivation ({verdict}): combined {ps} under "
            f"H0 'trained independently' (threshold {threshold:g}; tests: {names})."
        )
    if verdict is Verdict.INSUFFICIENT:
        return (
            "Insufficient evidence: no test with a valid null and power on this pair could "
            f"decide (combined {ps}; tests: {names})."
        )
    return (
        f"Consistent with independent training ({verdict}): combined {ps} "
        f"(threshold {threshold:g}; tests: {names}), with power shown by a positive control."
    )
