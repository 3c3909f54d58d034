"""Seeded sample positions: the same cells of a role in every copy of a model.

Positions depend only on ``(seed, kind, param, shape)`` — never on the values and, on
purpose, not on the layer index: the same cells of layer 3 of one model and of layer 5 of
another can then be compared, which is what layer alignment (pruned or duplicated blocks)
needs. Rows are taken in contiguous blocks so that a reader touches only the (quantized)
blocks holding them.
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Rows per contiguous block and blocks per 2-D role.
BLOCK_ROWS = 8
MAX_BLOCKS = 4
#: Columns kept from each sampled row; entries kept from a 1-D role.
SAMPLE_COLS = 64
SAMPLE_1D = 256


def rng_for(seed: int, *key: object) -> np.random.Generator:
    """A generator whose stream is a pure function of ``seed`` and ``key``."""
    text = "|".join([str(seed), *(str(k) for k in key)])
    h = hashlib.sha256(text.encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def row_blocks(seed: int, kind: str, param: str, shape: tuple[int, ...]) -> list[slice]:
    """Sorted, disjoint row slices of a 2-D role of ``shape``."""
    rows = shape[0]
    nblk = max(1, rows // BLOCK_ROWS)
    rng = rng_for(seed, "rows", kind, param, shape)
    starts = np.sort(rng.choice(nblk, size=min(MAX_BLOCKS, nblk), replace=False))
    return [slice(int(s) * BLOCK_ROWS, min(rows, (int(s) + 1) * BLOCK_ROWS)) for s in starts]


def columns(seed: int, kind: str, param: str, shape: tuple[int, ...]) -> np.ndarray:
    """Sorted column indices kept from each sampled row (all columns of a narrow matrix)."""
    cols = int(np.prod(shape[1:]))
    if cols <= SAMPLE_COLS:
        return np.arange(cols)
    rng = rng_for(seed, "cols", kind, param, shape)
    return np.sort(rng.choice(cols, size=SAMPLE_COLS, replace=False))


def positions_1d(seed: int, kind: str, param: str, n: int) -> np.ndarray:
    """Sorted indices kept from a 1-D role of length ``n``."""
    if n <= SAMPLE_1D:
        return np.arange(n)
    rng = rng_for(seed, "pos", kind, param, n)
    return np.sort(rng.choice(n, size=SAMPLE_1D, replace=False))


def hidden_subset(seed: int, hidden: int, k: int) -> np.ndarray:
    """The hidden dimensions whose weights describe each MLP unit (for unit matching)."""
    if hidden <= k:
        return np.arange(hidden)
    return np.sort(rng_for(seed, "units", hidden).choice(hidden, size=k, replace=False))
