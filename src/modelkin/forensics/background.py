"""The unrelated-pair background for correlations of aligned samples.

Sampled weights are not iid (rows share scales, neighbouring cells correlate), so the
Fisher z of a correlation of ``n`` cells is too confident. We measure by how much on pairs
known to be unrelated: each sample against the *other model's* sample shifted by whole
row blocks (a misalignment), whose correlation is H0-like even when the models are
derived. The variance inflation ``mean(r^2) * (n - 3)`` (at least 1) rescales every z.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint.sampling import BLOCK_ROWS
from modelkin.forensics.stats import pearson


def misaligned_correlations(a: np.ndarray, b: np.ndarray) -> list[float]:
    """Correlations of ``a`` with ``b`` shifted by each whole number of row blocks."""
    out = []
    if a.ndim == 2 and a.shape == b.shape and a.shape[0] >= 2 * BLOCK_ROWS:
        for k in range(1, a.shape[0] // BLOCK_ROWS):
            out.append(pearson(a, np.roll(b, k * BLOCK_ROWS, axis=0)))
    if a.ndim == 2 and a.shape == b.shape and a.shape[1] >= 8:
        out.append(pearson(a, np.roll(b, a.shape[1] // 2, axis=1)))
    return out


def inflation(rs: list[float], n: int) -> float:
    """Variance inflation factor of the background (>= 1)."""
    if len(rs) < 3 or n <= 3:
        return 1.0
    return max(1.0, float(np.mean(np.square(rs))) * (n - 3))
