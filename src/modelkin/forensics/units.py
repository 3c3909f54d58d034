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

When the residual-stream basis itself was permuted, :func:`hidden_permutation` recovers it
from the embeddings; the suspect's full-width unit features (fingerprint v2) are then
re-indexed onto the candidate's stored hidden dimensions before matching.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.fingerprint.sampling import hidden_subset
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.hidden import hidden_permutation
from modelkin.forensics.numerics import linear_sum_assignment
from modelkin.forensics.stats import METHOD_POISSON, P_FLOOR, PValue, bonferroni, poisson_tail

#: Layer pairs matched per comparison (linear assignment is the slowest step).
MAX_PAIRS = 3
#: Suspect units matched per layer pair (the rest adds cost, not power).
MATCHED_UNITS = 256
#: Fraction of hidden dims the recovered permutation must move (or of agreeing units that
#: sit at another index) to count as "permuted".
PERMUTED_FRACTION = 0.5


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-by-row Pearson correlations of two unit-feature matrices."""
    x = a - a.mean(axis=1, keepdims=True)
    y = b - b.mean(axis=1, keepdims=True)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return np.asarray(x @ y.T)


def match(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Partner of each row of ``a`` among the rows of ``b`` (linear assignment maximising
    the total correlation); -1 for rows left unmatched."""
    rows, cols = linear_sum_assignment(_corr(a, b), maximize=True)
    out = np.full(a.shape[0], -1)
    out[rows] = cols
    return out


def agreement(
    sa: np.ndarray, sb: np.ndarray, ca: np.ndarray, cb: np.ndarray
) -> tuple[int, int, float]:
    """(fixed points of the two matchings, units matched, share of the agreeing units
    whose partner sits at another index: near 1 when the units were permuted).

    Only the first :data:`MATCHED_UNITS` suspect units are matched (against all candidate
    units): rectangular assignment is fast, and the null adapts (Poisson(m / n))."""
    sa, sb = sa[:MATCHED_UNITS], sb[:MATCHED_UNITS]
    p1 = match(sa.astype(np.float64), ca.astype(np.float64))
    p2 = match(sb.astype(np.float64), cb.astype(np.float64))
    agree = np.flatnonzero((p1 == p2) & (p1 >= 0))
    moved = float(np.mean(p1[agree] != agree)) if agree.size else 0.0
    return int(agree.size), int(min(sa.shape[0], ca.shape[0])), moved


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
    basis = _basis(s, c)
    if basis is not None:
        su = {k: v for k, v in su.items() if "a_full" in v and "b_full" in v}
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
        ca, cb = unpack(b["a"], "candidate units"), unpack(b["b"], "candidate units")
        if basis is None:
            sa, sb = unpack(a["a"], "suspect units"), unpack(a["b"], "suspect units")
        else:
            fa = unpack(a["a_full"], "suspect units")
            fb = unpack(a["b_full"], "suspect units")
            dims = _suspect_dims(basis, ca.shape[1], s.seed)
            if dims is None or fa.ndim != 2 or fa.shape != fb.shape:
                continue
            if fa.shape[1] != basis.shape[0]:
                continue
            sa, sb = fa[:, dims], fb[:, dims]
        if sa.shape[1] != ca.shape[1] or sa.shape != sb.shape or ca.shape != cb.shape:
            continue
        k, n, moved = agreement(sa, sb, ca, cb)
        m = min(sa.shape[0], MATCHED_UNITS)
        mu = m / ca.shape[0] if m <= ca.shape[0] else ca.shape[0] / m
        rows.append(
            {
                "suspect_layer": i,
                "candidate_layer": j,
                "fixed_points": k,
                "units": n,
                "p": poisson_tail(k, mu),
                "moved": moved,
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
    # Unit order is judged on the layer pairs whose matchings clearly agree (>= half the
    # units): in the suspect's index order when copied as is, elsewhere when permuted.
    agreeing = [r for r in rows if r["fixed_points"] >= r["units"] / 2]
    permuted = bool(agreeing) and float(np.median([r["moved"] for r in agreeing])) >= (
        PERMUTED_FRACTION
    )
    return Evidence(
        name="unit_matching",
        statistic=float(best["fixed_points"]),
        p_value=None,
        null={
            "description": "agreement of two independent matchings of exchangeable units: "
            "Poisson(m/n) fixed points per layer pair (m suspect units matched into n); "
            "Bonferroni over layer pairs",
            "mean": 1.0,
            "tests": len(rows),
        },
        details={
            "pairs": rows,
            "hidden_basis": "permuted" if basis is not None else "shared",
            "unit_order": "permuted" if permuted else "kept",
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
        meaning="Two descriptions of the same neurons point to the same partner neurons: "
        "the models share neurons, even if their order was shuffled.",
        limits="A permuted hidden basis is undone via the embeddings (needs shared tokens); "
        "a rotation of the hidden space (not just a permutation) or retraining from "
        "scratch removes the signal; attention heads are matched by the head_matching test.",
    ).set_p(PValue(bonferroni([r["p"] for r in rows]), P_FLOOR, METHOD_POISSON))


def _basis(s: Fingerprint, c: Fingerprint) -> np.ndarray | None:
    """The recovered hidden permutation when it moves most dimensions, else None (the
    models share a basis, or it cannot be recovered: match on the stored dims as is)."""
    if not any("a_full" in v for v in s.units.values()):
        return None
    found = hidden_permutation(s, c)
    if found is None:
        return None
    pi, _quality = found
    moved = float(np.mean(pi != np.arange(pi.shape[0])))
    return pi if moved >= PERMUTED_FRACTION else None


def _suspect_dims(pi: np.ndarray, k: int, seed: int) -> np.ndarray | None:
    """Suspect hidden dims that map onto the candidate's stored (seeded) dims."""
    cand = hidden_subset(seed, pi.shape[0], k)
    if cand.shape[0] != k:
        return None
    inv = np.empty_like(pi)
    inv[pi] = np.arange(pi.shape[0])
    return np.asarray(inv[cand])
