"""Test 3b: attention-head matching (the head-level companion of :mod:`.units`).

Each head is stored twice, by two *different* circuits on the same seeded hidden
dimensions (fingerprint v3, :func:`modelkin.fingerprint.invariants.head_circuits`): its QK
circuit ``W_q,h^T W_k,h`` and its OV circuit ``W_o,h W_v,h``. Both are unchanged by any
change of basis inside a head and move with the head when heads are permuted (GQA groups
included). Heads of the suspect are matched to heads of the candidate twice, by linear
assignment on the correlation of each description. Under H0 (independent training) the
candidate's heads are exchangeable and the two matchings are unrelated, so the number of
heads on which they agree is distributed as the fixed points of a uniformly random
permutation (exact rencontres law, summed over layers) — the argument of Zhu et al. 2025
("Independence Tests for Language Models") applied to heads. A derived model's heads agree
under both matchings, whatever their order; the matched order says whether heads moved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import METHOD_EXACT, P_FLOOR, PValue, fixed_points_tail
from modelkin.forensics.units import match

#: Layer pairs matched per comparison (head matching is cheap: heads are few).
MAX_PAIRS = 8
#: Share of agreeing heads that must sit at another index for "heads permuted".
PERMUTED_FRACTION = 0.5

_NULL = "agreement of two independent matchings of exchangeable heads: fixed points of a "
_NULL += "uniformly random permutation per layer pair (exact rencontres law, summed)"
_MEANING = (
    "Two different descriptions of each attention head (what it attends to, what it "
    "writes) point to the same partner head: the models share attention heads, even if "
    "their order was shuffled."
)
_LIMITS = (
    "Needs the same hidden size and basis (a permuted residual stream is not undone "
    "here) and the same head count; with few heads per layer the p-value is modest "
    "(4 heads in 4 layers: at best ~3e-6)."
)


def _skip(why: str) -> Evidence:
    return Evidence(
        name="head_matching",
        statistic=None,
        p_value=None,
        null={"description": _NULL},
        details={"skipped": why},
        meaning=_MEANING,
        limits=_LIMITS,
    )


def head_test(
    s: Fingerprint,
    c: Fingerprint,
    pairs: list[tuple[int, int]] | None = None,
    hidden_permuted: bool = False,
) -> Evidence:
    """``pairs``: aligned layer pairs (default: same index); ``hidden_permuted``: the unit
    test found a permuted residual stream, on which the stored circuits do not line up."""
    if s.seed != c.seed or s.structure.get("hidden_size") != c.structure.get("hidden_size"):
        return _skip("different seeds or hidden sizes: head circuits are not comparable")
    if hidden_permuted:
        return _skip("residual-stream basis permuted: head circuits are not re-indexed")
    have = [
        (i, j)
        for i, j in (pairs or [(int(k), int(k)) for k in s.units])
        if "circuits" in s.units.get(str(i), {}) and "circuits" in c.units.get(str(j), {})
    ]
    if not have:
        return _skip("no aligned layer with head circuits in both fingerprints (v3)")
    if len(have) > MAX_PAIRS:
        have = [have[round(x)] for x in np.linspace(0, len(have) - 1, MAX_PAIRS)]
    rows: list[dict[str, Any]] = []
    for i, j in have:
        a, b = s.units[str(i)]["circuits"], c.units[str(j)]["circuits"]
        sq, so = unpack(a["qk"], "suspect heads"), unpack(a["ov"], "suspect heads")
        cq, co = unpack(b["qk"], "candidate heads"), unpack(b["ov"], "candidate heads")
        if not (sq.shape == cq.shape == so.shape == co.shape) or sq.ndim != 2:
            continue
        p1 = match(sq.astype(np.float64), cq.astype(np.float64))
        p2 = match(so.astype(np.float64), co.astype(np.float64))
        agree = np.flatnonzero(p1 == p2)
        moved = float(np.mean(p1[agree] != agree)) if agree.size else 0.0
        rows.append(
            {
                "suspect_layer": i,
                "candidate_layer": j,
                "heads": int(sq.shape[0]),
                "fixed_points": int(agree.size),
                "moved": moved,
            }
        )
    if not rows:
        return _skip("head circuits of different shapes (head counts differ)")
    k = sum(r["fixed_points"] for r in rows)
    p = fixed_points_tail(k, [r["heads"] for r in rows])
    agreeing = [r for r in rows if r["fixed_points"] >= max(2, r["heads"] // 2)]
    permuted = bool(agreeing) and float(np.median([r["moved"] for r in agreeing])) >= (
        PERMUTED_FRACTION
    )
    return Evidence(
        name="head_matching",
        statistic=float(k),
        p_value=None,
        null={"description": _NULL, "mean": float(len(rows)), "tests": len(rows)},
        details={"pairs": rows, "head_order": "permuted" if permuted else "kept"},
        plot={
            "bars": [
                [f"L{r['suspect_layer']}~L{r['candidate_layer']}", r["fixed_points"] / r["heads"]]
                for r in rows
            ]
        },
        meaning=_MEANING,
        limits=_LIMITS,
    ).set_p(PValue(p, P_FLOOR, METHOD_EXACT))
