"""Test 1: exact and near-exact identity.

Equal file digests mean the same bytes; equal per-tensor digests (full mode) or bitwise
equal seeded samples mean the same weights; samples equal up to quantization error mean a
format conversion or quantization round trip of the same weights.
"""

from __future__ import annotations

import math

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import sample
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import P_FLOOR

#: Largest relative RMS difference (per role) still called "equal up to quantization":
#: 4-bit k-quants reach ~0.1; fine-tuning usually moves weights further, but not always.
NEAR_EXACT_REL_RMSE = 0.15


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
    same_roles = set(s.roles) == set(c.roles)
    worst = 0.0
    bitwise = same_roles
    compared = 0
    for key in sorted(set(s.roles) & set(c.roles)):
        if s.roles[key]["shape"] != c.roles[key]["shape"]:
            bitwise = False
            worst = math.inf
            continue
        a, b = sample(s, key), sample(c, key)
        compared += 1
        if not np.array_equal(a, b):
            bitwise = False
        denom = float(np.sqrt(np.mean(np.square(a, dtype=np.float64))))
        diff = float(np.sqrt(np.mean(np.square(a - b, dtype=np.float64))))
        rel = diff / denom if denom > 0 else (0.0 if diff == 0 else math.inf)
        worst = max(worst, rel)
    near = same_roles and compared > 0 and worst <= NEAR_EXACT_REL_RMSE
    if files_equal:
        level = "files"
    elif tensors_equal or (bitwise and compared > 0):
        level = "weights"
    elif near:
        level = "near"
    else:
        level = "none"
    exact = level in ("files", "weights")
    return Evidence(
        name="identity",
        statistic=None if math.isinf(worst) else worst,
        p_value=P_FLOOR if exact else None,
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
        },
        meaning="Same files, same weights, or the same weights up to quantization error.",
        limits="Near-exactness is a threshold on sampled values: a very light fine-tune can "
        "look like a quantization round trip. In fast mode, weight identity is judged on "
        "the seeded samples; large files are hashed only in full mode.",
        combine=exact,
    )
