"""Fingerprint files: deterministic, versioned, validated."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from modelkin.errors import ModelkinError
from modelkin.fingerprint import Fingerprint, fingerprint_model, load_or_fingerprint
from modelkin.fingerprint.sampling import columns, row_blocks

from .conftest import FingerprintCache


def test_save_load_round_trip_is_deterministic(fps: FingerprintCache, tmp_path: Path) -> None:
    fp = fps("minilm-l6")
    a = fp.save(tmp_path / "a.mkfp")
    b = fp.save(tmp_path / "b.mkfp")
    assert a.read_bytes() == b.read_bytes()
    back = Fingerprint.load(a)
    assert back.digest() == fp.digest()
    assert load_or_fingerprint(a).digest() == fp.digest()
    assert a.stat().st_size < 5_000_000
    assert fp.structure["num_layers"] == 6 and fp.tokenizer is not None
    # fast mode hashes small files only (the 90 MB weights file is sampled, not hashed)
    assert fp.files["model.safetensors"]["sha256"] is None
    assert fp.files["vocab.txt"]["sha256"] and fp.files["config.json"]["sha256"]


def test_refresh_gives_same_digest(real_models: dict[str, Path], fps: FingerprintCache) -> None:
    assert fingerprint_model(real_models["minilm-l6"]).digest() == fps("minilm-l6").digest()


def test_full_mode_hashes_tensors(real_models: dict[str, Path], fps: FingerprintCache) -> None:
    full = fingerprint_model(real_models["minilm-l6"], mode="full")
    assert len(full.tensors) == len(full.roles) and full.mode == "full"
    assert all(v["sha256"] for v in full.files.values())
    # samples are taken at the same positions in both modes
    key = "L3.attn_q.weight"
    assert full.roles[key]["sample"] == fps("minilm-l6").roles[key]["sample"]


def test_positions_depend_only_on_seed_kind_shape() -> None:
    a = row_blocks(0, "attn_q", "weight", (384, 384))
    assert a == row_blocks(0, "attn_q", "weight", (384, 384))
    assert a != row_blocks(1, "attn_q", "weight", (384, 384))
    assert (
        columns(0, "mlp_up", "weight", (1536, 384)) == columns(0, "mlp_up", "weight", (1536, 384))
    ).all()


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"not gzip", "not gzip"),
        (gzip.compress(b"{broken"), "malformed"),
        (gzip.compress(json.dumps({"version": 99}).encode()), "unsupported fingerprint version"),
        (gzip.compress(json.dumps({"version": 1, "mode": "fast"}).encode()), "missing"),
        (gzip.compress(json.dumps([1, 2]).encode()), "top level"),
    ],
    ids=["not-gzip", "bad-json", "version", "missing", "not-object"],
)
def test_bad_files_are_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    p = tmp_path / "bad.mkfp"
    p.write_bytes(content)
    with pytest.raises(ModelkinError) as err:
        Fingerprint.load(p)
    assert problem in str(err.value) and str(p) in str(err.value)


def test_bad_packed_array_is_refused(fps: FingerprintCache, tmp_path: Path) -> None:
    d = json.loads(fps("minilm-l6").canonical_bytes())
    d["roles"]["L0.attn_q.weight"]["sample"]["b64"] = "AAAA"
    p = tmp_path / "bad.mkfp"
    p.write_bytes(gzip.compress(json.dumps(d).encode()))
    from modelkin.forensics import compare

    with pytest.raises(ModelkinError, match="size does not match"):
        fp = Fingerprint.load(p)
        compare(fp, fps("minilm-l6"))
