"""Null distributions and p-value combination used by the tests.

* Fisher z for a correlation of ``n`` pairs, with a variance inflation factor measured on
  misaligned pairs (the "unrelated-pair background"), because sampled weights are not iid;
* Hoeffding's combinatorial CLT for a sum over a random permutation (exact mean and
  variance of ``sum_i R[i, sigma(i)]``, Hoeffding 1951), used where unit labels are
  exchangeable under H0;
* the Cauchy combination test (Liu & Xie 2020, JASA 115:393): valid for arbitrary
  dependence between the tests' p-values in the tail that matters here.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Smallest p-value reported (below, float64 tails are meaningless).
P_FLOOR = 1e-300


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays (0 when either is constant)."""
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    x = x - x.mean()
    y = y - y.mean()
    d = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / d) if d > 0 else 0.0


def fisher_z(r: float, n: int, inflation: float = 1.0) -> float:
    """z score of correlation ``r`` of ``n`` pairs under H0 rho = 0."""
    if n <= 3:
        return 0.0
    r = min(max(r, -0.999999), 0.999999)
    return math.atanh(r) * math.sqrt((n - 3) / max(1.0, inflation))


def two_sided(z: float) -> float:
    """Two-sided normal p-value, floored at :data:`P_FLOOR`."""
    return max(P_FLOOR, float(2.0 * stats.norm.sf(abs(z))))


def upper(z: float) -> float:
    """One-sided (upper tail) normal p-value, floored at :data:`P_FLOOR`."""
    return max(P_FLOOR, float(stats.norm.sf(z)))


def permutation_trace_z(r: np.ndarray) -> float:
    """z score of ``trace(R)`` against the sums over uniformly random permutations."""
    n = r.shape[0]
    if n < 3:
        return 0.0
    t = float(np.trace(r))
    mean = float(r.sum()) / n
    d = r - r.mean(axis=1, keepdims=True) - r.mean(axis=0, keepdims=True) + r.mean()
    var = float((d * d).sum()) / (n - 1)
    return (t - mean) / math.sqrt(var) if var > 0 else 0.0


def poisson_tail(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    return max(P_FLOOR, float(stats.poisson.sf(k - 1, mu)))


def bonferroni(ps: list[float]) -> float:
    """min p times the number of tests, capped at 1."""
    return min(1.0, min(ps) * len(ps)) if ps else 1.0


def cauchy_combine(ps: list[float]) -> float:
    """Cauchy combination with equal weights; tiny p-values use tan's pole expansion."""
    if not ps:
        return 1.0
    terms = []
    for p in ps:
        p = min(max(p, P_FLOOR), 1.0)
        terms.append(1.0 / (p * math.pi) if p < 1e-15 else math.tan((0.5 - p) * math.pi))
    t = sum(terms) / len(terms)
    if t > 1e15:
        return max(P_FLOOR, 1.0 / (t * math.pi))
    return min(1.0, max(P_FLOOR, 0.5 - math.atan(t) / math.pi))


def fixed_points_pmf(n: int) -> np.ndarray:
    """Exact distribution of the number of fixed points of a uniformly random permutation
    of ``n`` items (rencontres numbers): P(K = k) = (1/k!) sum_{j<=n-k} (-1)^j / j!."""
    pmf = np.zeros(n + 1)
    for k in range(n + 1):
        pmf[k] = sum((-1) ** j / math.factorial(j) for j in range(n - k + 1)) / math.factorial(k)
    return np.clip(pmf, 0.0, 1.0)


def fixed_points_tail(observed: int, sizes: list[int]) -> float:
    """Exact P(K_1 + ... + K_m >= observed) for independent fixed-point counts of uniformly
    random permutations of ``sizes`` items (one per layer)."""
    dist = np.ones(1)
    for n in sizes:
        dist = np.convolve(dist, fixed_points_pmf(n))
    if observed <= 0:
        return 1.0
    if observed >= dist.size:
        return P_FLOOR
    return min(1.0, max(P_FLOOR, float(dist[observed:].sum())))
