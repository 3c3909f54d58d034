"""The null distributions and combination rules, checked by simulation."""

from __future__ import annotations

import numpy as np

from modelkin.forensics.layers import monotone_map
from modelkin.forensics.stats import (
    bonferroni,
    cauchy_combine,
    permutation_trace_z,
    poisson_tail,
)
from modelkin.forensics.units import agreement


def test_cauchy_combination() -> None:
    assert abs(cauchy_combine([0.5]) - 0.5) < 1e-12
    assert cauchy_combine([1e-20, 0.9]) < 1e-19
    assert cauchy_combine([0.3, 0.3, 0.3]) > 0.2
    assert bonferroni([0.01, 0.5]) == 0.02


def test_unit_matching_null_is_poisson() -> None:
    """Independent random 'models': agreement of the two matchings has mean ~ m/n."""
    rng = np.random.default_rng(0)
    ks = []
    for _ in range(30):
        sa, sb, ca, cb = (rng.normal(size=(64, 16)) for _ in range(4))
        ks.append(agreement(sa, sb, ca, cb)[0])
    assert 0.4 < float(np.mean(ks)) < 1.8
    assert poisson_tail(0, 1.0) == 1.0 and poisson_tail(10, 1.0) < 1e-6


def test_unit_matching_finds_permuted_units() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(64, 16)), rng.normal(size=(64, 16))
    perm = rng.permutation(64)
    k, n, _moved = agreement(a, b, a[perm] + 0.3 * rng.normal(size=a.shape), b[perm])
    assert k == n == 64


def test_permutation_trace_null() -> None:
    rng = np.random.default_rng(2)
    zs = [permutation_trace_z(rng.normal(size=(40, 40))) for _ in range(200)]
    assert abs(float(np.mean(zs))) < 0.25 and 0.7 < float(np.std(zs)) < 1.3
    assert permutation_trace_z(np.eye(40) + 0.1 * rng.normal(size=(40, 40))) > 5


def test_monotone_map_handles_drop_and_duplicate() -> None:
    s = -np.ones((4, 6))
    for i, j in [(0, 0), (1, 2), (2, 4), (3, 5)]:
        s[i, j] = 5
    assert monotone_map(s) == [(0, 0), (1, 2), (2, 4), (3, 5)]
    d = -np.ones((4, 3))
    for i, j in [(0, 0), (1, 1), (2, 1), (3, 2)]:
        d[i, j] = 5
    assert monotone_map(d) == [(0, 0), (1, 1), (2, 1), (3, 2)]


def test_head_spectra_match_brute_force() -> None:
    from modelkin.fingerprint.invariants import head_spectra

    rng = np.random.default_rng(3)
    q, k, v = (rng.normal(size=(64, 48)) for _ in range(3))
    o = rng.normal(size=(48, 64))
    got = head_spectra(q, k, v, o, heads=4, kv_heads=4)
    want = np.linalg.svd(q[:16].T @ k[:16], compute_uv=False)[:8]
    assert any(np.allclose(x, want, rtol=1e-4) for x in got["qk"])
    want_ov = np.linalg.svd(o[:, 16:32] @ v[16:32], compute_uv=False)[:8]
    assert any(np.allclose(x, want_ov, rtol=1e-4) for x in got["ov"])
