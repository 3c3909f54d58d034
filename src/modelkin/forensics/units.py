"""Test 3: permutation-robust unit matching (in the spirit of Zhu et al. 2025,
"Independence Tests for Language Models").

For a pair of layers, MLP units of the suspect are matched to units of the candidate twice,
by linear assignment (``scipy.optimize.linear_sum_assignment``) on the correlation of two
*different* descriptions of each unit: its up-projection row, and its gate row (gated
MLPs) or down-projection column (BERT). Under H0 (independent training) units are
exchangeable, so the two matchings are independent uniform-like permutations and their
agreement (fixed points of pi1^-1 o pi2) is ~ Poisson(1) — Poisson(m / n) when m of the
suspect's units are matched into the candidate's n. Under derivation both matchings
recover the same correspondence — even after the units were permuted.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import bonferroni, poisson_tail

#: Layer pairs matched per comparison (linear assignment is the slowest step).
MAX_PAIRS = 3
#: Suspect units matched per layer pair (the rest adds cost, not power).
MATCHED_UNITS = 256


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-by-row Pearson correlations of two unit-feature matrices."""
    x = a - a.mean(axis=1, keepdims=True)
    y = b - b.mean(axis=1, keepdims=True)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return np.asarray(x @ y.T)


def _matching(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows, cols = linear_sum_assignment(_corr(a, b), maximize=True)
    out = np.full(a.shape[0], -1)
    out[rows] = cols
    return out


def agreement(sa: np.ndarray, sb: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> tuple[int, int]:
    """(fixed points of the two matchings, units matched).

    Only the first :data:`MATCHED_UNITS` suspect units are matched (against all candidate
    units): rectangular assignment is fast, and the null adapts (Poisson(m / n))."""
    sa, sb = sa[:MATCHED_UNITS], sb[:MATCHED_UNITS]
    p1 = _matching(sa.astype(np.float64), ca.astype(np.float64))
    p2 = _matching(sb.astype(np.float64), cb.astype(np.float64))
    return int(np.sum((p1 == p2) & (p1 >= 0))), int(min(sa.shape[0], ca.shape[0]))


def unit_test(
    s: Fingerprint, c: Fingerprint, pairs: list[tuple[int, int]] | None = None
) -> Evidence:
    """``pairs``: layer pairs to test (default: the same index, or all pairs when the
    layer alignment gave none)."""
    su, cu = s.units, c.units
    ok = (
        su
        and cu
        and s.seed == c.seed
        and s.structure.get("hidden_size") == c.structure.get("hidden_size")
    )
    if not ok:
        why = (
            "no unit features in one fingerprint"
            if not (su and cu)
            else ("different seeds or hidden sizes: unit features are not comparable")
        )
        return Evidence(
            name="unit_matching",
            statistic=None,
            p_value=None,
            null={"description": "fixed points of two matchings ~ Poisson(1)"},
            details={"skipped": why},
            meaning="Whether MLP neurons correspond one to one, whatever their order.",
            limits="Needs the same hidden basis (a rotated residual stream defeats it).",
        )
    if not pairs:
        pairs = [(i, i) for i in range(64)]
    tested = [(i, j) for i, j in pairs if str(i) in su and str(j) in cu]
    if not tested:
        tested = [(int(i), int(j)) for i in su for j in cu]
    if len(tested) > MAX_PAIRS:  # spread over depth; each pair costs two assignments
        tested = [tested[round(x)] for x in np.linspace(0, len(tested) - 1, MAX_PAIRS)]
    rows = []
    for i, j in tested:
        a, b = su[str(i)], cu[str(j)]
        if a["pair"] != b["pair"]:
            continue
        sa, sb = unpack(a["a"], "suspect units"), unpack(a["b"], "suspect units")
        ca, cb = unpack(b["a"], "candidate units"), unpack(b["b"], "candidate units")
        if sa.shape[1] != ca.shape[1] or sa.shape != sb.shape or ca.shape != cb.shape:
            continue
        k, n = agreement(sa, sb, ca, cb)
        m = min(sa.shape[0], MATCHED_UNITS)
        mu = m / ca.shape[0] if m <= ca.shape[0] else ca.shape[0] / m
        rows.append(
            {
                "suspect_layer": i,
                "candidate_layer": j,
                "fixed_points": k,
                "units": n,
                "p": poisson_tail(k, mu),
            }
        )
    if not rows:
        return Evidence(
            name="unit_matching",
            statistic=None,
            p_value=None,
            null={"description": "fixed points of two matchings ~ Poisson(1)"},
            details={"skipped": "no layer pair with matching unit features"},
            meaning="Whether MLP neurons correspond one to one, whatever their order.",
            limits="Needs the same hidden basis.",
        )
    best = max(rows, key=lambda r: r["fixed_points"])
    return Evidence(
        name="unit_matching",
        statistic=float(best["fixed_points"]),
        p_value=bonferroni([r["p"] for r in rows]),
        null={
            "description": "agreement of two independent matchings of exchangeable units: "
            "Poisson(m/n) fixed points per layer pair (m suspect units matched into n); "
            "Bonferroni over layer pairs",
            "mean": 1.0,
            "tests": len(rows),
        },
        details={"pairs": rows},
        plot={
            "bars": [
                [
                    f"L{r['suspect_layer']}~L{r['candidate_layer']}",
                    r["fixed_points"] / max(1, r["units"]),
                ]
                for r in rows
            ]
        },
        meaning="Two descriptions of the same neurons point to the same partner neurons: "
        "the models share neurons, even if their order was shuffled.",
        limits="A rotation of the hidden space (not just a permutation) or retraining from "
        "scratch removes the signal; only MLP units are matched, not attention heads.",
    )
