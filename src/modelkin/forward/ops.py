"""Numpy building blocks of transformer forward passes, in float32.

Each function mirrors one operation of the reference implementations (Hugging Face
``transformers`` modelling code, llama.cpp for GGUF conventions) closely enough that
hidden states agree to float32 round-off; the tests check that against torch and
onnxruntime on real and tiny models. Nothing here reads files: weights come in as arrays.
"""

from __future__ import annotations

import math

import numpy as np

F32 = np.float32


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float, offset: float = 0.0) -> np.ndarray:
    """Root-mean-square norm over the last axis: ``x / rms(x) * (offset + w)``.

    ``offset`` is 1 for the Gemma family, whose checkpoints store ``w`` centred on 0
    (HF ``Gemma*RMSNorm`` computes ``x * (1 + w)``); 0 for llama, mistral, qwen."""
    var = np.mean(np.square(x, dtype=F32), axis=-1, keepdims=True, dtype=F32)
    return (x * (1.0 / np.sqrt(var + F32(eps)))).astype(F32) * (F32(offset) + w)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, eps: float) -> np.ndarray:
    """LayerNorm over the last axis (biased variance, as torch computes it)."""
    mu = np.mean(x, axis=-1, keepdims=True, dtype=F32)
    xc = x - mu
    var = np.mean(np.square(xc), axis=-1, keepdims=True, dtype=F32)
    y = xc * (1.0 / np.sqrt(var + F32(eps))) * w
    return y + b if b is not None else y


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``x @ w.T + b`` for ``nn.Linear`` weights ``[out, in]``."""
    y = x @ w.T
    return y + b if b is not None else y


def silu(x: np.ndarray) -> np.ndarray:
    # x * sigmoid(x), written to avoid overflow in exp for large negative x
    return (x * (0.5 * (1.0 + np.tanh(0.5 * x)))).astype(F32)


def gelu_tanh(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation (``gelu_pytorch_tanh`` / ``gelu_new``)."""
    c = F32(math.sqrt(2.0 / math.pi))
    return (0.5 * x * (1.0 + np.tanh(c * (x + F32(0.044715) * x * x * x)))).astype(F32)


def gelu_erf(x: np.ndarray) -> np.ndarray:
    """Exact GELU, ``0.5 x (1 + erf(x / sqrt 2))`` (BERT's ``gelu``)."""
    from scipy.special import erf

    return (0.5 * x * (1.0 + erf(x / F32(math.sqrt(2.0))))).astype(F32)


ACTIVATIONS = {
    "silu": silu,
    "swish": silu,
    "gelu": gelu_erf,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "gelu_tanh": gelu_tanh,
}


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def rope_tables(positions: np.ndarray, inv_freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin tables ``[t, head_dim]`` in the rotate-half layout (freqs repeated twice)."""
    freqs = np.outer(positions.astype(F32), inv_freq.astype(F32))
    emb = np.concatenate([freqs, freqs], axis=-1)
    return np.cos(emb).astype(F32), np.sin(emb).astype(F32)


def apply_rope(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotary embedding of ``x [heads, t, head_dim]`` in HF's rotate-half layout
    (llama.cpp's NEOX mode; the GGUF reader undoes the interleaved layout's row
    permutation, so one layout serves every format). Only the first ``cos.shape[-1]``
    dims rotate (partial rotary)."""
    rd = cos.shape[-1]
    xr, xp = x[..., :rd], x[..., rd:]
    half = rd // 2
    rot = np.concatenate([-xr[..., half:], xr[..., :half]], axis=-1)
    out = xr * cos + rot * sin
    return np.concatenate([out, xp], axis=-1) if xp.shape[-1] else out


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    scale: float,
    causal: bool,
    window: int | None = None,
    softcap: float | None = None,
    key_mask: np.ndarray | None = None,
) -> np.ndarray:
    """Scaled dot-product attention for one sequence.

    ``q [heads, t, d]``, ``k``/``v [kv_heads, t, d]`` (grouped-query: each KV head serves
    ``heads // kv_heads`` consecutive query heads); returns ``[t, heads * d_v]``.
    ``window`` limits each query to the last ``window`` keys (sliding-window layers);
    ``softcap`` applies ``c * tanh(s / c)`` to the scores (Gemma 2)."""
    heads, t, _ = q.shape
    group = heads // k.shape[0]
    if group > 1:
        k = np.repeat(k, group, axis=0)
        v = np.repeat(v, group, axis=0)
    s = (q @ k.transpose(0, 2, 1)) * F32(scale)
    if softcap:
        s = F32(softcap) * np.tanh(s / F32(softcap))
    allowed = np.ones((t, t), dtype=bool)
    if causal:
        allowed &= np.tril(allowed)
    if window is not None and window > 0:
        i = np.arange(t)
        allowed &= (i[:, None] - i[None, :]) < window
    if key_mask is not None:
        allowed &= key_mask[None, :]
    s = np.where(allowed[None], s, F32(-np.inf))
    p = softmax(s, axis=-1).astype(F32)
    out = p @ v  # [heads, t, d_v]
    return np.ascontiguousarray(out.transpose(1, 0, 2).reshape(t, -1))
