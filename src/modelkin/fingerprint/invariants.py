"""Attention summaries: per-head spectra of W_q W_k^T and W_o W_v (invariant to head
order), and per-head circuits on a few hidden dimensions (in head order, for matching).

A head's bilinear forms ``W_q,h^T W_k,h`` (which tokens attend to which) and
``W_o,h W_v,h`` (what is written back) are invariant to any invertible change of basis
inside the head, and sorting heads makes them invariant to head permutations. Both are
H x H of rank d, so their singular values come from small d x d Gram matrices (never the H x H
matrix).
"""

from __future__ import annotations

import numpy as np

#: Singular values kept per head.
TOP_SV = 8


def _svals(ga: np.ndarray, gb: np.ndarray) -> np.ndarray:
    """Singular values of ``a @ b.T`` for tall ``a``, ``b`` (H x d), largest first, from
    their d x d Gram matrices ``ga = a^T a`` and ``gb = b^T b``.

    sigma^2 are the eigenvalues of ``Ga^(1/2) Gb Ga^(1/2)``: symmetric d x d eigenproblems
    only. Any factor ``L L^T = Ga`` gives the same spectrum as ``L^T Gb L``; Cholesky is
    1.8x cheaper than an eigendecomposition, which stays as the fallback for a
    rank-deficient ``Ga``. Taking Grams lets a GQA group's key/value Gram be computed
    once for all its query heads."""
    try:
        low = np.linalg.cholesky(ga)
    except np.linalg.LinAlgError:
        w, u = np.linalg.eigh(ga)
        low = u * np.sqrt(np.maximum(w, 0.0))
    ev = np.linalg.eigvalsh(low.T @ gb @ low)
    return np.sqrt(np.maximum(ev, 0.0))[::-1][:TOP_SV]


def head_spectra(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, o: np.ndarray, heads: int, kv_heads: int
) -> dict[str, list[list[float]]]:
    """Top singular values per head of the QK and OV circuits, heads sorted by the top
    value (descending). ``q``/``k``/``v`` are [out, hidden], ``o`` is [hidden, heads*d]."""
    d = q.shape[0] // heads
    group = max(1, heads // max(1, kv_heads))
    qk, ov = [], []
    kv_grams: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for h in range(heads):
        g = h // group
        if g not in kv_grams:
            kh = k[g * d : (g + 1) * d].astype(np.float64).T
            vh = v[g * d : (g + 1) * d].astype(np.float64).T
            kv_grams = {g: (kh.T @ kh, vh.T @ vh)}  # groups are contiguous: keep one
        gk, gv = kv_grams[g]
        qh = q[h * d : (h + 1) * d].astype(np.float64).T
        oh = o[:, h * d : (h + 1) * d].astype(np.float64)
        qk.append([float(f"{x:.6g}") for x in _svals(qh.T @ qh, gk)])
        ov.append([float(f"{x:.6g}") for x in _svals(oh.T @ oh, gv)])
    return {
        "qk": sorted(qk, key=lambda s: -s[0] if s else 0.0),
        "ov": sorted(ov, key=lambda s: -s[0] if s else 0.0),
    }


def head_circuits(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    o: np.ndarray,
    heads: int,
    kv_heads: int,
    dims: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per head, in head order, the QK circuit ``W_q,h^T W_k,h`` and the OV circuit
    ``W_o,h W_v,h`` restricted to the hidden dimensions ``dims`` (flattened, one row per
    head): two *different* descriptions of each head in the residual-stream basis, for the
    head-matching test. Both are unchanged by any invertible change of basis inside a head
    (so by RoPE-compatible rotations as well) and move with the head when heads are
    permuted; a GQA query head uses its group's key/value rows."""
    d = q.shape[0] // heads
    group = max(1, heads // max(1, kv_heads))
    qd, kd, vd = (x[:, dims].astype(np.float64) for x in (q, k, v))
    od = o[dims].astype(np.float64)
    qk, ov = [], []
    for h in range(heads):
        g = h // group
        qk.append((qd[h * d : (h + 1) * d].T @ kd[g * d : (g + 1) * d]).reshape(-1))
        ov.append((od[:, h * d : (h + 1) * d] @ vd[g * d : (g + 1) * d]).reshape(-1))
    return _unit_rms(np.asarray(qk)), _unit_rms(np.asarray(ov))


def _unit_rms(x: np.ndarray) -> np.ndarray:
    """Rows scaled to RMS 1: matching correlates rows (scale-free), and the fingerprint
    stores float16, whose range small products would underflow."""
    rms = np.sqrt(np.mean(np.square(x), axis=1, keepdims=True))
    return np.asarray(x / np.maximum(rms, 1e-30), dtype=np.float32)
