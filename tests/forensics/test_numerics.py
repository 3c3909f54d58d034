"""The scipy-free tails and the directly loaded assignment solver agree with scipy, and
``compare`` never imports the heavy scipy packages (their shared libraries cost more
memory than two fingerprints: issue 19, "memory above the peer's")."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import optimize, stats

from modelkin.forensics.numerics import (
    linear_sum_assignment,
    norm_sf,
    norm_sf_array,
    poisson_sf,
)
from modelkin.forensics.stats import permutation_moments, permutation_test


@pytest.mark.parametrize("k", [0, 1, 2, 5, 17, 100, 1000, 12345])
@pytest.mark.parametrize("mu", [1e-3, 0.5, 3.0, 49.5, 100.0, 999.0, 20000.0])
def test_poisson_sf_matches_scipy(k: int, mu: float) -> None:
    want = float(stats.poisson.sf(k - 1, mu))
    got = poisson_sf(k, mu)
    if want < 1e-300:
        assert got < 1e-290
    else:
        assert got == pytest.approx(want, rel=1e-10, abs=0.0)


def test_norm_sf_matches_scipy_deep_in_the_tail() -> None:
    z = np.array([-6.0, -1.0, 0.0, 0.5, 3.0, 8.0, 20.0, 37.0])
    np.testing.assert_allclose(norm_sf_array(z), stats.norm.sf(z), rtol=1e-12)
    assert norm_sf(1.959963984540054) == pytest.approx(0.025, rel=1e-12)
    assert norm_sf_array(np.zeros((2, 3))).shape == (2, 3)


def test_assignment_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    for shape in ((40, 40), (30, 50)):
        c = rng.normal(size=shape)
        for maximize in (False, True):
            want = optimize.linear_sum_assignment(c, maximize=maximize)
            got = linear_sum_assignment(c, maximize=maximize)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_blocked_permutation_moments_equal_the_whole_matrix_formula() -> None:
    """The row-blocked centring (bounded memory) gives the textbook Hoeffding variance."""
    rng = np.random.default_rng(4)
    c = rng.normal(size=(700, 700)) + rng.normal(size=(700, 1)) + rng.normal(size=(1, 700))
    t, mean, sd = permutation_moments(c)
    d = c - c.mean(axis=1, keepdims=True) - c.mean(axis=0, keepdims=True) + c.mean()
    assert t == pytest.approx(np.trace(c), rel=1e-12)
    assert mean == pytest.approx(c.sum() / 700, rel=1e-12)
    assert sd == pytest.approx(np.sqrt((d * d).sum() / 699), rel=1e-12)


def test_blocked_draws_give_the_unblocked_monte_carlo_p() -> None:
    """Draws generated in blocks are the same permutations as one (draws, n) array."""
    rng = np.random.default_rng(5)
    n, draws, seed = 600, 999, 11
    c = rng.normal(size=(n, n)) + 0.12 * np.eye(n)
    gen = np.random.default_rng([seed, n, draws])
    perms = np.argsort(gen.random((draws, n)), axis=1)
    t = float(np.trace(c))
    hits = int(np.count_nonzero(c[np.arange(n)[None, :], perms].sum(axis=1) >= t - 1e-12 * t))
    _z, p = permutation_test(c, draws=draws, seed=seed)
    assert p.value == pytest.approx((1 + hits) / (draws + 1))


def test_compare_imports_no_heavy_scipy_package(tmp_path: object) -> None:
    """Fingerprinting and comparing a model loads neither scipy.stats nor the
    scipy.optimize package (the assignment solver's extension is loaded alone)."""
    code = (
        "import sys, numpy as np\n"
        "from modelkin.forensics.units import agreement\n"
        "from modelkin.forensics.stats import permutation_test, poisson_tail, two_sided\n"
        "from modelkin.forensics.layers import layer_test\n"
        "from modelkin.forensics import compare\n"
        "r = np.random.default_rng(0)\n"
        "agreement(*(r.normal(size=(32, 8)) for _ in range(4)))\n"
        "permutation_test(r.normal(size=(40, 40))); poisson_tail(3, 1.0); two_sided(2.0)\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('scipy'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert loaded <= {"scipy.optimize._lsap"}, (
        f"the compare path imported {sorted(loaded)}: take linear_sum_assignment, norm_sf "
        "and poisson_sf from modelkin.forensics.numerics instead (~70 MB of RSS)"
    )
