"""Descriptive evidence: per-layer weight-distribution curves (arXiv 2507.03014).

The standard deviation of each role across depth forms a curve that training leaves
characteristic. The curves are compared at the *real* layers of the shallower model (the
deeper model's curve is read at the same relative depths): interpolated points are never
counted as data. Models trained with the same recipe have similar curves too, so no valid
null for "independent training" exists: this evidence is shown, never combined and never
used for a verdict (it has no p-value). Only positive agreement would point to derivation,
so the naive iid Fisher-z tail shown for scale is one-sided.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import layer_kinds, num_layers, role_key
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import fisher_z, pearson, upper

#: Fewest real layers for a curve with a shape.
MIN_LAYERS = 3

_LIMITS = (
    "Descriptive only, never counted: models trained with the same recipe also have "
    "similar curves, so no p-value for derivation exists."
)


def curve(fp: Fingerprint, kp: str) -> list[float]:
    out = []
    for i in range(num_layers(fp)):
        r = fp.roles.get(role_key(i, kp))
        out.append(float(r["stats"]["std"]) if r and r["stats"].get("std") is not None else np.nan)
    return out


def _at(y: list[float], n: int) -> np.ndarray:
    """Curve ``y`` read at ``n`` evenly spaced relative depths (``n <= len(y)``)."""
    a = np.asarray(y, dtype=np.float64)
    return np.interp(np.linspace(0, 1, n), np.linspace(0, 1, len(a)), a)


def _skip(why: str) -> Evidence:
    return Evidence(
        name="depth_profile",
        statistic=None,
        p_value=None,
        null={"description": "none valid (descriptive)"},
        details={"skipped": why},
        meaning="Shape of weight spread across depth.",
        limits=_LIMITS,
        combine=False,
    )


def profile_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    kinds = sorted(set(layer_kinds(s)) & set(layer_kinds(c)))
    n = min(num_layers(s), num_layers(c))
    if n < MIN_LAYERS:
        return _skip(f"fewer than {MIN_LAYERS} layers in one model: no curve to compare")
    xs, ys, curves = [], [], {}
    for k in kinds:
        a, b = curve(s, k), curve(c, k)
        if np.isnan(a).any() or np.isnan(b).any():
            continue
        ra, rb = _at(a, n), _at(b, n)
        if ra.std() == 0 or rb.std() == 0:
            continue
        curves[k] = {"suspect": a, "candidate": b}
        xs.append((ra - ra.mean()) / ra.std())
        ys.append((rb - rb.mean()) / rb.std())
    if not xs:
        return _skip("no per-layer role with a varying curve in both models")
    r = pearson(np.concatenate(xs), np.concatenate(ys))
    m = sum(len(x) for x in xs)
    return Evidence(
        name="depth_profile",
        statistic=r,
        p_value=None,
        null={
            "description": "none valid: same-recipe models have similar curves (descriptive)",
            "points": m,
        },
        details={
            "roles": list(curves),
            "real_layers_compared": n,
            "naive_one_sided_p": upper(fisher_z(r, m)),
            "naive_p_note": "iid Fisher-z tail over the real layer points, for scale only; "
            "not a valid null for same-recipe models",
        },
        plot={"curves": curves},
        meaning="How the spread of each kind of weight changes with depth; derived models "
        "follow their parent's curve.",
        limits=_LIMITS,
        combine=False,
    )
