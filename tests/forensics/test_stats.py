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


def test_permutation_test_is_calibrated_and_floored() -> None:
    """Under H0 (independent columns) the permutation p-value is uniform; it never goes
    below 1/(draws+1) unless the normal tail is the method named; a strong match reaches
    the asymptotic floor and says so."""
    from modelkin.forensics.stats import (
        ASYMPTOTIC_FLOOR,
        METHOD_ASYMPTOTIC,
        METHOD_MC,
        permutation_test,
    )

    rng = np.random.default_rng(4)
    ps = []
    for i in range(300):
        a, b = rng.normal(size=(32, 24)), rng.normal(size=(32, 24))
        _, p = permutation_test(a.T @ b, draws=199, seed=i)
        assert p.value >= 1 / 200 or p.method == METHOD_ASYMPTOTIC
        ps.append(p.value)
    assert 0.4 < float(np.mean(ps)) < 0.6
    assert float(np.mean(np.asarray(ps) <= 0.05)) < 0.1
    a = rng.normal(size=(32, 24))
    z, p = permutation_test(a.T @ (a + 0.1 * rng.normal(size=a.shape)))
    assert z > 4 and p.method == METHOD_ASYMPTOTIC and p.floor == ASYMPTOTIC_FLOOR
    _, p = permutation_test(rng.normal(size=(24, 24)), draws=99)
    assert p.method == METHOD_MC and p.value >= 0.01


def test_ruger_needs_agreement() -> None:
    from modelkin.forensics.stats import agreement_rank, ruger

    # one role at 1e-12 among ten at 0.5 does not decide
    assert ruger([1e-12] + [0.5] * 9, agreement_rank(10)) == 1.0
    assert ruger([1e-12] * 6 + [0.5] * 4, agreement_rank(10)) == 2e-12
    assert agreement_rank(1) == 2 and agreement_rank(7) == 4


def test_p_text_names_the_floor() -> None:
    from modelkin.forensics.stats import p_text

    assert p_text(1e-16, 1e-16, "asymptotic normal tail") == "p < 1e-16 (asymptotic normal tail)"
    assert p_text(0.001, 0.001, "Monte Carlo") == "p < 0.001 (Monte Carlo)"
    assert p_text(0.25, 0.001, "Monte Carlo") == "p = 0.25 (Monte Carlo)"
