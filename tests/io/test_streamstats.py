"""Full mode's chunked statistics equal the whole-tensor ones (issue 19, "full mode within
2 GB"): exact quantiles, the same sha256, the same sample and grid trace."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modelkin.fingerprint import build, streamstats
from modelkin.fingerprint.stats import summarize
from modelkin.fingerprint.streamstats import float_keys, key_value, stream_summary


def _reader(
    a: np.ndarray,
) -> tuple[Callable[[int, int], np.ndarray], list[tuple[int, int]]]:
    calls: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> np.ndarray:
        calls.append((lo, hi))
        return a[lo:hi].copy()

    return read, calls


def test_keys_sort_like_floats() -> None:
    x = np.array([-np.inf, -3.5, -1e-30, -0.0, 0.0, 1e-38, 2.0, np.inf], dtype=np.float32)
    k = float_keys(x)
    assert np.all(np.diff(k.astype(np.int64)) >= 0)
    assert [key_value(int(v)) for v in k] == [float(v) for v in x]


@pytest.mark.parametrize("kind", ["float32", "bf16", "ties"])
def test_chunked_summary_equals_summarize(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Quantiles exact (one pass for bf16 values, two otherwise), moments to rounding."""
    monkeypatch.setattr(streamstats, "CHUNK_ELEMENTS", 1000)
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((301, 37)) * 0.02 + 0.001).astype(np.float32)
    if kind == "bf16":
        a = (a.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)
    elif kind == "ties":
        a = np.round(a * 300).astype(np.float32) / np.float32(7)
    read, calls = _reader(a)
    digest, got = stream_summary(read, a.shape)
    want = summarize(a)
    assert digest == hashlib.sha256(a.astype("<f4").tobytes()).hexdigest()
    assert got["quantiles"] == want["quantiles"]
    assert got["row_norm_quantiles"] == pytest.approx(want["row_norm_quantiles"], rel=1e-6)
    for key in ("mean", "std", "absmean", "rms"):
        assert got[key] == pytest.approx(want[key], rel=1e-6), key
    assert got["n"] == want["n"]
    rows_read = sum(hi - lo for lo, hi in calls)
    assert rows_read == (301 if kind == "bf16" else 602)  # bf16: no second pass
    assert max(hi - lo for lo, hi in calls) <= 1000 // 37


def test_nan_gives_no_statistics_like_summarize() -> None:
    a = np.ones((10, 8), dtype=np.float32)
    a[3, 4] = np.nan
    _, got = stream_summary(_reader(a)[0], a.shape)
    want = summarize(a)
    assert got["quantiles"] == want["quantiles"] == [None] * 7
    assert got["mean"] is None and want["mean"] is None


def test_full_fingerprint_streams_large_roles(
    real_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real model fingerprinted in full mode with every matrix read in chunks records
    what the whole-tensor path records."""
    minilm_l6 = real_models["minilm-l6"]
    whole = build.fingerprint_model(minilm_l6, mode="full")
    monkeypatch.setattr(build, "STREAM_ELEMENTS", 10_000)
    monkeypatch.setattr(streamstats, "CHUNK_ELEMENTS", 50_000)
    chunked = build.fingerprint_model(minilm_l6, mode="full")
    assert chunked.tensors == whole.tensors
    streamed = [r for r, v in whole.roles.items() if len(v["shape"]) == 2]
    assert len(streamed) > 30
    for name in streamed:
        a, b = whole.roles[name], chunked.roles[name]
        assert a["sample"] == b["sample"] and a.get("grid") == b.get("grid"), name
        assert a["stats"]["quantiles"] == b["stats"]["quantiles"], name
        for key in ("mean", "std", "absmean", "rms"):
            assert b["stats"][key] == pytest.approx(a["stats"][key], rel=1e-6, abs=1e-12)
