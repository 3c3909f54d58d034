"""Per-role summary statistics: the numbers behind depth profiles (arXiv 2507.03014).

All are permutation-invariant over rows (a function-preserving permutation of units leaves
them unchanged): moments, quantiles, and quantiles of the sorted row norms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def _f(x: float) -> float | None:
    """A JSON-safe float (None for NaN/inf), rounded to 7 significant digits."""
    return float(f"{x:.7g}") if math.isfinite(x) else None


def summarize(a: np.ndarray) -> dict[str, Any]:
    """Moments, quantiles and sorted row-norm quantiles of ``a`` (float64 maths)."""
    x = np.asarray(a, dtype=np.float64)
    flat = x.reshape(-1)
    out: dict[str, Any] = {
        "n": int(flat.size),
        "mean": _f(float(flat.mean())) if flat.size else None,
        "std": _f(float(flat.std())) if flat.size else None,
        "absmean": _f(float(np.abs(flat).mean())) if flat.size else None,
        "rms": _f(float(np.sqrt(np.mean(flat * flat)))) if flat.size else None,
        "quantiles": [_f(float(q)) for q in np.quantile(flat, QUANTILES)] if flat.size else [],
    }
    if x.ndim == 2 and x.shape[0] > 1:
        norms = np.sort(np.linalg.norm(x, axis=1))
        out["row_norm_quantiles"] = [_f(float(q)) for q in np.quantile(norms, QUANTILES)]
    return out
