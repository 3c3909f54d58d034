"""Linear centred kernel alignment (CKA) between two sets of representations.

Kornblith et al. (ICML 2019): for representations ``X [n, d1]`` and ``Y [n, d2]`` of the
same ``n`` inputs, linear CKA is ``HSIC(XXᵀ, YYᵀ) / sqrt(HSIC(XXᵀ, XXᵀ) HSIC(YYᵀ, YYᵀ))``.
It is invariant to orthogonal transforms and isotropic scaling of either side (so to
permuted units, a rotated residual basis, a changed width), which is what makes it usable
across models that share no weights.

The plain estimator is biased upwards when ``n`` is not much larger than the widths
(two random matrices score high); we use the unbiased HSIC estimator of Song et al.
(JMLR 2012, "debiased CKA"), under which unrelated representations score about 0.
Grams are ``n x n``: rows are subsampled to :data:`MAX_ROWS` so memory stays a few MB per
layer, whatever the model's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Rows (probe positions) used for CKA; more are subsampled with a fixed seed.
MAX_ROWS = 1024


@dataclass
class Gram:
    """A representation's Gram matrix with its diagonal removed, prepared for the
    unbiased HSIC estimator: ``k`` (zero diagonal), its row sums and total, and the
    representation's own HSIC."""

    k: np.ndarray
    rows: np.ndarray
    total: float
    self_hsic: float


def _hsic(a: Gram, b: Gram) -> float:
    n = a.k.shape[0]
    tr = float(np.dot(a.k.ravel().astype(np.float64), b.k.ravel().astype(np.float64)))
    cross = float(np.dot(a.rows, b.rows))
    return (tr + a.total * b.total / ((n - 1) * (n - 2)) - 2.0 * cross / (n - 2)) / (n * (n - 3))


def gram(x: np.ndarray) -> Gram:
    """Prepare representation ``x [n, d]`` (n >= 4)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0, keepdims=True)  # centring does not change HSIC_u; it helps round-off
    k = x @ x.T
    np.fill_diagonal(k, 0.0)
    g = Gram(k.astype(np.float32), k.sum(axis=1), float(k.sum()), 0.0)
    g.self_hsic = _hsic(g, g)
    return g


def cka(a: Gram, b: Gram) -> float:
    """Debiased linear CKA of two prepared representations of the same inputs."""
    den = a.self_hsic * b.self_hsic
    if not den > 0:
        return 0.0
    return float(_hsic(a, b) / np.sqrt(den))


def cka_arrays(x: np.ndarray, y: np.ndarray) -> float:
    """Debiased linear CKA of ``x [n, d1]`` and ``y [n, d2]``."""
    return cka(gram(x), gram(y))


def select_rows(n: int, seed: int = 0, limit: int = MAX_ROWS) -> np.ndarray:
    """At most ``limit`` of ``n`` row indices, sorted, chosen with a fixed seed."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def cka_matrix(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> np.ndarray:
    """``C[i, j]`` = CKA of ``a[i]`` and ``b[j]`` (same rows in every array). ``b``'s
    Grams are kept, ``a``'s made one at a time."""
    gb = [gram(y) for y in b]
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        ga = gram(x)
        for j, g in enumerate(gb):
            out[i, j] = cka(ga, g)
        del ga
    return out


def monotone_alignment(c: np.ndarray) -> list[tuple[int, int]]:
    """The strictly increasing matching of every row of the shallower side to a column
    of the deeper side (or vice versa) that maximises the summed CKA: a layer of a
    depth-pruned or upscaled model maps to a distinct layer of the other, in order.
    Returns ``(i, j)`` pairs."""
    transpose = c.shape[0] > c.shape[1]
    m = c.T if transpose else c
    r, k = m.shape
    best = np.full((r + 1, k + 1), -np.inf)
    best[0, :] = 0.0
    take = np.zeros((r + 1, k + 1), dtype=bool)
    for i in range(1, r + 1):
        for j in range(i, k + 1):
            skip = best[i, j - 1]
            use = best[i - 1, j - 1] + m[i - 1, j - 1]
            if use >= skip:
                best[i, j], take[i, j] = use, True
            else:
                best[i, j] = skip
    pairs: list[tuple[int, int]] = []
    i, j = r, k
    while i > 0:
        if take[i, j]:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        else:
            j -= 1
    pairs.reverse()
    return [(j, i) for i, j in pairs] if transpose else pairs
