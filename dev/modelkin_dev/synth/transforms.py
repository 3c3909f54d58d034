"""Derivatives made by surgery on HF safetensors directories (llama and BERT).

Each transform reads a model directory tensor by tensor (memory bounded by the largest
tensor), writes a new directory (config and tokenizer updated where the surgery changes
them) and returns its path. They are the "transform" half of the lineage ground truth:
what a copier would do to hide or adapt a model.

Function-preserving (the network computes the same outputs, up to float rounding):
:func:`permute` — MLP units, attention heads (whole GQA groups plus query heads within a
group) and optionally the residual-stream (hidden) dimensions; the hidden permutation is
invisible in llama's logits and permutes BERT's output features. The others change the
function on purpose: :func:`select_layers` (removal, duplication / depth upscaling),
:func:`add_noise`, :func:`resize_vocab`, :func:`quantize_roundtrip`; :func:`compose`
chains them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir, tokenizers
from modelkin_dev.synth.specs import BertSpec, LlamaSpec, Spec, spec_from_config

Tensor = tuple[str, np.ndarray]
TensorFn = Callable[[str, np.ndarray], Iterable[Tensor]]

_LAYER_RE = re.compile(r"^(model\.layers|encoder\.layer)\.(\d+)\.(.*)$")


def _spec(src: Path) -> tuple[dict[str, Any], Spec]:
    cfg = hfdir.read_config(src)
    return cfg, spec_from_config(cfg, Path(src) / "config.json")


def _rewrite(
    src: Path, out: Path, fn: TensorFn, config_update: dict[str, Any] | None = None
) -> Path:
    """Copy ``src`` to ``out`` passing every tensor through ``fn`` (which may drop,
    rename or duplicate it); ``config_update`` is merged into config.json."""
    import json

    src, out = Path(src), Path(out)
    if out.resolve() == src.resolve():
        raise ModelkinError(out, "output directory must differ from the input")
    cfg = hfdir.read_config(src)
    hfdir.copy_side_files(src, out)
    with hfdir.StreamWriter(out / "model.safetensors") as w:
        for name, arr in hfdir.iter_tensors(src):
            for new_name, new_arr in fn(name, arr):
                w.add(new_name, new_arr)
    cfg.update(config_update or {})
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True))
    return out


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``parts`` (e.g. tensor name, layer)."""
    salt = zlib.crc32("|".join(map(str, parts)).encode())
    return np.random.default_rng([seed, salt])


def _layer_of(name: str) -> tuple[int | None, str]:
    m = _LAYER_RE.match(name)
    if m is None:
        return None, name
    return int(m.group(2)), m.group(3)


# -- permutations ------------------------------------------------------------------------


def _perms(spec: Spec, layer: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MLP unit order, query-head order, kv-head order) of ``layer``."""
    rng = _rng(seed, "layer", layer)
    mlp = rng.permutation(spec.intermediate_size)
    nh = spec.num_attention_heads
    nkv = spec.num_key_value_heads if isinstance(spec, LlamaSpec) else nh
    group = nh // nkv
    kv = rng.permutation(nkv)
    q = np.array([kv[j] * group + i for j in range(nkv) for i in rng.permutation(group)])
    return mlp, q, kv


def _head_rows(order: np.ndarray, head_dim: int) -> np.ndarray:
    return (order[:, None] * head_dim + np.arange(head_dim)[None, :]).reshape(-1)


def permute(
    src: Path,
    out: Path,
    seed: int = 0,
    *,
    mlp: bool = True,
    heads: bool = True,
    hidden: bool = False,
) -> Path:
    """Reorder hidden units so the network computes the same function with shuffled
    weights (the attack that defeats position-wise weight comparison; Zhu et al. 2025).

    Per layer: MLP units (rows of up/gate, columns of down), attention heads (query, key,
    value rows and output-projection columns in head blocks; for GQA whole kv groups move
    with their query heads, and query heads also move within their group). With
    ``hidden``: one permutation of the residual stream applied to every matrix that
    reads or writes it, and to the norm weights (RMSNorm/LayerNorm are equivariant)."""
    _, spec = _spec(src)
    hd = spec.head_dim
    hperm = _rng(seed, "hidden").permutation(spec.hidden_size) if hidden else None
    llama = isinstance(spec, LlamaSpec)

    # role of each tensor suffix: (rows permuted by, columns permuted by)
    def plan(layer: int | None, rest: str) -> tuple[np.ndarray | None, np.ndarray | None]:
        h = hperm
        if layer is None:
            if llama:
                if rest in ("model.embed_tokens.weight", "lm_head.weight"):
                    return None, h
                return (h, None) if rest == "model.norm.weight" else (None, None)
            if rest.startswith("embeddings.") and rest.endswith("_embeddings.weight"):
                return None, h
            if rest.startswith("embeddings.LayerNorm."):
                return h, None
            if rest == "pooler.dense.weight":
                return None, h
            return None, None
        units, qo, kvo = _perms(spec, layer, seed)
        m = units if mlp else None
        qrows = _head_rows(qo, hd) if heads else None
        kvrows = _head_rows(kvo, hd) if heads else None
        if llama:
            table: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {
                "self_attn.q_proj.weight": (qrows, h),
                "self_attn.k_proj.weight": (kvrows, h),
                "self_attn.v_proj.weight": (kvrows, h),
                "self_attn.o_proj.weight": (h, qrows),
                "mlp.gate_proj.weight": (m, h),
                "mlp.up_proj.weight": (m, h),
                "mlp.down_proj.weight": (h, m),
                "input_layernorm.weight": (h, None),
                "post_attention_layernorm.weight": (h, None),
            }
        else:
            table = {
                "attention.self.query.weight": (qrows, h),
                "attention.self.key.weight": (qrows, h),
                "attention.self.value.weight": (qrows, h),
                "attention.self.query.bias": (qrows, None),
                "attention.self.key.bias": (qrows, None),
                "attention.self.value.bias": (qrows, None),
                "attention.output.dense.weight": (h, qrows),
                "attention.output.dense.bias": (h, None),
                "attention.output.LayerNorm.weight": (h, None),
                "attention.output.LayerNorm.bias": (h, None),
                "intermediate.dense.weight": (m, h),
                "intermediate.dense.bias": (m, None),
                "output.dense.weight": (h, m),
                "output.dense.bias": (h, None),
                "output.LayerNorm.weight": (h, None),
                "output.LayerNorm.bias": (h, None),
            }
        if rest not in table:
            raise ModelkinError(src, f"permute: unexpected tensor in layer {layer}: {rest}")
        return table[rest]

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        layer, rest = _layer_of(name)
        rows, cols = plan(layer, rest)
        a = arr
        if rows is not None:
            a = a[rows]
        if cols is not None:
            a = a[:, cols]
        yield name, a

    return _rewrite(src, out, fn)


# -- depth surgery -----------------------------------------------------------------------


def select_layers(src: Path, out: Path, order: Sequence[int]) -> Path:
    """New layer ``i`` is old layer ``order[i]``: ``[0, 2, 4]`` removes layers (pruning,
    every-other-layer students such as MiniLM-L6), ``[0, 1, 2, 3, 2, 3]`` duplicates
    blocks (depth up-scaling, e.g. SOLAR's)."""
    _, spec = _spec(src)
    n = spec.num_hidden_layers
    if not order or any(not 0 <= i < n for i in order):
        raise ModelkinError(src, f"layer order {list(order)} outside 0..{n - 1}")
    targets: dict[int, list[int]] = {}
    for new, old in enumerate(order):
        targets.setdefault(old, []).append(new)

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        m = _LAYER_RE.match(name)
        if m is None:
            yield name, arr
            return
        for new in targets.get(int(m.group(2)), []):
            yield f"{m.group(1)}.{new}.{m.group(3)}", arr

    return _rewrite(src, out, fn, {"num_hidden_layers": len(order)})


# -- noise and quantization --------------------------------------------------------------


def _is_float(arr: np.ndarray) -> bool:
    return np.issubdtype(arr.dtype, np.floating)


def add_noise(src: Path, out: Path, scale: float, seed: int = 0) -> Path:
    """Add Gaussian noise of ``scale`` x each tensor's std (norm weights, whose std may be
    0, use their mean magnitude) — a stand-in for light fine-tuning or obfuscation."""
    if not scale >= 0:
        raise ModelkinError("scale", "noise scale must be >= 0")

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        if not _is_float(arr) or arr.size == 0:
            yield name, arr
            return
        a = arr.astype(np.float32)
        ref = float(a.std()) or float(np.abs(a).mean())
        noise = _rng(seed, "noise", name).standard_normal(a.shape, dtype=np.float32)
        yield name, (a + noise * np.float32(scale * ref)).astype(arr.dtype)

    return _rewrite(src, out, fn)


def _int8_roundtrip(a: np.ndarray) -> np.ndarray:
    """Symmetric per-row absmax int8 (LLM.int8-style vector-wise scaling)."""
    scale = np.abs(a).max(axis=1, keepdims=True) / 127.0
    scale[scale == 0] = 1.0
    return (np.clip(np.rint(a / scale), -127, 127) * scale).astype(np.float32)


def quantize_roundtrip(src: Path, out: Path, method: str = "int8") -> Path:
    """Quantize then dequantize every 2-D weight: ``int8`` (per-row absmax), ``q8_0`` or
    ``q4_0`` (ggml block formats via ``gguf.quants``; rows whose length is not a multiple
    of the 32-value block stay as they are, as llama.cpp leaves them unquantized).
    1-D tensors (norms, biases) are kept, as every quantizer keeps them."""
    methods = ("int8", "q8_0", "q4_0")
    if method not in methods:
        raise ModelkinError(method, f"unknown quantization; choose from {', '.join(methods)}")

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        if not _is_float(arr) or arr.ndim != 2:
            yield name, arr
            return
        a = arr.astype(np.float32)
        if method == "int8":
            yield name, _int8_roundtrip(a).astype(arr.dtype)
            return
        from gguf import GGMLQuantizationType, quants

        qt = GGMLQuantizationType.Q8_0 if method == "q8_0" else GGMLQuantizationType.Q4_0
        if a.shape[1] % 32:
            yield name, arr
            return
        yield name, quants.dequantize(quants.quantize(a, qt), qt).astype(arr.dtype)

    return _rewrite(src, out, fn)


# -- vocabulary ------------------------------------------------------------------------


def _vocab_tensors(spec: Spec) -> tuple[str, ...]:
    if isinstance(spec, BertSpec):
        return ("embeddings.word_embeddings.weight",)
    return ("model.embed_tokens.weight", "lm_head.weight")


def resize_vocab(src: Path, out: Path, new_size: int, seed: int = 0) -> Path:
    """Append new token rows (mean + std x N(0,1) of the existing rows, like a tokenizer
    extension before fine-tuning) or truncate the vocabulary to ``new_size``; the
    tokenizer files get ``<extra_N>`` tokens or lose their tail to match."""
    _, spec = _spec(src)
    if new_size < 1:
        raise ModelkinError("new_size", "vocabulary size must be positive")
    names = _vocab_tensors(spec)

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        if name not in names:
            yield name, arr
            return
        if new_size <= arr.shape[0]:
            yield name, arr[:new_size]
            return
        a = arr.astype(np.float32)
        extra = _rng(seed, "vocab", name).standard_normal(
            (new_size - a.shape[0], a.shape[1]), dtype=np.float32
        )
        rows = a.mean(axis=0) + extra * a.std(axis=0)
        yield name, np.concatenate([a, rows]).astype(arr.dtype)

    res = _rewrite(src, out, fn, {"vocab_size": new_size})
    tokenizers.resize(res, new_size)
    return res


# -- chains ------------------------------------------------------------------------------

Step = tuple[Callable[..., Path], dict[str, Any]]


def compose(src: Path, out: Path, steps: Sequence[Step]) -> Path:
    """Apply ``steps`` (``(transform, kwargs)``) in order; intermediates go to a
    temporary directory beside ``out`` and are removed."""
    if not steps:
        raise ModelkinError("steps", "compose needs at least one transform")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".compose-") as tmp:
        cur = Path(src)
        for i, (fn, kwargs) in enumerate(steps):
            nxt = out if i == len(steps) - 1 else Path(tmp) / f"step{i}"
            if nxt.exists():
                shutil.rmtree(nxt)
            cur = fn(cur, nxt, **kwargs)
    return cur
