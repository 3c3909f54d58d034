"""Scan fixtures: a small collection of tiny llama-style HF directories built with numpy
(real safetensors files, real config and tokenizer), one of them truncated."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modelkin_dev.synth import tokenizers
from modelkin_dev.synth.hfdir import StreamWriter
from modelkin_dev.synth.specs import LlamaSpec


def write_llama(out: Path, seed: int, spec: LlamaSpec | None = None) -> Path:
    """A randomly initialised llama-style HF directory (seeded, so rebuilt identically)."""
    spec = spec or LlamaSpec()
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, i, v = spec.hidden_size, spec.intermediate_size, spec.vocab_size
    kv = spec.num_key_value_heads * spec.head_dim

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    tensors = {
        "model.embed_tokens.weight": w(v, h),
        "lm_head.weight": w(v, h),
        "model.norm.weight": np.ones(h, np.float32),
    }
    for layer in range(spec.num_hidden_layers):
        p = f"model.layers.{layer}."
        tensors |= {
            p + "self_attn.q_proj.weight": w(h, h),
            p + "self_attn.k_proj.weight": w(kv, h),
            p + "self_attn.v_proj.weight": w(kv, h),
            p + "self_attn.o_proj.weight": w(h, h),
            p + "mlp.gate_proj.weight": w(i, h),
            p + "mlp.up_proj.weight": w(i, h),
            p + "mlp.down_proj.weight": w(h, i),
            p + "input_layernorm.weight": np.ones(h, np.float32),
            p + "post_attention_layernorm.weight": np.ones(h, np.float32),
        }
    (out / "config.json").write_text(json.dumps(spec.config(), indent=2, sort_keys=True))
    writer = StreamWriter(out / "model.safetensors")
    for name in sorted(tensors):
        writer.add(name, tensors[name])
    writer.close()
    tokenizers.write("llama", out)
    return out


@pytest.fixture(scope="session")
def collection_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four good models in a two-level tree and one truncated model."""
    root = tmp_path_factory.mktemp("collection")
    write_llama(root / "acme" / "alpha", 1)
    write_llama(root / "acme" / "beta", 2)
    write_llama(root / "zeta" / "gamma", 3, LlamaSpec(num_hidden_layers=2))
    write_llama(root / "zeta" / "delta", 4, LlamaSpec(hidden_size=32, intermediate_size=96))
    bad = write_llama(root / "broken", 5) / "model.safetensors"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    return root


@pytest.fixture
def collection(collection_template: Path, tmp_path: Path) -> Path:
    """A private copy of the collection (tests modify it)."""
    dst = tmp_path / "models"
    shutil.copytree(collection_template, dst)
    return dst


@pytest.fixture
def fingerprint_bytes() -> Callable[[Path], dict[str, bytes]]:
    """Name -> bytes of every fingerprint file in an output directory."""

    def read(out: Path) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted((out / "fingerprints").iterdir())}

    return read
