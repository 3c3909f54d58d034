"""Recovering a permutation of the hidden (residual-stream) basis between two models.

Permuting the residual stream (every matrix that reads or writes it, and the norm weights)
preserves the function but moves every column: unit features stored on seeded hidden
dimensions then describe *different* dimensions in the two models. The token-keyed
embedding rows in both fingerprints are full hidden-width vectors of the same tokens, so
column ``j`` of the suspect's rows equals column ``pi(j)`` of the candidate's rows when the
basis was permuted. Correlating columns over the shared tokens and taking each column's
best partner (or solving a linear assignment when a few partners collide) recovers ``pi``.

The estimate is used only to re-index features before the unit-matching test; that test's
null (exchangeable candidate units, Zhu et al. 2025) holds conditionally on any ``pi``
computed from the embeddings, because permuting the candidate's MLP units leaves its
embeddings unchanged.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.forensics.numerics import linear_sum_assignment

#: Fewest shared tokens for a usable column correlation.
MIN_SHARED_TOKENS = 32
#: Widest hidden size aligned (the assignment is cubic in it).
MAX_HIDDEN = 4096
#: Mean same-index column correlation above which the bases are taken as shared.
SHARED_BASIS_CORR = 0.5
#: Fraction of distinct best partners needed before the (costly) assignment is solved: a
#: permuted copy gives ~1, unrelated embeddings ~1 - 1/e (random best partners collide).
DISTINCT_BEST = 0.9


def _shared_rows(s: Fingerprint, c: Fingerprint) -> tuple[np.ndarray, np.ndarray] | None:
    """Embedding rows of the tokens both fingerprints stored, in the same order (same
    hidden width only)."""
    rows = shared_token_rows(s, c)
    if rows is None or rows[0].shape[1] != rows[1].shape[1]:
        return None
    return rows


def shared_token_rows(s: Fingerprint, c: Fingerprint) -> tuple[np.ndarray, np.ndarray] | None:
    """Embedding rows of the tokens both fingerprints stored, in the same order; the two
    widths may differ (pruned or sliced hidden size). None below
    :data:`MIN_SHARED_TOKENS` shared tokens."""
    if not s.tokens or not c.tokens:
        return None
    hs, hc = s.tokens.get("hashes"), c.tokens.get("hashes")
    if not isinstance(hs, list) or not isinstance(hc, list):
        return None
    rs = unpack(s.tokens.get("rows"), "suspect token rows")
    rc = unpack(c.tokens.get("rows"), "candidate token rows")
    if rs.ndim != 2 or rc.ndim != 2 or rs.shape[0] != len(hs) or rc.shape[0] != len(hc):
        return None
    where = {h: i for i, h in enumerate(hc)}
    pairs = [(i, where[h]) for i, h in enumerate(hs) if h in where]
    if len(pairs) < MIN_SHARED_TOKENS:
        return None
    i_s, i_c = (np.array(x) for x in zip(*pairs, strict=True))
    return rs[i_s].astype(np.float64), rc[i_c].astype(np.float64)


def zcols(x: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit norm (column correlations become dot products)."""
    x = x - x.mean(axis=0, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=0, keepdims=True), 1e-12)


def hidden_permutation(s: Fingerprint, c: Fingerprint) -> tuple[np.ndarray, float] | None:
    """``(pi, quality)``: suspect hidden dim ``j`` corresponds to candidate dim ``pi[j]``;
    ``quality`` is the mean column correlation of the matched pairs (near 1 for a permuted
    copy). None when the fingerprints share too few embedding rows, widths differ, or the
    same-index columns already agree (shared basis), or no column has a clear partner
    (unrelated embeddings: the costly assignment is then skipped too).

    Every decision here depends on the embeddings only, never on the unit features, so
    choosing a basis this way does not cost the unit test a multiple-testing correction."""
    rows = _shared_rows(s, c)
    if rows is None:
        return None
    a, b = zcols(rows[0]), zcols(rows[1])
    if a.shape[1] > MAX_HIDDEN or float(np.mean(np.sum(a * b, axis=0))) >= SHARED_BASIS_CORR:
        return None
    corr = a.T @ b
    best = np.argmax(corr, axis=1)
    distinct = np.unique(best).shape[0]
    if distinct == best.shape[0]:
        pi = best.astype(np.int64)
    elif distinct >= DISTINCT_BEST * best.shape[0]:
        r, cols = linear_sum_assignment(corr, maximize=True)
        pi = np.empty(a.shape[1], dtype=np.int64)
        pi[r] = cols
    else:
        return None
    return pi, float(corr[np.arange(pi.shape[0]), pi].mean())
