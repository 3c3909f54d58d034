"""Compact, deterministic encoding of small float arrays inside a JSON fingerprint.

Samples are stored as little-endian float16 (or uint32 for token hashes) in base64: half
precision keeps ~3 significant digits, far below the quantization error of the formats the
forensic tests compare across, and halves the size of the file.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError

_F16_MAX = 65504.0
_DTYPES = {"f16": "<f2", "u32": "<u4"}


def pack(a: np.ndarray, dtype: str = "f16") -> dict[str, Any]:
    """``a`` as ``{"dtype", "shape", "b64"}``; float16 values are clipped to its range."""
    if dtype == "f16":
        a = np.clip(np.nan_to_num(np.asarray(a, dtype=np.float64)), -_F16_MAX, _F16_MAX)
    arr = np.ascontiguousarray(np.asarray(a).astype(_DTYPES[dtype]))
    return {
        "dtype": dtype,
        "shape": list(arr.shape),
        "b64": base64.b64encode(arr.tobytes()).decode("ascii"),
    }


def unpack(d: Any, where: str) -> np.ndarray:
    """Inverse of :func:`pack`, validating every field (fingerprint files are input)."""
    if not isinstance(d, dict) or d.get("dtype") not in _DTYPES:
        raise ModelkinError(where, "malformed packed array (unknown dtype)")
    shape = d.get("shape")
    if not isinstance(shape, list) or not all(isinstance(x, int) and x >= 0 for x in shape):
        raise ModelkinError(where, "malformed packed array (bad shape)")
    try:
        raw = base64.b64decode(str(d.get("b64", "")), validate=True)
    except ValueError:
        raise ModelkinError(where, "malformed packed array (bad base64)") from None
    dt = np.dtype(_DTYPES[d["dtype"]])
    n = int(np.prod(shape)) if shape else 1
    if n * dt.itemsize != len(raw):
        raise ModelkinError(where, "malformed packed array (size does not match shape)")
    out = np.frombuffer(raw, dtype=dt).reshape(shape)
    return out.astype(np.float32) if d["dtype"] == "f16" else out.astype(np.uint32)
