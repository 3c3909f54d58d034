"""Full-mode statistics of a role too large to hold, read in row chunks.

Why: full mode hashes and summarises every tensor, and a 7B model's embedding is 545M
values: 2.2 GB as float32 and 4.4 GB as the float64 copy :func:`~modelkin.fingerprint.
stats.summarize` makes, before ``np.quantile`` copies it again. Here the role is read
``CHUNK_ELEMENTS`` values at a time and everything full mode records is accumulated:

* the sha256 of its float32 values (the same bytes in the same order, so the same digest);
* count, mean and variance (Chan, Golub & LeVeque's pairwise update of per-chunk means and
  centred sums of squares, stable where a running sum of squares is not), mean absolute
  value and RMS;
* **exact** quantiles with numpy's default (linear) interpolation: float32 values are
  mapped to unsigned keys that sort like the floats, a histogram of the keys' top 16 bits
  locates each needed order statistic's bucket, and the low 16 bits are resolved by a
  second pass over only those buckets -- skipped when every such bucket holds one value,
  as it always does for bf16 weights (their low 16 bits are stored as zeros);
* the norm of every row, whose quantiles are taken at the end (one value per row).

The quantization-grid trace and the seeded sample need a few rows only, read directly.
Memory is bounded by one chunk and a few 65,536-bin histograms, whatever the role's size.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from modelkin.fingerprint.stats import QUANTILES, _f

#: Roles with more values than this are summarised in chunks (smaller ones whole).
STREAM_ELEMENTS = 32 * 2**20
#: Values read per chunk.
CHUNK_ELEMENTS = 4 * 2**20
_BINS = 1 << 16

#: Reads rows ``[lo, hi)`` of a role as float32, shaped ``(hi - lo, ...)``.
RowReader = Callable[[int, int], np.ndarray]


def float_keys(x: np.ndarray) -> np.ndarray:
    """uint32 keys of float32 values that sort as the values do (negative values have all
    bits flipped, non-negative ones their sign bit)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).reshape(-1)
    neg = (u >> np.uint32(31)).astype(bool)
    return np.where(neg, ~u, u | np.uint32(0x80000000))


def key_value(key: int) -> float:
    """The float32 value (as float) of a key made by :func:`float_keys`."""
    u = key ^ 0x80000000 if key & 0x80000000 else (~key) & 0xFFFFFFFF
    return float(np.array([u], dtype=np.uint32).view(np.float32)[0])


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's interpolation between neighbouring order statistics (``_lerp`` in
    ``numpy/lib/_function_base_impl.py``: from the nearer end, so t = 1 gives b)."""
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t


class _Accumulator:
    """Running statistics over chunks of one role."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.abs_sum = 0.0
        self.sq_sum = 0.0
        self.nan = False
        self.hist = np.zeros(_BINS, dtype=np.int64)
        self.low_sum = np.zeros(_BINS, dtype=np.float64)
        self.norms: list[np.ndarray] = []

    def add(self, x2: np.ndarray) -> None:
        x = x2.astype(np.float64).reshape(-1)
        k = x.size
        if k == 0:
            return
        if not self.nan and not bool(np.all(np.isfinite(x))):
            self.nan = self.nan or bool(np.isnan(x).any())
        m = float(x.mean())
        d = x - m
        m2 = float(d @ d)
        delta = m - self.mean
        total = self.n + k
        self.mean += delta * k / total
        self.m2 += m2 + delta * delta * self.n * k / total
        self.n = total
        self.abs_sum += float(np.abs(x).sum())
        self.sq_sum += float(x @ x)
        if x2.ndim == 2:
            rows = x.reshape(x2.shape)
            self.norms.append(np.sqrt(np.einsum("ij,ij->i", rows, rows)))
        keys = float_keys(x2)
        hi = keys >> np.uint32(16)
        self.hist += np.bincount(hi, minlength=_BINS)
        # The stored low bits (not the key's: a negative value's key has them flipped).
        # A bucket holds values of one sign, so zero stored low bits everywhere in it
        # means one key, known without a second pass.
        raw = np.ascontiguousarray(x2, dtype=np.float32).view(np.uint32).reshape(-1)
        self.low_sum += np.bincount(hi, weights=raw & np.uint32(0xFFFF), minlength=_BINS)


def _needed_ranks(n: int) -> list[tuple[int, int, float]]:
    """(lower rank, upper rank, fraction) of each quantile (numpy's "linear" method)."""
    out = []
    for q in QUANTILES:
        v = q * (n - 1)
        lo = math.floor(v)
        out.append((lo, min(lo + 1, n - 1), v - lo))
    return out


def _quantiles(acc: _Accumulator, read_rows: RowReader, rows: int, per: int) -> list[Any]:
    n = acc.n
    ranks = _needed_ranks(n)
    cum = np.cumsum(acc.hist)
    wanted = sorted({r for lo, hi, _ in ranks for r in (lo, hi)})
    bucket = {r: int(np.searchsorted(cum, r, side="right")) for r in wanted}
    targets = sorted({b for b in bucket.values() if acc.low_sum[b] != 0})
    low_hist: dict[int, np.ndarray] = {b: np.zeros(_BINS, dtype=np.int64) for b in targets}
    if targets:  # a second pass, over the few buckets whose values are not all alike
        tarr = np.array(targets, dtype=np.uint32)
        for lo in range(0, rows, per):
            keys = float_keys(read_rows(lo, min(rows, lo + per)))
            hi = keys >> np.uint32(16)
            sel = keys[np.isin(hi, tarr)]
            for b in targets:
                low = sel[(sel >> np.uint32(16)) == b] & np.uint32(0xFFFF)
                low_hist[b] += np.bincount(low, minlength=_BINS)
    value: dict[int, float] = {}
    for r in wanted:
        b = bucket[r]
        if b in low_hist:
            before = int(cum[b - 1]) if b > 0 else 0
            low = int(np.searchsorted(np.cumsum(low_hist[b]), r - before, side="right"))
        else:  # every stored low bit is zero: the key's are too, or all flipped
            low = 0 if b & 0x8000 else 0xFFFF
        value[r] = key_value((b << 16) | low)
    return [_f(_lerp(value[lo], value[hi], t)) for lo, hi, t in ranks]


def stream_summary(read_rows: RowReader, shape: tuple[int, ...]) -> tuple[str, dict[str, Any]]:
    """(sha256 of the float32 values, :func:`~modelkin.fingerprint.stats.summarize` of the
    role reshaped to ``(rows, -1)``) from row chunks of a role of ``shape``."""
    rows = shape[0]
    width = 1
    for d in shape[1:]:
        width *= d
    per = max(1, CHUNK_ELEMENTS // max(1, width))
    h = hashlib.sha256()
    acc = _Accumulator()
    for lo in range(0, rows, per):
        chunk = read_rows(lo, min(rows, lo + per))
        x2 = np.ascontiguousarray(chunk, dtype="<f4").reshape(chunk.shape[0], -1)
        h.update(x2.data)
        acc.add(x2)
        del chunk, x2
    n = acc.n
    out: dict[str, Any] = {"n": n}
    if n == 0:
        out |= {"mean": None, "std": None, "absmean": None, "rms": None, "quantiles": []}
        return h.hexdigest(), out
    out["mean"] = _f(acc.mean)
    out["std"] = _f(math.sqrt(max(acc.m2 / n, 0.0)))
    out["absmean"] = _f(acc.abs_sum / n)
    out["rms"] = _f(math.sqrt(acc.sq_sum / n))
    if acc.nan:
        out["mean"] = out["std"] = out["absmean"] = out["rms"] = None
        out["quantiles"] = [None] * len(QUANTILES)
    else:
        out["quantiles"] = _quantiles(acc, read_rows, rows, per)
    if len(shape) >= 2 and rows > 1:
        norms = np.sort(np.concatenate(acc.norms))
        out["row_norm_quantiles"] = [_f(float(q)) for q in np.quantile(norms, QUANTILES)]
    return h.hexdigest(), out
