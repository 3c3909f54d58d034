"""Merges of HF safetensors directories, made by construction (the merge ground truth).

What mergekit users do to combine checkpoints of one architecture, written from the
published definitions (not from mergekit's code):

* ``linear`` — ``sum_i w_i P_i`` per tensor (model soups; task arithmetic when a base is
  given: ``B + sum_i w_i (P_i - B)``);
* ``slerp`` — spherical interpolation of two parents per tensor: with ``theta`` the angle
  between the flattened tensors (their normalised copies), ``sin((1-t) theta) / sin
  theta * A + sin(t theta) / sin theta * B``; nearly parallel tensors fall back to linear;
* ``ties`` — TIES-merging (Yadav et al., NeurIPS 2023) of task vectors ``P_i - B``: keep
  each vector's ``density`` fraction of largest magnitudes, elect each cell's sign by the
  sign of the weighted sum, average the weighted kept values that agree with it;
* ``dare`` — DARE (Yu et al., ICML 2024): drop each task-vector cell with probability
  ``1 - density`` and rescale the survivors by ``1 / density``, then add the weighted sum
  to the base.

Only floating-point tensors present with the same shape in every parent are merged; the
first parent supplies the config, tokenizer and every other tensor. The merge of real
checkpoints streams one tensor name at a time (memory: one tensor per parent).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir

METHODS = ("linear", "slerp", "ties", "dare")
#: Below this angle (radians) SLERP is numerically linear interpolation.
SLERP_EPS = 1e-4


def slerp(t: float, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spherical interpolation of the flattened ``a`` and ``b`` at ``t`` (0: ``a``)."""
    x, y = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    nx, ny = np.linalg.norm(x), np.linalg.norm(y)
    if nx == 0 or ny == 0:
        return ((1 - t) * x + t * y).reshape(a.shape)
    cos = float(np.clip(x @ y / (nx * ny), -1.0, 1.0))
    theta = float(np.arccos(cos))
    if theta < SLERP_EPS:
        return ((1 - t) * x + t * y).reshape(a.shape)
    s = np.sin(theta)
    return (np.sin((1 - t) * theta) / s * x + np.sin(t * theta) / s * y).reshape(a.shape)


def _trim(tau: np.ndarray, density: float) -> np.ndarray:
    """``tau`` with all but its ``density`` fraction of largest magnitudes set to zero."""
    k = round(density * tau.size)
    if k >= tau.size:
        return tau
    out = np.zeros_like(tau)
    if k <= 0:
        return out
    flat = np.abs(tau).ravel()
    keep = np.argpartition(flat, tau.size - k)[tau.size - k :]
    out.ravel()[keep] = tau.ravel()[keep]
    return out


def ties(
    base: np.ndarray, parents: Sequence[np.ndarray], w: Sequence[float], density: float
) -> np.ndarray:
    """TIES-merging of one tensor (see the module doc)."""
    b = base.astype(np.float64)
    taus = [wi * _trim(p.astype(np.float64) - b, density) for p, wi in zip(parents, w, strict=True)]
    stack = np.stack(taus)
    sign = np.sign(stack.sum(axis=0))
    agree = (np.sign(stack) == sign) & (stack != 0)
    n = agree.sum(axis=0)
    merged = np.where(n > 0, (stack * agree).sum(axis=0) / np.maximum(n, 1), 0.0)
    return np.asarray(b + merged)


def dare(
    base: np.ndarray,
    parents: Sequence[np.ndarray],
    w: Sequence[float],
    density: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """DARE of one tensor: random drop and rescale of each task vector, then a weighted sum."""
    b = base.astype(np.float64)
    out = b.copy()
    for p, wi in zip(parents, w, strict=True):
        keep = rng.random(p.shape) < density
        out += wi * np.where(keep, (p.astype(np.float64) - b) / density, 0.0)
    return out


def merge(
    parents: Sequence[Path],
    out: Path,
    method: str,
    weights: Sequence[float] | None = None,
    *,
    base: Path | None = None,
    t: float = 0.5,
    density: float = 0.3,
    seed: int = 0,
) -> Path:
    """Write the merge of the HF directories ``parents`` to ``out`` and return it.

    ``weights``: one per parent (default equal, summing to 1); ``t``: SLERP's
    interpolation point (two parents); ``base``: the common base of ``ties``/``dare``
    (required there, optional for ``linear``: task arithmetic); ``density``: the kept
    fraction of TIES/DARE; ``seed``: DARE's drop masks."""
    import json

    if method not in METHODS:
        raise ModelkinError("method", f"unknown merge method {method!r} ({', '.join(METHODS)})")
    if len(parents) < 2:
        raise ModelkinError("parents", "a merge needs at least two parents")
    if method == "slerp" and len(parents) != 2:
        raise ModelkinError("parents", "SLERP merges exactly two parents")
    if method in ("ties", "dare") and base is None:
        raise ModelkinError("base", f"{method} merges task vectors: give the common base")
    w = list(weights) if weights is not None else [1.0 / len(parents)] * len(parents)
    if len(w) != len(parents):
        raise ModelkinError("weights", "one weight per parent")
    out = Path(out)
    cfg = hfdir.read_config(parents[0])
    hfdir.copy_side_files(parents[0], out)
    others = [dict(hfdir.iter_tensors(p)) for p in parents[1:]]
    base_t = dict(hfdir.iter_tensors(base)) if base is not None else None
    with hfdir.StreamWriter(out / "model.safetensors") as wr:
        for name, a in hfdir.iter_tensors(parents[0]):
            rest = [o.get(name) for o in others]
            bt = base_t.get(name) if base_t is not None else None
            same = all(r is not None and r.shape == a.shape for r in rest)
            if not (np.issubdtype(a.dtype, np.floating) and same) or (
                base_t is not None and (bt is None or bt.shape != a.shape)
            ):
                wr.add(name, a)
                continue
            ps = [a, *(r for r in rest if r is not None)]
            if method == "slerp":
                m = slerp(t, ps[0], ps[1])
            elif method == "ties":
                assert bt is not None
                m = ties(bt, ps, w, density)
            elif method == "dare":
                assert bt is not None
                rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
                m = dare(bt, ps, w, density, rng)
            elif bt is not None:
                m = bt.astype(np.float64) + sum(
                    wi * (p.astype(np.float64) - bt) for p, wi in zip(ps, w, strict=True)
                )
            else:
                m = np.sum([wi * p.astype(np.float64) for p, wi in zip(ps, w, strict=True)], axis=0)
            wr.add(name, np.asarray(m).astype(a.dtype))
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
    return out
