"""Ground-truth comparisons on the real MiniLM-L6 and its transformed copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.fingerprint import fingerprint_model
from modelkin.forensics import RELATED_P, compare

from .conftest import FingerprintCache


def test_self_is_identical(fps: FingerprintCache) -> None:
    r = compare(fps("minilm-l6"), fps("minilm-l6"))
    assert r.verdict == "identical" and r.related is True


@pytest.mark.parametrize(
    ("variant", "verdicts"),
    [
        ("permuted", {"derived_surgery"}),
        ("heads", {"derived_surgery"}),
        ("dropped", {"derived_surgery"}),
        ("noised", {"derived"}),
        ("light", {"derived"}),
        ("int8", {"converted"}),
        ("q4", {"converted"}),
        ("extended", {"derived_surgery"}),
    ],
)
def test_transformed_copies_are_related(
    fps: FingerprintCache, variant: str, verdicts: set[str]
) -> None:
    r = compare(fps(variant), fps("minilm-l6"))
    assert r.verdict in verdicts, (r.verdict, r.summary)
    assert r.related is True
    assert r.p_value is not None and r.p_value <= RELATED_P


def test_permutation_detected_by_unit_matching(fps: FingerprintCache) -> None:
    r = compare(fps("permuted"), fps("minilm-l6"))
    units = r.get("unit_matching")
    assert units is not None and units.p_value is not None and units.p_value < 1e-100
    # aligned-sample correlation of the permuted MLP rows is gone ...
    rows = {x["role"]: x["r"] for x in r.get("parameter_similarity").details["roles"]}  # type: ignore[union-attr]
    assert abs(rows["L2.mlp_up.weight"]) < 0.2
    # ... but every MLP unit is matched back.
    assert all(p["fixed_points"] > 0.9 * p["units"] for p in units.details["pairs"])


def test_dropped_layers_map(fps: FingerprintCache) -> None:
    r = compare(fps("dropped"), fps("minilm-l6"))
    layers = r.get("layer_alignment")
    assert layers is not None
    assert [(m[0], m[1]) for m in layers.details["map"]] == [(0, 0), (1, 2), (2, 4), (3, 5)]


@pytest.mark.parametrize(("a", "b"), [("rand1", "rand2"), ("rand1", "minilm-l6")])
def test_independent_controls_never_related(fps: FingerprintCache, a: str, b: str) -> None:
    r = compare(fps(a), fps(b))
    assert r.related is False, (r.verdict, r.p_value)
    assert r.verdict == "same_tokenizer_only"  # same vocab.txt, independent weights
    assert r.p_value is not None and r.p_value > 1e-3


def test_head_spectra_survive_permutation(fps: FingerprintCache) -> None:
    r = compare(fps("permuted"), fps("minilm-l6"))
    spectra = r.get("attention_spectra")
    assert spectra is not None and spectra.statistic is not None and spectra.statistic < 1e-2
    other = compare(fps("rand1"), fps("minilm-l6")).get("attention_spectra")
    assert other is not None and other.statistic is not None and other.statistic > 0.1


def test_token_keyed_rows_survive_vocab_extension(fps: FingerprintCache) -> None:
    tok = compare(fps("extended"), fps("minilm-l6")).get("tokens_embeddings")
    assert tok is not None and tok.p_value is not None and tok.p_value < 1e-12


def test_different_seeds_abstain(real_models: dict[str, Path], fps: FingerprintCache) -> None:
    other = fingerprint_model(real_models["minilm-l6"], seed=1)
    r = compare(other, fps("minilm-l6"))
    assert r.get("parameter_similarity").details["skipped"].startswith("fingerprints use")  # type: ignore[union-attr]
    assert r.verdict == "insufficient" and r.related is None and "seed" in r.reason
