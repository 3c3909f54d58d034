"""Test 1: exact and near-exact identity, and whether a difference is a *conversion*.

Equal file digests mean the same bytes; equal per-tensor digests (full mode) or bitwise
equal seeded samples mean the same weights. Otherwise each shared role's difference is
checked against what a format conversion can leave (rules named in the evidence):

* ``quantization-grid``: one side's values lie on a quantization lattice (fingerprint v3
  ``grid``: 16-value blocks on ``offset + step * k``) and the RMS difference is at most
  :data:`GRID_SLACK` x the rounding error of that lattice, ``step / sqrt(12)``. Quantizing
  leaves this trace; Gaussian noise and training never put weights on a lattice, and a
  requantized noisy copy differs by far more than one rounding.
* ``float-precision``: the relative RMS difference is within bfloat16 round-off
  (:data:`PRECISION_REL_RMSE`); float16 round-off is invisible (samples are stored as
  float16), so an f16/bf16/f32 conversion lands here or is bitwise equal.

A pair is ``converted`` when every shared role is explained, no shared role changed shape
and every per-layer role exists in both (exporters may drop non-layer heads such as BERT's
pooler, which ONNX exports of the encoder leave out). Differences that are small but not
explained (``near``: light fine-tuning, noise) are *derived*, not conversions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import sample
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import P_FLOOR

#: Largest relative RMS difference (per role) still called "near": reported only.
NEAR_EXACT_REL_RMSE = 0.15
#: Share of a role's checked blocks that must lie on a lattice for it to count as quantized
#: (measured: 1.0 for Q4_0/Q8_0/per-row int8 round trips stored in float32, 0.0 for trained
#: and noised weights, float16-stored included).
GRID_SHARE = 0.5
#: RMS difference allowed, in units of the lattice's rounding error step/sqrt(12): rounding
#: to the nearest level gives 1.0 (measured 0.98-1.0 on Q4_0/Q8_0); 2 leaves room for
#: scale search (k-quants) and requantization of an already quantized model.
GRID_SLACK = 2.0
#: bfloat16 keeps 8 significant bits: round-off is at most 2^-9 relative, so the relative
#: RMS difference of a bf16 conversion stays below 2^-8.
PRECISION_REL_RMSE = 2.0**-8


def _rmse(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(RMS of ``a - b``, RMS of ``a``) in float64."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return float(np.sqrt(np.mean(np.square(a64 - b64)))), float(np.sqrt(np.mean(np.square(a64))))


def _grid_bound(*roles: dict[str, Any]) -> float | None:
    """Rounding error (RMS) of the coarsest lattice either side lies on, or None."""
    steps = [
        float(g["step_rms"])
        for r in roles
        if isinstance(g := r.get("grid"), dict)
        and g.get("step_rms") is not None
        and float(g.get("on_grid") or 0.0) >= GRID_SHARE
    ]
    return max(steps) / math.sqrt(12.0) if steps else None


def explain(s_role: dict[str, Any], c_role: dict[str, Any], a: np.ndarray, b: np.ndarray) -> str:
    """Which conversion rule explains the difference of one role's samples: ``exact``,
    ``quantization-grid``, ``float-precision``, or ``unexplained``."""
    if np.array_equal(a, b):
        return "exact"
    diff, ref = _rmse(a, b)
    bound = _grid_bound(s_role, c_role)
    if bound is not None and diff <= GRID_SLACK * bound:
        return "quantization-grid"
    if ref > 0 and diff / ref <= PRECISION_REL_RMSE:
        return "float-precision"
    return "unexplained"


def identity_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    sf = {k: str(v.get("sha256") or "") for k, v in s.files.items()}
    cf = {k: str(v.get("sha256") or "") for k, v in c.files.items()}
    files_equal = (
        bool(sf)
        and all(sf.values())
        and all(cf.values())
        and sorted(sf.values()) == sorted(cf.values())
    )
    tensors_equal = bool(s.tensors) and s.tensors == c.tensors
    only = set(s.roles) ^ set(c.roles)
    layer_roles_shared = not any(
        (s.roles.get(k) or c.roles.get(k) or {}).get("layer") is not None for k in only
    )
    worst = 0.0
    bitwise = layer_roles_shared
    compared = 0
    rules: dict[str, int] = {}
    unexplained: list[str] = []
    for key in sorted(set(s.roles) & set(c.roles)):
        if s.roles[key]["shape"] != c.roles[key]["shape"]:
            bitwise = False
            worst = math.inf
            unexplained.append(key)
            continue
        a, b = sample(s, key), sample(c, key)
        compared += 1
        rule = explain(s.roles[key], c.roles[key], a, b)
        rules[rule] = rules.get(rule, 0) + 1
        if rule != "exact":
            bitwise = False
        if rule == "unexplained":
            unexplained.append(key)
        diff, ref = _rmse(a, b)
        rel = diff / ref if ref > 0 else (0.0 if diff == 0 else math.inf)
        worst = max(worst, rel)
    explained = layer_roles_shared and compared > 0 and not unexplained
    if files_equal:
        level = "files"
    elif tensors_equal or (bitwise and compared > 0):
        level = "weights"
    elif explained:
        level = "converted"
    elif layer_roles_shared and compared > 0 and worst <= NEAR_EXACT_REL_RMSE:
        level = "near"
    else:
        level = "none"
    exact = level in ("files", "weights")
    return Evidence(
        name="identity",
        statistic=None if math.isinf(worst) else worst,
        p_value=P_FLOOR if exact else None,
        p_floor=P_FLOOR if exact else None,
        p_method="exact (equal digests or bitwise-equal weights)" if exact else None,
        null={
            "description": "independently trained models never share a sha256 digest or "
            "bitwise-equal weights (probability ~2^-256)",
        },
        details={
            "level": level,
            "files_equal": files_equal,
            "tensor_digests_equal": tensors_equal,
            "samples_bitwise_equal": bitwise and compared > 0,
            "worst_relative_rmse": None if math.isinf(worst) else worst,
            "near_exact_threshold": NEAR_EXACT_REL_RMSE,
            "roles_compared": compared,
            "rules": rules,
            "unexplained_roles": unexplained[:8],
            "roles_in_one_only": sorted(only)[:8],
        },
        meaning="Same files, same weights, or the same weights up to what a format "
        "conversion leaves: the rounding of a quantization lattice (rule "
        "quantization-grid) or of a narrower float type (rule float-precision).",
        limits="Judged on the seeded samples in fast mode. Changes smaller than bfloat16 "
        "round-off, or smaller than one rounding step of a quantized copy's lattice, look "
        "like a conversion. Float16-stored dequantized 8-bit weights keep too little "
        "precision for the lattice test.",
        combine=exact,
    )
