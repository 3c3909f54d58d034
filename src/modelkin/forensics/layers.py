"""Test 4: layer alignment between models of possibly different depths.

Every layer of the suspect is compared with every layer of the candidate on the per-layer
roles they share (seed positions do not depend on the layer index, so layer i and layer j
are sampled at the same cells). Each pair gets a Stouffer z over its roles; the best
monotone (non-decreasing) map, found by dynamic programming, tolerates pruned,
every-other-layer and duplicated blocks. p-value: Bonferroni min-p over all pairs.
"""

from __future__ import annotations

import math

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import layer_kinds, num_layers, role_key, sample
from modelkin.forensics.background import inflation, misaligned_correlations
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import bonferroni, two_sided

#: A pair enters the map only when its z exceeds this (a score of z - MAP_Z).
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


def _unit_rows(samples: list[np.ndarray]) -> np.ndarray:
    x = np.stack([np.asarray(v, dtype=np.float64).reshape(-1) for v in samples])
    x -= x.mean(axis=1, keepdims=True)
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300))


def similarity(s: Fingerprint, c: Fingerprint) -> tuple[np.ndarray, np.ndarray, list[str], float]:
    """(z matrix, mean-r matrix, role kinds used, inflation) over all layer pairs."""
    sk, ck = layer_kinds(s), layer_kinds(c)
    kinds = sorted(k for k in sk if ck.get(k) == sk[k])
    ns, nc = num_layers(s), num_layers(c)
    z = np.zeros((ns, nc))
    r = np.zeros((ns, nc))
    if not kinds or ns == 0 or nc == 0:
        return z, r, kinds, 1.0
    a = {
        (i, k): sample(s, role_key(i, k))
        for i in range(ns)
        for k in kinds
        if role_key(i, k) in s.roles and tuple(s.roles[role_key(i, k)]["shape"]) == sk[k]
    }
    b = {
        (j, k): sample(c, role_key(j, k))
        for j in range(nc)
        for k in kinds
        if role_key(j, k) in c.roles and tuple(c.roles[role_key(j, k)]["shape"]) == sk[k]
    }
    bg: list[float] = []
    n_cells = 0
    for i in range(min(ns, nc)):
        for k in kinds:
            if (i, k) in a and (i, k) in b:
                bg.extend(misaligned_correlations(a[i, k], b[i, k]))
                n_cells = max(n_cells, a[i, k].size)
    infl = inflation(bg, n_cells)
    zsum = np.zeros((ns, nc))
    rsum = np.zeros((ns, nc))
    count = np.zeros((ns, nc))
    for k in kinds:
        # One matrix product per role kind: rows are unit-normalised centred samples.
        ia = [i for i in range(ns) if (i, k) in a]
        jb = [j for j in range(nc) if (j, k) in b]
        if not ia or not jb:
            continue
        rk = _unit_rows([a[i, k] for i in ia]) @ _unit_rows([b[j, k] for j in jb]).T
        n = a[ia[0], k].size
        zk = np.arctanh(np.clip(rk, -0.999999, 0.999999)) * math.sqrt(max(0, n - 3) / infl)
        rsum[np.ix_(ia, jb)] += rk
        zsum[np.ix_(ia, jb)] += zk
        count[np.ix_(ia, jb)] += 1
    has = count > 0
    z[has] = zsum[has] / np.sqrt(count[has])
    r[has] = rsum[has] / count[has]
    return z, r, kinds, infl


def layer_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    z, r, kinds, infl = similarity(s, c) if s.seed == c.seed else (None, None, [], 1.0)
    if not kinds or z is None or r is None:
        return Evidence(
            name="layer_alignment",
            statistic=None,
            p_value=None,
            null={"description": "Stouffer z of per-role Fisher z, Bonferroni over pairs"},
            details={
                "skipped": "no per-layer role of the same shape in both models"
                if s.seed == c.seed
                else "fingerprints use different seeds: samples differ"
            },
            meaning="Which layer of one model corresponds to which layer of the other.",
            limits="Needs per-layer roles of equal shapes.",
        )
    pairs = monotone_map(z - MAP_Z)
    ps = [two_sided(float(x)) for x in z.reshape(-1)]
    # Same-index pairs only (a partial map arises when units were permuted: not surgery).
    identity_map = all(i == j for i, j in pairs)
    return Evidence(
        name="layer_alignment",
        statistic=float(z.max()),
        p_value=bonferroni(ps),
        null={
            "description": "per pair: Stouffer combination of the Fisher z of each shared "
            "role (background-deflated); N(0,1) under H0; Bonferroni over all pairs",
            "inflation": infl,
            "tests": len(ps),
        },
        details={
            "map": [[i, j, float(r[i, j]), float(z[i, j])] for i, j in pairs],
            "identity_map": identity_map,
            "suspect_layers": int(z.shape[0]),
            "candidate_layers": int(z.shape[1]),
            "roles": kinds,
        },
        plot={"matrix_r": r.round(4).tolist(), "map": [[i, j] for i, j in pairs]},
        meaning="Layers inherited from a common parent stay correlated, even when layers "
        "were dropped, duplicated or re-ordered in depth; the map shows which.",
        limits="Heavily retrained layers lose the signal; permuted units hide it.",
    )
