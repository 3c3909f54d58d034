"""Test 5: per-layer weight-distribution curves (arXiv 2507.03014).

The standard deviation of each role across depth forms a curve that training leaves
characteristic. The curves of the two models are resampled to a common depth, z-scored
and correlated. Descriptive only: models trained with the same recipe have similar curves
too, so no valid null for "independent training" exists and this test does not enter the
combined p-value; the correlation's p-value under a naive iid null is shown for scale.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import layer_kinds, num_layers, role_key
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import fisher_z, pearson, two_sided


def curve(fp: Fingerprint, kp: str) -> list[float]:
    out = []
    for i in range(num_layers(fp)):
        r = fp.roles.get(role_key(i, kp))
        out.append(float(r["stats"]["std"]) if r and r["stats"].get("std") is not None else np.nan)
    return out


def _resample(y: list[float], n: int) -> np.ndarray:
    a = np.asarray(y, dtype=np.float64)
    if len(a) == 1:
        return np.full(n, a[0])
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(a)), a)


def profile_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    kinds = sorted(set(layer_kinds(s)) & set(layer_kinds(c)))
    n = max(num_layers(s), num_layers(c))
    xs, ys, curves = [], [], {}
    for k in kinds:
        a, b = curve(s, k), curve(c, k)
        if np.isnan(a).any() or np.isnan(b).any() or n < 2:
            continue
        ra, rb = _resample(a, n), _resample(b, n)
        curves[k] = {"suspect": a, "candidate": b}
        xs.append((ra - ra.mean()) / (ra.std() or 1.0))
        ys.append((rb - rb.mean()) / (rb.std() or 1.0))
    if not xs:
        return Evidence(
            name="depth_profile",
            statistic=None,
            p_value=None,
            null={"description": "none valid (descriptive)"},
            details={"skipped": "no per-layer role in both models"},
            meaning="Shape of weight spread across depth.",
            limits="Descriptive only.",
            combine=False,
        )
    r = pearson(np.concatenate(xs), np.concatenate(ys))
    m = sum(len(x) for x in xs)
    return Evidence(
        name="depth_profile",
        statistic=r,
        p_value=two_sided(fisher_z(r, m)),
        null={
            "description": "naive iid Fisher z of the curve correlation (for scale only; "
            "not a valid null for same-recipe models)",
            "points": m,
        },
        details={"roles": list(curves)},
        plot={"curves": curves},
        meaning="How the spread of each kind of weight changes with depth; derived models "
        "follow their parent's curve.",
        limits="Models trained with the same recipe also have similar curves: descriptive, "
        "not counted in the verdict.",
        combine=False,
    )
