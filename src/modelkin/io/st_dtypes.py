"""Safetensors element types and how to decode them to float32.

The dtype names are those of the safetensors format (the ``Dtype`` enum of the reference
implementation, ``huggingface/safetensors``): ``BOOL``, ``F4``, ``F6_E2M3``, ``F6_E3M2``,
``U8``, ``I8``, ``F8_E5M2``, ``F8_E4M3``, ``F8_E8M0``, ``F8_E4M3FNUZ``, ``F8_E5M2FNUZ``,
``I16``, ``U16``, ``F16``, ``BF16``, ``I32``, ``U32``, ``F32``, ``C64``, ``F64``, ``I64``,
``U64``. Sizes are in *bits* because the MX types (``F4``, ``F6_*``) are packed below one
byte; the format requires a tensor's total bit count to be a whole number of bytes.

All multi-byte types are little-endian (safetensors spec). ``F8_E4M3`` is the OCP "FN"
variant (no infinities, one NaN), as in PyTorch's ``float8_e4m3fn``; ``F8_E8M0`` is the
OCP MX scale type (``float8_e8m0fnu``). ``F4`` is OCP MX E2M1 (MX spec v1.0, 5.3.3), two values per byte with
the first element in bits 3..0 and the second in bits 7..4, as PyTorch's
``Float4_e2m1fn_x2`` documents it; safetensors' F4 ``shape`` counts 4-bit elements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np


@dataclass(frozen=True)
class StDtype:
    """One safetensors element type: ``bits`` per element, the numpy dtype that views the
    stored bytes (None where the bytes need unpacking), and whether it is a float type."""

    name: str
    bits: int
    numpy: np.dtype | None
    floating: bool
    #: Why values of this type cannot be returned as float32, when they cannot.
    unreadable: str | None = None


def _d(name: str, bits: int, np_type: Any, floating: bool, why: str | None = None) -> StDtype:
    return StDtype(name, bits, np.dtype(np_type) if np_type is not None else None, floating, why)


DTYPES: dict[str, StDtype] = {
    d.name: d
    for d in (
        _d("BOOL", 8, np.bool_, False),
        _d("U8", 8, np.uint8, False),
        _d("I8", 8, np.int8, False),
        _d("I16", 16, "<i2", False),
        _d("U16", 16, "<u2", False),
        _d("I32", 32, "<i4", False),
        _d("U32", 32, "<u4", False),
        _d("I64", 64, "<i8", False),
        _d("U64", 64, "<u8", False),
        _d("F16", 16, "<f2", True),
        _d("BF16", 16, ml_dtypes.bfloat16, True),
        _d("F32", 32, "<f4", True),
        _d("F64", 64, "<f8", True),
        _d("F8_E4M3", 8, ml_dtypes.float8_e4m3fn, True),
        _d("F8_E5M2", 8, ml_dtypes.float8_e5m2, True),
        _d("F8_E4M3FNUZ", 8, ml_dtypes.float8_e4m3fnuz, True),
        _d("F8_E5M2FNUZ", 8, ml_dtypes.float8_e5m2fnuz, True),
        _d("F8_E8M0", 8, ml_dtypes.float8_e8m0fnu, True),
        _d("F4", 4, None, True),
        # The spec fixes the 6-bit types' size but not the order in which four values
        # share three bytes; guessing would silently produce wrong weights.
        _d("F6_E2M3", 6, None, True, "the 6-bit packing order is not defined by the format"),
        _d("F6_E3M2", 6, None, True, "the 6-bit packing order is not defined by the format"),
        _d("C64", 64, "<c8", False, "complex values have no float32 representation"),
    )
}


def decode(dtype: StDtype, raw: memoryview | bytes, count: int, skip: int = 0) -> np.ndarray:
    """Decode ``count`` elements of ``dtype`` from ``raw`` (after skipping ``skip``
    elements, used for sub-byte types whose row starts mid-byte) into a new float32 array.

    The caller has checked that ``raw`` holds enough bytes."""
    if dtype.name == "F4":
        packed = np.frombuffer(raw, dtype=np.uint8)
        codes = np.empty(packed.size * 2, dtype=np.uint8)
        codes[0::2] = packed & 0x0F
        codes[1::2] = packed >> 4
        return codes[skip : skip + count].view(ml_dtypes.float4_e2m1fn).astype(np.float32)
    if dtype.numpy is None:  # pragma: no cover - guarded by ``unreadable``
        raise ValueError(f"cannot decode {dtype.name}")
    view = np.frombuffer(raw, dtype=dtype.numpy, count=count + skip)[skip:]
    return view.astype(np.float32)
