"""Seeded sample positions: the same cells of a role in every copy of a model.

Positions depend only on ``(seed, kind, param, shape)`` — never on the values and, on
purpose, not on the layer index: the same cells of layer 3 of one model and of layer 5 of
another can then be compared, which is what layer alignment (pruned or duplicated blocks)
needs. Rows are taken in contiguous blocks so that a reader touches only the (quantized)
blocks holding them.

The positions are cached per key: every layer of a model asks for the same ones (that is
the point), and drawing them costs a SHA-256 and a new generator each time. Callers get
fresh copies, so a cached answer can never be changed through them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

#: Rows per contiguous block and blocks per 2-D role.
BLOCK_ROWS = 8
MAX_BLOCKS = 4
#: Columns kept from each sampled row; entries kept from a 1-D role.
SAMPLE_COLS = 64
SAMPLE_1D = 256


def _key_text(seed: int, *key: object) -> str:
    """The text a key is hashed from (the seed and each part as ``str``, ``|``-joined)."""
    return "|".join([str(seed), *(str(k) for k in key)])


def rng_for(seed: int, *key: object) -> np.random.Generator:
    """A generator whose stream is a pure function of ``seed`` and ``key``."""
    h = hashlib.sha256(_key_text(seed, *key).encode("utf-8")).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


@lru_cache(maxsize=4096)
def _draw(text: str, n: int, size: int) -> np.ndarray:
    """``size`` sorted distinct indices of ``range(n)`` drawn by the generator that
    :func:`rng_for` makes for the key spelled ``text`` (cached on that exact text, so two
    keys that compare equal but print differently never share an entry)."""
    h = hashlib.sha256(text.encode("utf-8")).digest()
    rng = np.random.default_rng(int.from_bytes(h[:8], "little"))
    out = np.sort(rng.choice(n, size=size, replace=False))
    out.flags.writeable = False
    return out


def row_blocks(seed: int, kind: str, param: str, shape: tuple[int, ...]) -> list[slice]:
    """Sorted, disjoint row slices of a 2-D role of ``shape``."""
    rows = shape[0]
    nblk = max(1, rows // BLOCK_ROWS)
    starts = _draw(_key_text(seed, "rows", kind, param, shape), nblk, min(MAX_BLOCKS, nblk))
    return [slice(int(s) * BLOCK_ROWS, min(rows, (int(s) + 1) * BLOCK_ROWS)) for s in starts]


def columns(seed: int, kind: str, param: str, shape: tuple[int, ...]) -> np.ndarray:
    """Sorted column indices kept from each sampled row (all columns of a narrow matrix)."""
    cols = int(np.prod(shape[1:]))
    if cols <= SAMPLE_COLS:
        return np.arange(cols)
    return _draw(_key_text(seed, "cols", kind, param, shape), cols, SAMPLE_COLS).copy()


def positions_1d(seed: int, kind: str, param: str, n: int) -> np.ndarray:
    """Sorted indices kept from a 1-D role of length ``n``."""
    if n <= SAMPLE_1D:
        return np.arange(n)
    return _draw(_key_text(seed, "pos", kind, param, n), n, SAMPLE_1D).copy()


def hidden_subset(seed: int, hidden: int, k: int) -> np.ndarray:
    """The hidden dimensions whose weights describe each MLP unit (for unit matching)."""
    if hidden <= k:
        return np.arange(hidden)
    return _draw(_key_text(seed, "units", hidden), hidden, k).copy()
