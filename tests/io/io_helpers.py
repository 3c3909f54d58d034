"""Helpers for the io tests: write safetensors files byte by byte (valid or broken) and
small HF model directories with random weights."""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file


def raw_safetensors(
    header: Mapping[str, Any] | bytes, data: bytes = b"", length: int | None = None
) -> bytes:
    """Bytes of a safetensors file with the given header (a dict is JSON-encoded) and data;
    ``length`` overrides the 8-byte header length field."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    n = len(h) if length is None else length
    return struct.pack("<Q", n) + h + data


def write_raw(
    path: Path, header: Mapping[str, Any] | bytes, data: bytes = b"", length: int | None = None
) -> Path:
    path.write_bytes(raw_safetensors(header, data, length))
    return path


def save_tensors(
    path: Path, tensors: Mapping[str, np.ndarray], metadata: dict[str, str] | None = None
) -> Path:
    """A real safetensors file written by the reference implementation."""
    save_file({k: np.array(v, order="C") for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


def llama_tensors(
    rng: np.random.Generator,
    layers: int = 2,
    hidden: int = 16,
    heads: int = 4,
    kv_heads: int = 2,
    inter: int = 24,
    vocab: int = 50,
    qk_norm: bool = False,
    sandwich: bool = False,
    tied: bool = False,
) -> dict[str, np.ndarray]:
    """Random weights with HF llama-family names (qwen3 with ``qk_norm``, gemma2/3 with
    ``sandwich`` norms)."""
    hd = hidden // heads

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    t: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": r(vocab, hidden),
        "model.norm.weight": r(hidden),
    }
    if not tied:
        t["lm_head.weight"] = r(vocab, hidden)
    for i in range(layers):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = r(heads * hd, hidden)
        t[p + "self_attn.k_proj.weight"] = r(kv_heads * hd, hidden)
        t[p + "self_attn.v_proj.weight"] = r(kv_heads * hd, hidden)
        t[p + "self_attn.o_proj.weight"] = r(hidden, heads * hd)
        t[p + "mlp.gate_proj.weight"] = r(inter, hidden)
        t[p + "mlp.up_proj.weight"] = r(inter, hidden)
        t[p + "mlp.down_proj.weight"] = r(hidden, inter)
        t[p + "input_layernorm.weight"] = r(hidden)
        t[p + "post_attention_layernorm.weight"] = r(hidden)
        if qk_norm:
            t[p + "self_attn.q_norm.weight"] = r(hd)
            t[p + "self_attn.k_norm.weight"] = r(hd)
        if sandwich:
            t[p + "pre_feedforward_layernorm.weight"] = r(hidden)
            t[p + "post_feedforward_layernorm.weight"] = r(hidden)
    return t


def write_hf_dir(
    d: Path, tensors: Mapping[str, np.ndarray], config: Mapping[str, Any] | None
) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    save_tensors(d / "model.safetensors", tensors)
    if config is not None:
        (d / "config.json").write_text(json.dumps(config))
    return d
