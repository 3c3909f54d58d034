"""Null distributions, p-value floors and p-value combination used by the tests.

* **Permutation nulls** (Zhu et al. 2025, "Independence Tests for Language Models"): when
  two models were trained independently and training is equivariant to permuting hidden
  units (i.i.d. initialisation, coordinate-wise optimisers), the law of the pair is
  unchanged when one model's hidden units are permuted. A statistic that is linear in
  the permutation, ``T(pi) = sum_j C[j, pi(j)]``, then has an exact null: its Monte Carlo
  p-value over random permutations, ``(1 + #{T_pi >= T}) / (B + 1)``, and its exact
  permutation mean and variance (Hoeffding 1951, combinatorial CLT) for the normal tail
  used only beyond the reach of the draws (:func:`permutation_test`). Shared structure
  of independently trained models (never-seen tokens collapsing onto one direction,
  frequency directions) is present under every permutation too, so it cancels.
* **Floors**: every p-value carries the smallest value its method supports
  (:class:`PValue`): ``1/(B+1)`` for Monte Carlo, :data:`ASYMPTOTIC_FLOOR` for normal
  tails, :data:`P_FLOOR` for exact combinatorial tails and digests. Reports print a
  floored p as ``p < floor (method)``.
* **Combination**: the Cauchy combination test (Liu & Xie 2020, JASA 115:393), valid under
  arbitrary dependence in the small-p tail, with p-values clipped at
  :data:`CAUCHY_P_MAX` (a p of exactly 1 maps to tan(-pi/2) = -inf and would veto every
  other test; truncating large p-values is the remedy of Fang, Chang & Tian 2023,
  "Heavy-tailed distribution for combining dependent p-values with asymptotic
  robustness", Statistica Sinica); and Rüger's order-statistic combination
  (:func:`ruger`), valid under arbitrary dependence, which makes a set of roles agree
  before it counts (one matrix can never decide alone).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from modelkin.forensics.numerics import norm_sf, poisson_sf

#: Smallest p-value representable with meaning in float64 (exact tails, digests).
P_FLOOR = 1e-300
#: Smallest p-value reported from a normal (asymptotic) tail: beyond it the relative error
#: of the approximation is unbounded.
ASYMPTOTIC_FLOOR = 1e-16
#: Cauchy combination clips p-values above this (see module doc).
CAUCHY_P_MAX = 0.99
#: Monte Carlo permutations drawn by :func:`permutation_test`.
PERMUTATIONS = 999
#: |z| above which the Monte Carlo draws cannot change the answer (every draw would fall
#: below the observed statistic with overwhelming probability): they are skipped.
MC_SKIP_Z = 8.0

#: Rows per block when a wide matrix is centred or gathered (bounds temporaries).
_BLOCK = 256

METHOD_EXACT = "exact"
METHOD_MC = "Monte Carlo"
METHOD_ASYMPTOTIC = "asymptotic normal tail"
METHOD_POISSON = "Poisson approximation"


@dataclass(frozen=True)
class PValue:
    """A p-value with the floor its method supports and the method's name."""

    value: float
    floor: float
    method: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", min(1.0, max(self.floor, float(self.value))))

    @property
    def at_floor(self) -> bool:
        return self.value <= self.floor


def p_text(p: float | None, floor: float | None = None, method: str | None = None) -> str:
    """``"p = 0.031 (Monte Carlo)"`` or ``"p < 1e-16 (asymptotic normal tail)"``."""
    if p is None:
        return "p n/a"
    how = f" ({method})" if method else ""
    if floor is not None and p <= floor:
        return f"p < {floor:.2g}{how}" if floor > P_FLOOR else f"p < 1e-300{how}"
    return f"p = {p:.3g}{how}"


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equally shaped arrays (0 when either is constant)."""
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    x = x - x.mean()
    y = y - y.mean()
    d = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y / d) if d > 0 else 0.0


def fisher_z(r: float, n: int, inflation: float = 1.0) -> float:
    """z score of correlation ``r`` of ``n`` pairs under H0 rho = 0 (iid pairs)."""
    if n <= 3:
        return 0.0
    r = min(max(r, -0.999999), 0.999999)
    return math.atanh(r) * math.sqrt((n - 3) / max(1.0, inflation))


def two_sided(z: float) -> float:
    """Two-sided normal p-value, floored at :data:`ASYMPTOTIC_FLOOR`."""
    return max(ASYMPTOTIC_FLOOR, float(2.0 * norm_sf(abs(z))))


def upper(z: float) -> float:
    """One-sided (upper tail) normal p-value, floored at :data:`ASYMPTOTIC_FLOOR`."""
    return max(ASYMPTOTIC_FLOOR, float(norm_sf(z)))


def permutation_moments(c: np.ndarray) -> tuple[float, float, float]:
    """(observed trace, exact mean, exact standard deviation) of ``sum_i C[i, pi(i)]``
    over uniformly random permutations ``pi`` (Hoeffding 1951)."""
    n = c.shape[0]
    t = float(np.trace(c))
    mean = float(c.sum()) / n
    rows, cols, grand = c.mean(axis=1), c.mean(axis=0), c.mean()
    ss = 0.0
    # The doubly centred matrix in row blocks: a 3584-wide embedding gives a 100 MB C,
    # and a whole centred copy and its square would triple that.
    for lo in range(0, n, _BLOCK):
        d = c[lo : lo + _BLOCK] - rows[lo : lo + _BLOCK, None] - cols[None, :] + grand
        ss += float(np.einsum("ij,ij->", d, d))
    var = ss / (n - 1) if n > 1 else 0.0
    return t, mean, math.sqrt(max(var, 0.0))


def permutation_trace_z(r: np.ndarray) -> float:
    """z score of ``trace(R)`` against the sums over uniformly random permutations."""
    if r.shape[0] < 3:
        return 0.0
    t, mean, sd = permutation_moments(r)
    return (t - mean) / sd if sd > 0 else 0.0


def permutation_floor(n: int) -> float:
    """Smallest p-value a permutation test over ``n`` units can support: ``1/n!`` (one
    permutation, the identity, is always as extreme as the observed one) and never below
    :data:`ASYMPTOTIC_FLOOR` (the normal tail is used beyond the draws). The normal tail
    alone would claim p = 1e-12 for an 8-unit copy (z = n - 1 = 7), where the exact
    permutation p-value is 1/8! = 2.5e-5."""
    if n < 2:
        return 1.0
    log_fact = math.lgamma(n + 1)
    return max(ASYMPTOTIC_FLOOR, math.exp(-log_fact) if log_fact < 700 else 0.0)


def _draws(n: int, draws: int, seed: int) -> Iterator[np.ndarray]:
    """``draws`` uniformly random permutations of ``range(n)`` (rows), seeded: reports
    are recomputable bit for bit. Yielded in blocks of rows so that a wide matrix's
    draws never exist at once (the generator's stream is the same either way)."""
    rng = np.random.default_rng([seed, n, draws])
    per = max(1, _BLOCK * 256 // max(1, n))
    for lo in range(0, draws, per):
        yield np.asarray(np.argsort(rng.random((min(per, draws - lo), n)), axis=1))


def permutation_test(
    c: np.ndarray, draws: int = PERMUTATIONS, seed: int = 0
) -> tuple[float, PValue]:
    """(z, one-sided p) of ``T = trace(C)`` against ``T(pi) = sum_i C[i, pi(i)]``.

    ``C[i, j]`` is the contribution of pairing unit ``i`` of one model with unit ``j`` of
    the other (e.g. the inner product of two columns). Up to ``draws`` seeded permutations
    give the exact Monte Carlo p-value ``(1 + #{T_pi >= T}) / (draws + 1)``; when no draw
    reaches ``T`` the p-value is the normal tail of the exact permutation moments
    (asymptotic, floored at :data:`ASYMPTOTIC_FLOOR`), capped at ``1 / (draws + 1)`` — so
    it is exact at every level down to ``1 / (draws + 1)`` and asymptotic only beyond,
    where it never goes below :func:`permutation_floor` (``1/n!``). Draws are skipped
    when ``z`` exceeds :data:`MC_SKIP_Z` (they could not reach it)."""
    n = c.shape[0]
    if n < 3:
        return 0.0, PValue(1.0, 1.0 / (draws + 1), METHOD_MC)
    t, mean, sd = permutation_moments(c)
    z = (t - mean) / sd if sd > 0 else 0.0
    floor = permutation_floor(n)
    tail = max(floor, float(norm_sf(z)))
    if z > MC_SKIP_Z and floor < 1.0 / (draws + 1):
        return z, PValue(tail, floor, METHOD_ASYMPTOTIC)
    idx = np.arange(n)[None, :]
    # a tolerance for float round-off: ties count against the observed statistic
    hits = sum(
        int(np.count_nonzero(c[idx, perms].sum(axis=1) >= t - 1e-12 * max(1.0, abs(t))))
        for perms in _draws(n, draws, seed)
    )
    if hits > 0 or floor >= 1.0 / (draws + 1):
        return z, PValue((1 + hits) / (draws + 1), 1.0 / (draws + 1), METHOD_MC)
    return z, PValue(min(tail, 1.0 / (draws + 1)), floor, METHOD_ASYMPTOTIC)


def poisson_tail(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    return max(P_FLOOR, poisson_sf(k, mu))


def bonferroni(ps: list[float]) -> float:
    """min p times the number of tests, capped at 1."""
    return min(1.0, min(ps) * len(ps)) if ps else 1.0


def ruger(ps: list[float], r: int) -> float:
    """Rüger's combination: ``m / r`` times the ``r``-th smallest of ``m`` p-values,
    capped at 1 (valid under arbitrary dependence; Rüger 1978, Morgenstern 1980). With
    ``r = ceil(m / 2)`` it is twice the median: a majority of the tests must agree."""
    if not ps:
        return 1.0
    m = len(ps)
    r = min(max(1, r), m)
    return min(1.0, sorted(ps)[r - 1] * m / r)


def agreement_rank(m: int) -> int:
    """How many of ``m`` roles must agree in :func:`ruger`: a majority, never one alone
    (``m`` < 2 gives 2, i.e. no decision)."""
    return max(2, math.ceil(m / 2))


def cauchy_combine(ps: list[float]) -> float:
    """Cauchy combination with equal weights (see module doc); tiny p-values use tan's
    pole expansion, p-values above :data:`CAUCHY_P_MAX` are clipped to it."""
    if not ps:
        return 1.0
    terms = []
    for p in ps:
        p = min(max(p, P_FLOOR), CAUCHY_P_MAX)
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
