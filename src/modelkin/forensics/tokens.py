"""Test 6: tokenizer and embedding evidence.

Vocabulary overlap (Jaccard of hashed token strings) and equality of merges are reported,
but a shared tokenizer alone proves little (many models share one). The evidence is the
embedding rows of *shared tokens* (keyed by token text, so it survives vocabulary
extension, truncation and re-numbering): the cross-correlation matrix R[d, d'] of hidden
dimensions over the shared tokens has a large trace for derived models. Under H0 the hidden
dimensions of independently trained models are exchangeable, so trace(R) is compared with
its permutation distribution: exact Monte Carlo over seeded permutations, and the normal
tail of the exact permutation mean and variance (Hoeffding's combinatorial CLT) only
beyond the draws (:func:`~modelkin.forensics.stats.permutation_test`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import permutation_test

#: Fewest shared token rows for the embedding test.
MIN_SHARED_TOKENS = 24


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Stored hashes are already sorted and unique; re-establish it only if they are not."""
    return a if a.size < 2 or bool(np.all(a[1:] > a[:-1])) else np.unique(a)


def vocab_overlap(s: Fingerprint, c: Fingerprint) -> dict[str, Any]:
    """Jaccard of token sets and equality of vocab / merges digests (None if absent)."""
    if not s.tokenizer or not c.tokenizer:
        return {"jaccard": None}
    a = _sorted_unique(unpack(s.tokenizer["token_hashes"], "suspect tokenizer"))
    b = _sorted_unique(unpack(c.tokenizer["token_hashes"], "candidate tokenizer"))
    shared = int(np.intersect1d(a, b, assume_unique=True).size)
    union = int(a.size + b.size - shared)
    sd, cd = s.tokenizer.get("digest", {}), c.tokenizer.get("digest", {})
    return {
        "jaccard": shared / union if union else None,
        "shared_tokens": shared,
        "same_vocab": sd.get("vocab") == cd.get("vocab"),
        "same_merges": sd.get("merges") == cd.get("merges") and bool(s.tokenizer.get("merges")),
        "kinds": [s.tokenizer.get("kind"), c.tokenizer.get("kind")],
    }


def token_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    overlap = vocab_overlap(s, c)
    base: dict[str, Any] = {
        "name": "tokens_embeddings",
        "meaning": "Shared tokens whose embedding vectors agree dimension by dimension: "
        "the embedding table was inherited, not only the tokenizer.",
        "limits": "A rotated or permuted hidden space hides it; vocabulary overlap alone "
        "is not evidence of derivation.",
    }
    skipped = None
    if not s.tokens or not c.tokens:
        skipped = "no token-keyed embedding rows in one fingerprint"
    elif s.seed != c.seed:
        skipped = "fingerprints made with different seeds select different tokens"
    if skipped is None:
        assert s.tokens is not None and c.tokens is not None
        sh, ch = s.tokens["hashes"], c.tokens["hashes"]
        sr, cr = unpack(s.tokens["rows"], "suspect"), unpack(c.tokens["rows"], "candidate")
        cpos = {h: i for i, h in enumerate(ch)}
        idx = [(i, cpos[h]) for i, h in enumerate(sh) if h in cpos]
        if sr.shape[1] != cr.shape[1]:
            skipped = f"embedding widths differ ({sr.shape[1]} vs {cr.shape[1]})"
        elif len(idx) < MIN_SHARED_TOKENS:
            skipped = f"only {len(idx)} sampled tokens shared (< {MIN_SHARED_TOKENS})"
    if skipped is not None:
        return Evidence(
            statistic=None,
            p_value=None,
            null={"description": "permutation null of trace of dimension cross-correlation"},
            details={"skipped": skipped, "vocab": overlap},
            **base,
        )
    x = sr[[i for i, _ in idx]].astype(np.float64)
    y = cr[[j for _, j in idx]].astype(np.float64)
    # Centre each dimension over the shared tokens: removes the common offset of
    # frequent-token embeddings, which every model has.
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    x /= np.maximum(np.linalg.norm(x, axis=0), 1e-12)
    y /= np.maximum(np.linalg.norm(y, axis=0), 1e-12)
    r = x.T @ y
    z, p = permutation_test(r, seed=len(idx))
    diag = np.diag(r)
    return Evidence(
        statistic=z,
        p_value=None,
        null={
            "description": "trace of the dimension cross-correlation matrix over shared "
            "tokens vs. uniformly random dimension permutations (Monte Carlo; normal tail "
            "of the exact permutation moments beyond the draws)",
            "null_mean": float(r.sum() / r.shape[0]),
        },
        details={
            "shared_sampled_tokens": len(idx),
            "mean_diagonal_r": float(diag.mean()),
            "vocab": overlap,
        },
        plot={"hist": np.histogram(diag, bins=20, range=(-1, 1))[0].tolist()},
        **base,
    ).set_p(p)
