"""A permuted residual-stream (hidden) basis: recovered from the embeddings, then undone
before unit matching; independent models must stay unrelated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import pack, unpack
from modelkin.forensics import RELATED_P, compare
from modelkin.forensics.hidden import hidden_permutation
from modelkin_dev.synth import transforms

from .conftest import FingerprintCache


@pytest.fixture(scope="module")
def hidden_fps(
    real_models: dict[str, Path],
    variants: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> FingerprintCache:
    """Hidden-permuted copies of MiniLM-L6 and of an independent random initialisation."""
    base = tmp_path_factory.mktemp("hidden")
    made = {
        "l6-permh": transforms.permute(real_models["minilm-l6"], base / "l6", seed=3, hidden=True),
        "rand1-permh": transforms.permute(variants["rand1"], base / "r1", seed=4, hidden=True),
    }
    return FingerprintCache({**real_models, **variants, **made})


def test_hidden_permutation_is_detected(hidden_fps: FingerprintCache) -> None:
    r = compare(hidden_fps("l6-permh"), hidden_fps("minilm-l6"))
    assert r.related is True and r.verdict == "derived_surgery", (r.verdict, r.summary)
    assert r.p_value is not None and r.p_value <= RELATED_P
    units = next(e for e in r.evidence if e.name == "unit_matching")
    assert units.details["hidden_basis"] == "permuted"
    assert units.p_value is not None and units.p_value <= RELATED_P
    assert "basis permuted" in r.reason


@pytest.mark.parametrize(
    ("a", "b"),
    [("rand1-permh", "rand2"), ("rand1-permh", "minilm-l6"), ("l6-permh", "rand2")],
)
def test_independent_models_stay_unrelated(hidden_fps: FingerprintCache, a: str, b: str) -> None:
    r = compare(hidden_fps(a), hidden_fps(b))
    assert r.related is not True, (r.verdict, r.p_value)
    units = next(e for e in r.evidence if e.name == "unit_matching")
    assert units.p_value is None or units.p_value > RELATED_P


def test_shared_basis_skips_recovery(hidden_fps: FingerprintCache) -> None:
    # Same basis (units permuted only): the costly assignment is not run.
    assert hidden_permutation(hidden_fps("permuted"), hidden_fps("minilm-l6")) is None


def test_recovers_a_known_permutation(hidden_fps: FingerprintCache) -> None:
    fp = hidden_fps("minilm-l6")
    assert fp.tokens is not None
    rows = unpack(fp.tokens["rows"], "rows")
    perm = np.random.default_rng(0).permutation(rows.shape[1])
    moved = Fingerprint.from_dict(
        fp.to_dict() | {"tokens": fp.tokens | {"rows": pack(rows[:, perm])}}
    )
    found = hidden_permutation(moved, fp)
    assert found is not None
    pi, quality = found
    # suspect column j is the candidate's column perm[j]
    assert np.array_equal(pi, perm) and quality > 0.99


def test_version_1_still_read_and_unknown_refused(hidden_fps: FingerprintCache) -> None:
    d = hidden_fps("minilm-l6").to_dict()
    old = d | {
        "version": 1,
        "units": {
            k: {f: v for f, v in u.items() if f not in ("a_full", "b_full")}
            for k, u in d["units"].items()
        },
    }
    fp1 = Fingerprint.from_dict(old)
    assert fp1.version == 1
    r = compare(fp1, hidden_fps("l6-permh"))
    units = next(e for e in r.evidence if e.name == "unit_matching")
    assert units.details.get("hidden_basis") != "permuted"
    for bad in (4, True, "3"):
        with pytest.raises(ModelkinError, match="unsupported fingerprint version"):
            Fingerprint.from_dict(d | {"version": bad})


def test_fingerprint_stores_full_width_units(hidden_fps: FingerprintCache) -> None:
    fp = hidden_fps("minilm-l6")
    hidden = fp.structure["hidden_size"]
    full = [unpack(u["a_full"], "a") for u in fp.units.values() if "a_full" in u]
    assert full and all(a.shape[1] == hidden and a.shape[0] >= 8 for a in full)


def test_colliding_partners_fall_back_to_assignment(hidden_fps: FingerprintCache) -> None:
    fp = hidden_fps("minilm-l6")
    assert fp.tokens is not None
    rows = unpack(fp.tokens["rows"], "rows")
    rows[:, 1] = rows[:, 0]  # two indistinguishable columns: their best partners collide
    cand = Fingerprint.from_dict(fp.to_dict() | {"tokens": fp.tokens | {"rows": pack(rows)}})
    perm = np.random.default_rng(1).permutation(rows.shape[1])
    sus = Fingerprint.from_dict(
        fp.to_dict() | {"tokens": fp.tokens | {"rows": pack(rows[:, perm])}}
    )
    found = hidden_permutation(sus, cand)
    assert found is not None
    pi = found[0]
    assert np.array_equal(np.sort(pi), np.arange(rows.shape[1]))
    ok = (pi == perm) | (np.isin(pi, [0, 1]) & np.isin(perm, [0, 1]))
    assert ok.all()
