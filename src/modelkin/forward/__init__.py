"""Numpy forward passes of transformer models read from their weights.

Depends only on :mod:`modelkin.io` (readers) and :mod:`modelkin.arch` (role maps): any
format modelkin reads (safetensors, HF directories, GGUF, ONNX initializers) runs through
the same code, one layer's weights in memory at a time. Families: llama, mistral, qwen2,
qwen3, phi3, gemma 1-3 (decoders), gpt2, bert and roberta (encoders).
:func:`run` returns per-block hidden states (and optional logits over chosen vocabulary
rows); :mod:`modelkin.forensics.activations` compares them between two models.
"""

from __future__ import annotations

from modelkin.forward.run import Activations, gather_rows, run
from modelkin.forward.spec import SUPPORTED, ForwardSpec, UnsupportedModel, forward_spec

__all__ = [
    "SUPPORTED",
    "Activations",
    "ForwardSpec",
    "UnsupportedModel",
    "forward_spec",
    "gather_rows",
    "run",
]
