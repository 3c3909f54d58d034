"""Fixtures: transformed copies of minilm-l6 (numpy + safetensors) and cached fingerprints.

Each transform is function-preserving or a known perturbation, so its ground truth is known:
permuted units/heads, dropped layers, Gaussian noise, int8 round trip (derived); random
initialisations with different seeds (independent controls).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from modelkin.fingerprint import Fingerprint, fingerprint_model

Weights = dict[str, np.ndarray]


def _copy_dir(src: Path, dst: Path, weights: Weights) -> Path:
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy(f, dst / f.name)
    save_file(weights, str(dst / "model.safetensors"))
    return dst


def permute_units(w: Weights, seed: int = 7) -> Weights:
    """Permute MLP neurons and attention heads of every layer (function-preserving)."""
    rng = np.random.default_rng(seed)
    out = dict(w)
    layers = {int(m.group(1)) for k in w if (m := re.match(r"encoder\.layer\.(\d+)\.", k))}
    for i in layers:
        p = f"encoder.layer.{i}."
        perm = rng.permutation(w[p + "intermediate.dense.weight"].shape[0])
        out[p + "intermediate.dense.weight"] = w[p + "intermediate.dense.weight"][perm]
        out[p + "intermediate.dense.bias"] = w[p + "intermediate.dense.bias"][perm]
        out[p + "output.dense.weight"] = w[p + "output.dense.weight"][:, perm]
        heads, hd = 12, 32
        hp = rng.permutation(heads)
        rows = (hp[:, None] * hd + np.arange(hd)[None, :]).reshape(-1)
        for n in ("query", "key", "value"):
            out[p + f"attention.self.{n}.weight"] = w[p + f"attention.self.{n}.weight"][rows]
            out[p + f"attention.self.{n}.bias"] = w[p + f"attention.self.{n}.bias"][rows]
        out[p + "attention.output.dense.weight"] = w[p + "attention.output.dense.weight"][:, rows]
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def permute_heads(w: Weights, seed: int = 11) -> Weights:
    """Permute only the attention heads of every layer (function-preserving: query, key
    and value rows and the output projection's columns move together by head block)."""
    rng = np.random.default_rng(seed)
    out = dict(w)
    layers = {int(m.group(1)) for k in w if (m := re.match(r"encoder\.layer\.(\d+)\.", k))}
    for i in layers:
        p = f"encoder.layer.{i}."
        hp = rng.permutation(12)
        rows = (hp[:, None] * 32 + np.arange(32)[None, :]).reshape(-1)
        for n in ("query", "key", "value"):
            for t in ("weight", "bias"):
                out[p + f"attention.self.{n}.{t}"] = w[p + f"attention.self.{n}.{t}"][rows]
        out[p + "attention.output.dense.weight"] = w[p + "attention.output.dense.weight"][:, rows]
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def q4_round_trip(w: Weights) -> Weights:
    """ggml Q4_0 quantize/dequantize of every 2-D weight (what a GGUF Q4_0 export and
    re-import does)."""
    from gguf import GGMLQuantizationType, quants

    q = GGMLQuantizationType.Q4_0
    return {
        k: quants.dequantize(quants.quantize(v, q), q).astype(np.float32)
        if v.dtype == np.float32 and v.ndim == 2 and v.shape[1] % 32 == 0
        else v
        for k, v in w.items()
    }


def drop_layers(w: Weights, drop: set[int]) -> Weights:
    """Remove whole layers and renumber the rest."""
    keep = sorted(
        {int(m.group(1)) for k in w if (m := re.match(r"encoder\.layer\.(\d+)\.", k))} - drop
    )
    new = {old: i for i, old in enumerate(keep)}
    out: Weights = {}
    for k, v in w.items():
        m = re.match(r"encoder\.layer\.(\d+)\.(.*)", k)
        if m is None:
            out[k] = v
        elif int(m.group(1)) in new:
            out[f"encoder.layer.{new[int(m.group(1))]}.{m.group(2)}"] = v
    return out


def add_noise(w: Weights, scale: float, seed: int = 3) -> Weights:
    rng = np.random.default_rng(seed)
    return {
        k: (v + rng.normal(0, scale * float(v.std()) + 1e-8, v.shape)).astype(v.dtype)
        if v.dtype == np.float32
        else v
        for k, v in w.items()
    }


def int8_round_trip(w: Weights) -> Weights:
    """Per-row symmetric int8 quantization and back (as a quantize/convert pipeline does)."""
    out: Weights = {}
    for k, v in w.items():
        if v.dtype != np.float32 or v.ndim != 2:
            out[k] = v
            continue
        s = np.abs(v).max(axis=1, keepdims=True) / 127.0 + 1e-12
        out[k] = (np.round(v / s).clip(-127, 127) * s).astype(np.float32)
    return out


def extend_vocab(w: Weights, extra: int = 200, seed: int = 5) -> Weights:
    """Append freshly initialised embedding rows (vocabulary extension)."""
    rng = np.random.default_rng(seed)
    out = dict(w)
    e = w["embeddings.word_embeddings.weight"]
    new = rng.normal(0, float(e.std()), (extra, e.shape[1])).astype(np.float32)
    out["embeddings.word_embeddings.weight"] = np.concatenate([e, new])
    return out


def random_init(w: Weights, seed: int) -> Weights:
    """A fresh BERT initialisation (normal 0.02, norms 1, biases 0) of the same shapes."""
    rng = np.random.default_rng(seed)
    out: Weights = {}
    for k, v in w.items():
        if v.dtype != np.float32:
            out[k] = v
        elif "LayerNorm.weight" in k:
            out[k] = np.ones_like(v)
        elif v.ndim == 1:
            out[k] = np.zeros_like(v)
        else:
            out[k] = rng.normal(0, 0.02, v.shape).astype(np.float32)
    return out


@pytest.fixture(scope="session")
def l6_weights(real_models: dict[str, Path]) -> Weights:
    return load_file(str(real_models["minilm-l6"] / "model.safetensors"))


@pytest.fixture(scope="session")
def variants(
    real_models: dict[str, Path], l6_weights: Weights, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """name -> HF directory of each transformed copy."""
    base = tmp_path_factory.mktemp("variants")
    src = real_models["minilm-l6"]
    makers: dict[str, Callable[[Weights], Weights]] = {
        "permuted": permute_units,
        "dropped": lambda w: drop_layers(w, {1, 3}),
        "noised": lambda w: add_noise(w, 0.5),
        "int8": int8_round_trip,
        "q4": q4_round_trip,
        "heads": permute_heads,
        "light": lambda w: add_noise(w, 0.01),
        "extended": extend_vocab,
        "rand1": lambda w: random_init(w, 1),
        "rand2": lambda w: random_init(w, 2),
    }
    return {n: _copy_dir(src, base / n, f(l6_weights)) for n, f in makers.items()}


class FingerprintCache:
    """Fingerprints computed once per session."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self.paths = paths
        self.cache: dict[str, Fingerprint] = {}

    def __call__(self, name: str) -> Fingerprint:
        if name not in self.cache:
            self.cache[name] = fingerprint_model(self.paths[name])
        return self.cache[name]


@pytest.fixture(scope="session")
def fps(real_models: dict[str, Path], variants: dict[str, Path]) -> FingerprintCache:
    return FingerprintCache({**real_models, **variants})
