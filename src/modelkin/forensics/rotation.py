"""Rotation-invariant evidence: a residual stream rotated by an orthogonal matrix
(SliceGPT / QuaRot / SpinQuant "computational invariance").

Folding the norm scales into the adjacent matrices and multiplying every matrix that
reads or writes the residual stream by one random orthogonal ``Q`` leaves a pre-norm
transformer's outputs unchanged, and moves every weight: tests that assume a shared
hidden basis (parameters, layers, units, heads) see an unrelated model. Products in
which ``Q`` cancels do not move:

* **unit-by-token responses** (the test): an MLP unit's input row ``u`` (up, gate) or
  output column ``d`` (down) against the embedding rows ``E`` of shared tokens gives
  ``E u`` -- and ``(E Q)(Q^T u) = E u``. The same holds when the rotation also slices
  the hidden size (SliceGPT): both models' responses are indexed by tokens, not by
  hidden dimensions. Each model's first stored units (``a_full``/``b_full``) are
  described by their responses to the shared tokens through two *different* matrices,
  matched by linear assignment twice, and the agreement of the two matchings counted,
  as in :mod:`.units` (Zhu et al. 2025): under H0 (independent training) the candidate's
  units are exchangeable, and permuting them leaves the candidate's embeddings
  unchanged, so the agreement would be ~ Poisson(m/n); a rotated copy agrees on every
  unit. Independently trained models break that independence (their units respond to
  tokens alike: the null study measured an excess of small p-values), so the matching
  runs only behind a gate read from the embeddings alone: the shared tokens' embeddings
  must be an orthogonal image of each other (:data:`ROTATION_GATE`), which a rotated copy
  satisfies and independent models do not. Same widths only (a sliced width is not
  matched).
* **the token Gram matrix** ``E E^T`` over shared tokens (descriptive: independently
  trained models with the same data share much of their token geometry, e.g.
  correlation ~0.5, so this has no valid null and never decides).

What is named: when this test rejects independence but the basis-dependent tests do not,
the verdict says the residual stream was rotated (an orthogonal change of basis).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.hidden import shared_token_rows
from modelkin.forensics.stats import (
    METHOD_POISSON,
    P_FLOOR,
    PValue,
    bonferroni,
    pearson,
    poisson_tail,
)
from modelkin.forensics.units import MATCHED_UNITS, agreement

#: Layer pairs tried at most.
MAX_LAYER_PAIRS = 64
#: Units matched per layer pair (each model's first stored units).
ROTATION_UNITS = 128
#: The matching runs only when the shared tokens' embeddings (centred, unit norm) are an
#: orthogonal image of each other up to this relative residual. Independently trained
#: models share token geometry, and their units' token responses are alike enough that
#: the two matchings agree more than Poisson(m/n) (benchmarks/null_study.py: one-sided
#: KS p 2e-21 without this gate); their embeddings are far from an orthogonal image of
#: each other (residual 0.6-0.8), while a rotated copy gives ~0 (0.14 after 150 training
#: steps). The gate reads the embeddings only.
ROTATION_GATE = 0.3
#: The gate shrinks in proportion when the same fit to the *shuffled* tokens is below this
#: (few tokens in a wide hidden space: unrelated point sets fit well too, e.g. 0.41 for
#: 128 Gaussian points in 384 dimensions), so that it stays ~4x below unrelated geometry.
ROTATION_BASE = 1.0

_NAME = "rotation_matching"
_MEANING = (
    "MLP neurons respond to the same shared tokens in the same way in both models, "
    "whatever orthogonal change of basis (rotation) was applied to the residual stream."
)
_LIMITS = (
    "Needs shared tokens and full-width unit features (fingerprint v2+); compares each "
    "model's first stored units, so MLP units permuted *and* the residual stream rotated "
    "are not matched; norm scales folded into the MLP (SliceGPT) weaken but do not "
    "remove the signal."
)
_NULL = (
    "agreement of two matchings (up rows; gate rows or down columns, each as responses "
    "to the shared token embeddings) of exchangeable candidate units: Poisson(m/n) per "
    "layer pair; Bonferroni over the layer pairs tried"
)


def _skip(why: str) -> Evidence:
    return Evidence(
        name=_NAME,
        statistic=None,
        p_value=None,
        null={"description": _NULL},
        details={"skipped": why},
        meaning=_MEANING,
        limits=_LIMITS,
    )


def _full(u: dict[str, Any], hidden: int, where: str) -> tuple[np.ndarray, np.ndarray] | None:
    if "a_full" not in u or "b_full" not in u:
        return None
    a, b = unpack(u["a_full"], where), unpack(u["b_full"], where)
    if a.ndim != 2 or a.shape != b.shape or a.shape[1] != hidden:
        return None
    n = min(a.shape[0], ROTATION_UNITS)
    return a[:n].astype(np.float64), b[:n].astype(np.float64)


def gram_correlation(ts: np.ndarray, tc: np.ndarray) -> float:
    """Correlation of the off-diagonal cosine similarities of the shared tokens in the
    two models (rotation-invariant, descriptive)."""

    def cos(x: np.ndarray) -> np.ndarray:
        x = x - x.mean(axis=0, keepdims=True)
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return x @ x.T

    iu = np.triu_indices(ts.shape[0], 1)
    return pearson(cos(ts)[iu], cos(tc)[iu])


def orthogonal_fit(ts: np.ndarray, tc: np.ndarray) -> dict[str, Any] | None:
    """The orthogonal map taking the suspect's token rows onto the candidate's
    (Procrustes: ``Q = U V^T`` from the SVD of ``ts^T tc``), described: its relative
    residual, and how far it is from a (signed) permutation (the mean over rows of the
    largest ``|Q_ij|``: 1 for a permutation, ~``sqrt(2 ln H / H)`` for a random
    rotation; only when the shared tokens outnumber the hidden dimensions, else ``Q``
    is not determined). Both sides are centred and scaled to unit norm first. None when
    the widths differ."""
    if ts.shape[1] != tc.shape[1]:
        return None
    a, b = ts - ts.mean(axis=0), tc - tc.mean(axis=0)
    # scale-free: a copy may rescale its embeddings (folded norms, Gemma's sqrt(H))
    a = a / max(float(np.linalg.norm(a)), 1e-30)
    b = b / max(float(np.linalg.norm(b)), 1e-30)
    if ts.shape[0] <= ts.shape[1]:
        # Q is not determined; the residual is: |aQ - b|^2 = 2 - 2 |a^T b|_* for unit-norm
        # a, b, and a^T b = Qa (Ra Rb^T) Qb^T shares its singular values with the small
        # n x n matrix Ra Rb^T (thin QR of a^T and b^T): no H x H decomposition
        ra = np.asarray(np.linalg.qr(a.T)[1])
        rb = np.asarray(np.linalg.qr(b.T)[1])
        nuc = float(np.linalg.svd(ra @ rb.T, compute_uv=False).sum())
        return {"relative_residual": round(math.sqrt(max(0.0, 2.0 - 2.0 * nuc)), 4)}
    u, _sv, vt = np.linalg.svd(a.T @ b)
    q = u @ vt
    out: dict[str, Any] = {"relative_residual": round(float(np.linalg.norm(a @ q - b)), 4)}
    peak = float(np.abs(q).max(axis=1).mean())  # Q is determined: what kind of map
    out["permutation_likeness"] = round(peak, 4)
    out["kind"] = "rotation" if peak < 0.9 else "signed permutation"
    return out


def rotation_test(
    s: Fingerprint, c: Fingerprint, pairs: list[tuple[int, int]] | None = None
) -> Evidence:
    """``pairs``: layer pairs to try first (the layer alignment's map); every pair of
    stored layers when it gave none."""
    if s.seed != c.seed:
        return _skip("different seeds: different tokens were stored")
    rows_t = shared_token_rows(s, c)
    if rows_t is None:
        return _skip("too few shared tokens (the responses are indexed by tokens)")
    ts, tc = rows_t
    hs, hc = ts.shape[1], tc.shape[1]
    fit = orthogonal_fit(ts, tc)
    if fit is None:
        return _skip("hidden sizes differ: no orthogonal map between the token embeddings")
    # the same fit with the candidate's token rows shuffled: how well an orthogonal map
    # fits unrelated geometry of these sizes (with few tokens in a wide space, any two
    # point sets fit well); the gate asks for a fit far better than that
    shuffled = np.random.default_rng(s.seed).permutation(tc.shape[0])
    base = orthogonal_fit(ts, tc[shuffled])
    fit["shuffled_residual"] = base["relative_residual"] if base else None
    gate = ROTATION_GATE * min(1.0, float(fit["shuffled_residual"] or 0.0) / ROTATION_BASE)
    fit["gate"] = round(gate, 4)
    if fit["relative_residual"] > gate:
        ev = _skip(
            "the shared tokens' embeddings are not an orthogonal image of each other "
            f"(relative residual {fit['relative_residual']:.2f} > gate {gate:.2f}): not a "
            "rotated copy, and the unit responses of independently trained models are "
            "too alike for the matching null"
        )
        ev.details["orthogonal_fit"] = fit
        return ev
    feats: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]] = {"s": {}, "c": {}}
    for tag, fp, t, h in (("s", s, ts, hs), ("c", c, tc, hc)):
        for key, u in fp.units.items():
            got = _full(u, h, f"{tag} units") if key.isdigit() else None
            if got is not None:
                # responses of each unit to each shared token (rows: units)
                feats[tag][int(key)] = (got[0] @ t.T, got[1] @ t.T)
    if not feats["s"] or not feats["c"]:
        return _skip("no full-width unit features in one fingerprint")
    tried = [(i, j) for i, j in (pairs or []) if i in feats["s"] and j in feats["c"]]
    if not tried:
        tried = [(i, j) for i in sorted(feats["s"]) for j in sorted(feats["c"])]
    if len(tried) > MAX_LAYER_PAIRS:
        tried = [tried[round(x)] for x in np.linspace(0, len(tried) - 1, MAX_LAYER_PAIRS)]
    rows = []
    for i, j in tried:
        (sa, sb), (ca, cb) = feats["s"][i], feats["c"][j]
        k, m, moved = agreement(sa, sb, ca, cb)
        used = min(sa.shape[0], MATCHED_UNITS)
        mu = used / ca.shape[0] if used <= ca.shape[0] else ca.shape[0] / used
        rows.append(
            {
                "suspect_layer": i,
                "candidate_layer": j,
                "fixed_points": k,
                "units": m,
                "p": poisson_tail(k, mu),
                "moved": moved,
            }
        )
    best = max(rows, key=lambda r: r["fixed_points"])
    return Evidence(
        name=_NAME,
        statistic=float(best["fixed_points"]),
        p_value=None,
        null={"description": _NULL, "tests": len(rows)},
        details={
            "pairs": rows,
            "shared_tokens": int(ts.shape[0]),
            "hidden": {"suspect": hs, "candidate": hc},
            "token_gram_correlation": round(gram_correlation(ts, tc), 4),
            "gram_note": "descriptive: independently trained models share token geometry",
            "orthogonal_fit": fit,
        },
        plot={
            "bars": [
                [
                    f"L{r['suspect_layer']}~L{r['candidate_layer']}",
                    r["fixed_points"] / max(1, r["units"]),
                ]
                for r in rows
            ]
        },
        meaning=_MEANING,
        limits=_LIMITS,
    ).set_p(PValue(bonferroni([r["p"] for r in rows]), P_FLOOR, METHOD_POISSON))
