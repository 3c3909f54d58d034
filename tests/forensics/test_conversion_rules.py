"""The rules that split related pairs into converted / derived / derived_surgery, the head
matching test and its exact null, and the shape-free verdict for cross-family pairs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gguf import GGMLQuantizationType, quants

from modelkin.fingerprint.invariants import head_circuits
from modelkin.fingerprint.stats import grid_signature
from modelkin.forensics import compare
from modelkin.forensics.heads import head_test
from modelkin.forensics.identity import explain
from modelkin.forensics.stats import fixed_points_pmf, fixed_points_tail

from .conftest import FingerprintCache


def _weights(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((16, 256)) * 0.02).astype(np.float32)


@pytest.mark.parametrize("qtype", [GGMLQuantizationType.Q4_0, GGMLQuantizationType.Q8_0])
def test_quantized_weights_lie_on_a_grid(qtype: GGMLQuantizationType) -> None:
    w = _weights()
    d = quants.dequantize(quants.quantize(w, qtype), qtype)
    g = grid_signature(d)
    assert g is not None and g["on_grid"] == 1.0
    # rounding to the lattice costs step / sqrt(12) RMS: the bound the identity rule uses
    err = float(np.sqrt(np.mean((d - w) ** 2)))
    assert err == pytest.approx(g["step_rms"] / math.sqrt(12), rel=0.1)


def test_trained_or_noised_weights_are_off_grid() -> None:
    w = _weights()
    assert grid_signature(w)["on_grid"] == 0.0  # type: ignore[index]
    assert grid_signature(w.astype(np.float16).astype(np.float32))["on_grid"] == 0.0  # type: ignore[index]
    scale = np.abs(w).max(axis=1, keepdims=True) / 127
    assert grid_signature(np.rint(w / scale) * scale)["on_grid"] == 1.0  # type: ignore[index]
    assert grid_signature(w[0]) is None  # 1-D roles carry no grid


def test_explain_rules() -> None:
    w = _weights()
    q = quants.dequantize(
        quants.quantize(w, GGMLQuantizationType.Q4_0), GGMLQuantizationType.Q4_0
    ).astype(np.float32)
    role_w, role_q = {"grid": grid_signature(w)}, {"grid": grid_signature(q)}
    assert explain(role_q, role_w, q, w) == "quantization-grid"
    noisy = w + np.float32(0.01) * w.std() * np.random.default_rng(1).standard_normal(w.shape)
    noisy = noisy.astype(np.float32)
    assert explain({"grid": grid_signature(noisy)}, role_w, noisy, w) == "unexplained"
    bf = (w.view(np.uint32) & np.uint32(0xFFFF0000)).view(np.float32)  # bfloat16 truncation
    assert explain({}, {}, bf, w) == "float-precision"
    assert explain({}, {}, w, w) == "exact"


def test_fixed_point_law_is_exact() -> None:
    for n in (1, 4, 12):
        pmf = fixed_points_pmf(n)
        assert pmf.sum() == pytest.approx(1.0) and pmf @ np.arange(n + 1) == pytest.approx(1.0)
    assert fixed_points_tail(4, [4]) == pytest.approx(1 / 24)
    assert fixed_points_tail(16, [4] * 4) == pytest.approx(24.0**-4)
    rng = np.random.default_rng(0)
    sims = [int(np.sum(rng.permutation(6) == np.arange(6))) for _ in range(20000)]
    assert np.mean(np.array(sims) >= 3) == pytest.approx(fixed_points_tail(3, [6]), abs=0.01)


def test_head_circuits_move_with_heads_and_ignore_rotations() -> None:
    """GQA: 4 query heads in 2 kv groups, head_dim 8, hidden 32."""
    rng = np.random.default_rng(3)
    q, o = rng.normal(size=(32, 32)), rng.normal(size=(32, 32))
    k, v = rng.normal(size=(16, 32)), rng.normal(size=(16, 32))
    dims = np.arange(0, 32, 2)
    qk, ov = head_circuits(q, k, v, o, 4, 2, dims)
    # swap the kv groups (and their query heads) and the query heads inside group 0
    qorder, kvorder = np.array([3, 2, 0, 1]), np.array([1, 0])

    def rows(order: np.ndarray) -> np.ndarray:
        return (order[:, None] * 8 + np.arange(8)).reshape(-1)

    qk2, ov2 = head_circuits(
        q[rows(qorder)], k[rows(kvorder)], v[rows(kvorder)], o[:, rows(qorder)], 4, 2, dims
    )
    np.testing.assert_allclose(qk2, qk[qorder], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ov2, ov[qorder], rtol=1e-4, atol=1e-4)
    # an orthogonal change of basis inside every head (query and key together)
    rot = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    big = np.kron(np.eye(4), rot.T)
    qk3, _ = head_circuits(big @ q, np.kron(np.eye(2), rot.T) @ k, v, o, 4, 2, dims)
    np.testing.assert_allclose(qk3, qk, rtol=1e-4, atol=1e-4)


def test_head_matching_finds_permuted_heads(fps: FingerprintCache) -> None:
    ev = head_test(fps("heads"), fps("minilm-l6"))
    assert ev.p_value is not None and ev.p_value < 1e-30
    assert ev.details["head_order"] == "permuted"
    same = head_test(fps("noised"), fps("minilm-l6"))
    assert same.details["head_order"] == "kept"
    null = head_test(fps("rand1"), fps("rand2"))
    assert null.p_value is not None and null.p_value > 1e-3


def test_surgery_reasons_name_the_rule(fps: FingerprintCache) -> None:
    r = compare(fps("heads"), fps("minilm-l6"))
    assert r.verdict == "derived_surgery" and "attention heads permuted" in r.reason
    assert "MLP units" not in r.reason
    r = compare(fps("permuted"), fps("minilm-l6"))
    assert "MLP units permuted" in r.reason
    r = compare(fps("q4"), fps("minilm-l6"))
    assert r.verdict == "converted" and "quantization-grid" in r.reason
    r = compare(fps("light"), fps("minilm-l6"))
    assert r.verdict == "derived" and r.get("identity").details["level"] == "near"  # type: ignore[union-attr]


def test_cross_family_abstains_without_a_valid_test(fps: FingerprintCache) -> None:
    """No test with a valid null can compare a 640-wide GGUF Gemma with a 384-wide BERT:
    the old shape-free rule called this 'unrelated' from the descriptive depth curves
    alone (no valid null, so failing to reject says nothing); now it abstains and says
    what would decide."""
    r = compare(fps("gemma-270m"), fps("minilm-l6"))
    assert r.verdict == "insufficient" and r.related is None
    assert r.p_value is None and "shape-free" in r.reason
    profile = r.get("depth_profile")
    assert profile is not None and profile.p_value is None and not profile.combine
