"""Model fingerprints: compact, versioned, format-independent descriptions of a model.

A fingerprint is keyed by canonical role in HF orientation, so the fingerprints of one
model stored as safetensors, GGUF or ONNX agree within quantization error. See
:mod:`modelkin.fingerprint.build` for what is read and :mod:`modelkin.forensics` for the
tests that compare two fingerprints.
"""

from __future__ import annotations

from modelkin.fingerprint.build import fingerprint_model, fingerprint_source, load_or_fingerprint
from modelkin.fingerprint.model import FINGERPRINT_VERSION, Fingerprint

__all__ = [
    "FINGERPRINT_VERSION",
    "Fingerprint",
    "fingerprint_model",
    "fingerprint_source",
    "load_or_fingerprint",
]
