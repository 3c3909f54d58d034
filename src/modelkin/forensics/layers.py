"""Test 4: layer alignment between models of possibly different depths.

Every layer of the suspect is compared with every layer of the candidate on the per-layer
roles they share (seed positions do not depend on the layer index, so layer i and layer j
are sampled at the same cells). Each role of a layer pair is tested against its own
permutation null (the candidate's sampled hidden dimensions permuted: exact permutation
mean and variance, normal tail; see :mod:`.params`), and a pair's roles are combined by
Rüger's rule (a majority must agree). The best monotone (non-decreasing) map, found by
dynamic programming on the roles' median z, tolerates pruned, every-other-layer and
duplicated blocks. p-value: Bonferroni over all layer pairs.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import layer_kinds, num_layers, role_key, sample
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.numerics import norm_sf_array
from modelkin.forensics.params import residual_axis
from modelkin.forensics.stats import (
    ASYMPTOTIC_FLOOR,
    METHOD_ASYMPTOTIC,
    PValue,
    agreement_rank,
    bonferroni,
    permutation_floor,
)

#: A pair enters the map only when its median z exceeds this (a score of z - MAP_Z).
MAP_Z = 6.0


def monotone_map(score: np.ndarray) -> list[tuple[int, int]]:
    """Pairs (i, j), i increasing, j non-decreasing, maximising the sum of positive
    scores (each suspect layer maps to at most one candidate layer)."""
    n, m = score.shape
    dp = np.zeros((n + 1, m + 1))
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            dp[i, j] = max(dp[i - 1, j], dp[i, j - 1], dp[i - 1, j] + score[i - 1, j - 1])
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        if dp[i, j] == dp[i, j - 1]:
            j -= 1
        elif dp[i, j] == dp[i - 1, j]:
            i -= 1
        else:
            pairs.append((i - 1, j - 1))
            i -= 1
    return sorted(pairs)


def _units(samples: list[np.ndarray], axis: int) -> np.ndarray:
    """Stacked samples as ``[layer, unit, feature]`` with the exchangeable (hidden) axis
    second, each centred by its global mean."""
    x = np.stack([np.asarray(v, dtype=np.float64) for v in samples])
    x = x - x.mean(axis=(1, 2), keepdims=True)
    return x if axis == 0 else np.swapaxes(x, 1, 2)


def _kind_z(xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(permutation z, Pearson r) of every layer pair for one role kind: ``T = trace(C)``
    with ``C[u, v]`` = unit ``u`` of the suspect's layer times unit ``v`` of the
    candidate's, against the exact moments of ``sum_u C[u, pi(u)]``.

    ``C`` itself (layers x layers x units x units: 25 MB and seconds of work for a 28-layer
    model) is never formed: its trace, sum, row and column means and sum of squares follow
    from each layer's feature Gram matrix ``X^T X`` and mean unit, and the doubly centred
    sum of squares is the two-way decomposition ``sum C^2 - n sum r_u^2 - n sum k_v^2 +
    n^2 g^2``. Where that difference loses more than half its digits to cancellation, the
    pair is recomputed directly."""
    la, n, f = xa.shape
    lb = xb.shape[0]
    t = xa.reshape(la, n * f) @ xb.reshape(lb, n * f).T
    ga = np.matmul(xa.transpose(0, 2, 1), xa).reshape(la, f * f)
    gb = np.matmul(xb.transpose(0, 2, 1), xb).reshape(lb, f * f)
    ma, mb = xa.mean(axis=1), xb.mean(axis=1)  # mean unit of each layer
    total = ga @ gb.T  # sum over u, v of C[u, v]^2
    g = ma @ mb.T  # grand mean of C
    outer_b = (mb[:, :, None] * mb[:, None, :]).reshape(lb, f * f)
    outer_a = (ma[:, :, None] * ma[:, None, :]).reshape(la, f * f)
    rows = ga @ outer_b.T  # sum_u r_u^2 = mb^T Ga mb
    cols = outer_a @ gb.T  # sum_v k_v^2 = ma^T Gb ma
    mean = n * g
    ss = total - n * rows - n * cols + n * n * g * g
    for i, j in zip(*np.nonzero(ss < 1e-8 * np.maximum(total, 1e-300)), strict=True):
        c = xa[i] @ xb[j].T
        d = c - c.mean(axis=1, keepdims=True) - c.mean(axis=0, keepdims=True) + c.mean()
        ss[i, j] = float((d * d).sum())
    sd = np.sqrt(np.maximum(ss / max(1, n - 1), 0.0))
    z = np.where(sd > 0, (t - mean) / np.where(sd > 0, sd, 1.0), 0.0)
    na = np.sqrt((xa * xa).sum(axis=(1, 2)))
    nb = np.sqrt((xb * xb).sum(axis=(1, 2)))
    den = np.outer(na, nb)
    r = np.where(den > 0, t / np.where(den > 0, den, 1.0), 0.0)
    return z, r


def similarity(
    s: Fingerprint, c: Fingerprint
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(median z, mean r, Rüger p) matrices over all layer pairs, and the role kinds
    used."""
    sk, ck = layer_kinds(s), layer_kinds(c)
    kinds = sorted(
        k for k in sk if ck.get(k) == sk[k] and residual_axis(k.split(".")[0]) is not None
    )
    ns, nc = num_layers(s), num_layers(c)
    zs: list[np.ndarray] = []
    rs: list[np.ndarray] = []
    ps: list[np.ndarray] = []
    used: list[str] = []
    for k in kinds:
        axis = residual_axis(k.split(".")[0])
        ia = [i for i in range(ns) if _has(s, i, k, sk[k])]
        jb = [j for j in range(nc) if _has(c, j, k, sk[k])]
        if axis is None or not ia or not jb or sk[k][axis] < 8:
            continue
        xa = _units([sample(s, role_key(i, k)) for i in ia], axis)
        xb = _units([sample(c, role_key(j, k)) for j in jb], axis)
        if xa.shape[1:] != xb.shape[1:]:
            continue
        zk, rk = _kind_z(xa, xb)
        z, r, p = np.zeros((ns, nc)), np.zeros((ns, nc)), np.ones((ns, nc))
        z[np.ix_(ia, jb)] = zk
        r[np.ix_(ia, jb)] = rk
        p[np.ix_(ia, jb)] = np.maximum(permutation_floor(xa.shape[1]), norm_sf_array(zk))
        zs.append(z)
        rs.append(r)
        ps.append(p)
        used.append(k)
    if not zs:
        return np.zeros((ns, nc)), np.zeros((ns, nc)), np.ones((ns, nc)), []
    need = min(agreement_rank(len(zs)), len(zs))  # Rüger's rule, vectorised
    pp = np.minimum(1.0, np.sort(np.stack(ps), axis=0)[need - 1] * len(zs) / need)
    return np.median(np.stack(zs), axis=0), np.mean(np.stack(rs), axis=0), pp, used


def _has(fp: Fingerprint, layer: int, kind: str, shape: tuple[int, ...]) -> bool:
    r = fp.roles.get(role_key(layer, kind))
    return r is not None and tuple(r["shape"]) == shape


def layer_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    if s.seed == c.seed:
        z, r, pp, kinds = similarity(s, c)
    else:
        z, r, pp, kinds = np.zeros((0, 0)), np.zeros((0, 0)), np.ones((0, 0)), []
    if not kinds:
        return Evidence(
            name="layer_alignment",
            statistic=None,
            p_value=None,
            null={"description": "per-role permutation null, Rüger over roles, Bonferroni"},
            details={
                "skipped": "no per-layer role of the same shape in both models"
                if s.seed == c.seed
                else "fingerprints use different seeds: samples differ"
            },
            meaning="Which layer of one model corresponds to which layer of the other.",
            limits="Needs per-layer roles of equal shapes.",
        )
    pairs = monotone_map(z - MAP_Z)
    p = bonferroni([float(x) for x in pp.reshape(-1)])
    # Same-index pairs only (a partial map arises when units were permuted: not surgery).
    identity_map = all(i == j for i, j in pairs)
    return Evidence(
        name="layer_alignment",
        statistic=float(z.max()),
        p_value=None,
        null={
            "description": "per layer pair and role: aligned-sample correlation against "
            "random permutations of the candidate's sampled hidden dimensions (exact "
            "permutation moments, normal tail); roles combined by Rüger's rule (a majority "
            "must agree); Bonferroni over all layer pairs",
            "tests": int(pp.size),
            "roles": len(kinds),
        },
        details={
            "map": [[i, j, float(r[i, j]), float(z[i, j])] for i, j in pairs],
            "identity_map": identity_map,
            "suspect_layers": int(z.shape[0]),
            "candidate_layers": int(z.shape[1]),
            "roles": kinds,
            "statistic": "largest median permutation z of a layer pair",
        },
        plot={"matrix_r": r.round(4).tolist(), "map": [[i, j] for i, j in pairs]},
        meaning="Layers inherited from a common parent stay correlated, even when layers "
        "were dropped, duplicated or re-ordered in depth; the map shows which.",
        limits="Heavily retrained layers lose the signal; permuted units hide it.",
    ).set_p(
        PValue(
            p,
            min(1.0, ASYMPTOTIC_FLOOR * pp.size * len(kinds) / agreement_rank(len(kinds))),
            f"Bonferroni over layer pairs of Rüger-combined {METHOD_ASYMPTOTIC}s",
        )
    )
