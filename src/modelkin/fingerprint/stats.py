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


#: Values per block checked for a quantization grid: 16 is the smallest scale block of the
#: ggml formats (Q6_K, Q3_K, Q2_K sub-blocks; Q4_0/Q8_0/k-quant 32-blocks contain two), so
#: every ggml format, and per-row or per-tensor int8, puts each 16-value block on one grid.
GRID_BLOCK = 16
#: Blocks examined per role (spread over the rows read), and the most grid levels a block
#: may span (8-bit formats span at most 255 steps).
GRID_MAX_BLOCKS = 64
GRID_MAX_LEVELS = 256


def _block_step(x: np.ndarray) -> float | None:
    """The step ``d`` when the block's values all lie on ``offset + d * k`` (integer ``k``,
    at most :data:`GRID_MAX_LEVELS` levels), else None.

    The step is the smallest gap between distinct values divided by 1..6 (a block rarely
    holds two adjacent levels of an 8-bit grid). The tolerance admits values stored in
    float16 after dequantization. Continuous values (trained, noised) pass with probability
    ~0.05^14 per block: with 16 values the smallest gap spans hundreds of would-be levels
    and the other values miss the lattice."""
    u = np.unique(x)
    if u.size < 3:
        return None
    gap = float(np.min(np.diff(u)))
    span = float(u[-1] - u[0])
    if gap <= 0 or not math.isfinite(span):
        return None
    for j in range(1, 7):
        step = gap / j
        if span / step > GRID_MAX_LEVELS:
            return None
        r = (u - u[0]) / step
        if bool(np.all(np.abs(r - np.rint(r)) <= 0.02 + 5e-4 * np.abs(r))):
            return step
    return None


def grid_signature(a: np.ndarray) -> dict[str, Any] | None:
    """How much of a 2-D role lies on a quantization grid (the trace a quantize/dequantize
    round trip leaves; noise and training never do): ``on_grid`` is the share of
    :data:`GRID_BLOCK`-value blocks (along rows, where ggml blocks run) whose values are an
    affine integer lattice, ``step_rms`` the RMS lattice step of those blocks (rounding to
    it costs ``step / sqrt(12)`` RMS). None for 1-D roles or rows shorter than a block."""
    x = np.asarray(a)  # only the picked blocks are widened to float64, never the tensor
    if x.ndim != 2:
        return None
    pos = grid_positions(x.shape[0], x.shape[1])
    if pos is None:
        return None
    r, cols = pos
    return grid_of_blocks(x[r[:, None], cols])


def grid_positions(rows: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(row of each examined block, its column indices) in a ``rows x width`` role, or
    None when rows are shorter than a block: the blocks :func:`grid_signature` reads,
    spread evenly over the role, so that a role too large to hold can be read row by row."""
    if width < GRID_BLOCK:
        return None
    per_row = width // GRID_BLOCK
    total = rows * per_row
    picks = np.unique(np.linspace(0, total - 1, min(total, GRID_MAX_BLOCKS)).astype(np.int64))
    r, k = np.divmod(picks, per_row)
    return r, k[:, None] * GRID_BLOCK + np.arange(GRID_BLOCK)


def grid_of_blocks(picked: np.ndarray) -> dict[str, Any] | None:
    """:func:`grid_signature` of the examined blocks (one block of values per row)."""
    blocks = np.sort(np.asarray(picked).astype(np.float64), axis=1)
    gaps = np.diff(blocks, axis=1)
    distinct = np.sum(gaps > 0, axis=1) + 1
    ok = np.all(np.isfinite(blocks), axis=1) & (distinct >= 3)  # degenerate blocks say nothing
    span = blocks[:, -1] - blocks[:, 0]
    min_gap = np.where(gaps > 0, gaps, np.inf).min(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # the coarsest candidate step (j = 1) already spans too many levels: off grid
        maybe = ok & (span / min_gap <= GRID_MAX_LEVELS)
    checked = int(ok.sum())
    # j = 1 for every candidate block at once (the common case for 4-bit grids)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = (blocks - blocks[:, :1]) / min_gap[:, None]
        first = maybe & np.all(np.abs(lat - np.rint(lat)) <= 0.02 + 5e-4 * np.abs(lat), axis=1)
    steps: list[float] = [float(g) for g in min_gap[first]]
    for i in np.flatnonzero(maybe & ~first):
        step = _block_step(blocks[i])
        if step is not None:
            steps.append(step)
    if checked == 0:
        return None
    return {
        "blocks": checked,
        "on_grid": _f(len(steps) / checked),
        "step_rms": _f(float(np.sqrt(np.mean(np.square(steps))))) if steps else None,
    }
