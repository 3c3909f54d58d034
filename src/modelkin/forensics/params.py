"""Test 2: direct parameter similarity of aligned samples, under a permutation null.

The seeded samples of the same role (same kind, same shape, same positions) are
correlated. The null is not assumed, it is generated (Zhu et al. 2025): independently
trained models are exchangeable along their residual-stream (hidden) axis, so the
correlation of role ``A`` with role ``B`` is compared with its distribution when ``B``'s
sampled hidden dimensions are permuted (:func:`~modelkin.forensics.stats.
permutation_test`; exact Monte Carlo down to 1/1000, exact permutation moments beyond).
This is what makes vocabulary-indexed matrices safe: tokens a model never saw collapse
onto one shared direction of its hidden space, so their rows repeat and 2,048 sampled
cells carry only ~64 effective values, but that repetition is present under every
permutation too. Each role gets its own null (no pooled inflation).

One matrix never decides alone: the roles' p-values are combined by Rüger's rule with
a majority of roles required to agree (twice the median p; valid under any dependence).
Global roles are always compared; per-layer roles only when both models have the same
depth (otherwise layer alignment, test 4, pairs the layers).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import comparable, num_layers, sample
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import (
    ASYMPTOTIC_FLOOR,
    METHOD_ASYMPTOTIC,
    PValue,
    agreement_rank,
    pearson,
    permutation_test,
    ruger,
)

#: Kinds whose *rows* run along the residual stream (they write it); every other
#: comparable 2-D kind reads the residual stream along its columns (attention and MLP
#: inputs, token/position embeddings and the output matrix, indexed by vocabulary).
ROW_RESIDUAL_KINDS = frozenset({"attn_o", "mlp_down"})
#: Kinds along whose columns the hidden units are known to be exchangeable.
COLUMN_RESIDUAL_KINDS = frozenset(
    {
        "attn_q",
        "attn_k",
        "attn_v",
        "mlp_up",
        "mlp_gate",
        "embed_tokens",
        "embed_positions",
        "embed_token_type",
        "lm_head",
        "pooler",
    }
)

_NULL = (
    "per role: correlation of the aligned samples against the same correlation with the "
    "candidate's sampled hidden (residual-stream) dimensions randomly permuted "
    "(exchangeable under independent training; 999 seeded Monte Carlo permutations, "
    "normal tail of the exact permutation moments beyond them); roles combined by "
    "Rüger's rule (a majority of roles must agree: twice the median p)"
)
_MEANING = (
    "Correlation of weights at the same positions, against what the same weights give "
    "with one model's hidden dimensions shuffled; a majority of the matrices must agree."
)
_LIMITS = (
    "Needs equal shapes; permuted units or a rotated hidden space hide it (see "
    "unit_matching, head_matching); one matrix alone never decides."
)


def role_pairs(s: Fingerprint, c: Fingerprint) -> list[str]:
    """Role keys comparable in both fingerprints at the same position."""
    same_depth = num_layers(s) == num_layers(c)
    out = []
    for key, r in s.roles.items():
        o = c.roles.get(key)
        if o is None or not comparable(r) or r["shape"] != o["shape"]:
            continue
        if r["layer"] is not None and not same_depth:
            continue
        out.append(key)
    return sorted(out)


def residual_axis(kind: str) -> int | None:
    """Axis of a role's sample along which hidden units are exchangeable (0 rows, 1
    columns), or None when unknown (the role is then not tested)."""
    if kind in ROW_RESIDUAL_KINDS:
        return 0
    if kind in COLUMN_RESIDUAL_KINDS:
        return 1
    return None


def cross_products(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """``C[j, k]`` = inner product of slice ``j`` of ``a`` and slice ``k`` of ``b`` along
    the exchangeable ``axis`` (both centred by their global mean, as in Pearson's r):
    the correlation with ``b``'s units permuted by ``pi`` is ``sum_j C[j, pi(j)]``
    divided by a constant."""
    x = np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)
    y = np.asarray(b, dtype=np.float64).reshape(b.shape[0], -1)
    x = x - x.mean()
    y = y - y.mean()
    if axis == 0:
        return np.asarray(x @ y.T)
    return np.asarray(x.T @ y)


def role_test(a: np.ndarray, b: np.ndarray, kind: str, key: str) -> dict[str, Any] | None:
    """One role's permutation test: ``{"r", "z", "p", "p_method", "units", ...}`` or None
    when the role has no known exchangeable axis or too few units."""
    axis = residual_axis(kind)
    if axis is None or a.ndim != 2 or a.shape != b.shape or a.shape[axis] < 8:
        return None
    c = cross_products(a, b, axis)
    z, p = permutation_test(c, seed=zlib.crc32(key.encode()))
    return {
        "role": key,
        "r": pearson(a, b),
        "n": int(a.size),
        "units": int(a.shape[axis]),
        "axis": "rows" if axis == 0 else "columns",
        "z": z,
        "p": p.value,
        "p_floor": p.floor,
        "p_method": p.method,
    }


def parameter_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    keys = role_pairs(s, c) if s.seed == c.seed else []
    rows: list[dict[str, Any]] = []
    untested: list[str] = []
    for key in keys:
        row = role_test(sample(s, key), sample(c, key), str(s.roles[key]["kind"]), key)
        if row is None:
            untested.append(key)
        else:
            rows.append(row)
    if len(rows) < 2:
        if s.seed != c.seed:
            why = f"fingerprints use different seeds ({s.seed} vs {c.seed}): samples differ"
        elif not rows:
            why = "no role with the same shape at the same position"
        else:
            why = f"only one comparable role ({rows[0]['role']}): one matrix never decides alone"
        return Evidence(
            name="parameter_similarity",
            statistic=None,
            p_value=None,
            null={"description": _NULL},
            details={"skipped": why, "roles": rows},
            meaning=_MEANING,
            limits=_LIMITS,
        )
    ps = [r["p"] for r in rows]
    need = agreement_rank(len(rows))
    p = ruger(ps, need)
    floors = sorted(r["p_floor"] for r in rows)
    floor = min(1.0, floors[need - 1] * len(rows) / need)
    method = f"Rüger combination ({need} of {len(rows)} roles) of per-role permutation tests"
    if p <= floor:
        method += f"; {METHOD_ASYMPTOTIC}" if floor <= 10 * ASYMPTOTIC_FLOOR else ""
    ranked = sorted(rows, key=lambda x: x["p"])
    return Evidence(
        name="parameter_similarity",
        statistic=float(np.median([r["z"] for r in rows])),
        p_value=None,
        null={
            "description": _NULL,
            "tests": len(rows),
            "agreeing_roles_required": need,
        },
        details={
            "roles": rows,
            "untested_roles": untested,
            "strongest_role": ranked[0]["role"],
            "statistic": "median permutation z over roles",
        },
        plot={"bars": [[r["role"], r["r"]] for r in rows]},
        meaning=_MEANING,
        limits=_LIMITS,
    ).set_p(PValue(p, floor, method))
