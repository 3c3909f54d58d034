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


# -- width pruning -----------------------------------------------------------------------


def _keep(score: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest scores, in their original order (pruning keeps the
    survivors where they were, as Minitron and LLM-Pruner do)."""
    return np.sort(np.argsort(-score, kind="stable")[:n])


def _residual_plan(spec: Spec) -> dict[str, str]:
    """How each tensor touches the residual stream: ``"cols"`` (reads it: embeddings,
    input projections), ``"rows"`` (writes it: output projections), ``"vec"`` (a
    residual-indexed vector: norms, output biases); absent: untouched."""
    if isinstance(spec, LlamaSpec):
        return {
            "model.embed_tokens.weight": "cols",
            "lm_head.weight": "cols",
            "model.norm.weight": "vec",
            "self_attn.q_proj.weight": "cols",
            "self_attn.k_proj.weight": "cols",
            "self_attn.v_proj.weight": "cols",
            "self_attn.o_proj.weight": "rows",
            "mlp.gate_proj.weight": "cols",
            "mlp.up_proj.weight": "cols",
            "mlp.down_proj.weight": "rows",
            "input_layernorm.weight": "vec",
            "post_attention_layernorm.weight": "vec",
        }
    return {
        "embeddings.word_embeddings.weight": "cols",
        "embeddings.position_embeddings.weight": "cols",
        "embeddings.token_type_embeddings.weight": "cols",
        "embeddings.LayerNorm.weight": "vec",
        "embeddings.LayerNorm.bias": "vec",
        "pooler.dense.weight": "cols",
        "attention.self.query.weight": "cols",
        "attention.self.key.weight": "cols",
        "attention.self.value.weight": "cols",
        "attention.output.dense.weight": "rows",
        "attention.output.dense.bias": "vec",
        "attention.output.LayerNorm.weight": "vec",
        "attention.output.LayerNorm.bias": "vec",
        "intermediate.dense.weight": "cols",
        "output.dense.weight": "rows",
        "output.dense.bias": "vec",
        "output.LayerNorm.weight": "vec",
        "output.LayerNorm.bias": "vec",
    }


#: Tensors whose rows are MLP units (and biases indexed by unit).
_UNIT_ROWS = (
    "mlp.up_proj.weight",
    "mlp.gate_proj.weight",
    "intermediate.dense.weight",
    "intermediate.dense.bias",
)


def _tensors(src: Path) -> dict[str, np.ndarray]:
    return {n: a.astype(np.float32) if _is_float(a) else a for n, a in hfdir.iter_tensors(src)}


def width_prune(
    src: Path,
    out: Path,
    *,
    hidden: int | None = None,
    intermediate: int | None = None,
    kv_groups: int | None = None,
) -> Path:
    """Width pruning by importance (Minitron / LLM-Pruner style, weight-magnitude
    importance): keep the ``hidden`` residual dimensions, ``intermediate`` MLP units per
    layer and ``kv_groups`` attention groups (llama: key/value heads with their query
    heads; BERT: heads) that score highest, in their original order. The head dimension
    is kept, so ``hidden / heads`` stays the same (``hidden`` must then be a multiple of
    it). Scores: a hidden dimension by the summed squared weights it carries in every
    matrix that reads or writes the residual stream (each matrix normalised), a unit by
    ``|up| |down|`` (times ``|gate|``), a head by ``|W_v,h| |W_o,h|``. No healing here:
    follow with :func:`modelkin_dev.synth.prune.heal` or :func:`add_noise`."""
    _, spec = _spec(src)
    w = _tensors(src)
    llama = isinstance(spec, LlamaSpec)
    plan = _residual_plan(spec)
    hd = spec.head_dim
    nh = spec.num_attention_heads
    nkv = spec.num_key_value_heads if isinstance(spec, LlamaSpec) else nh
    group = nh // nkv
    new_hidden = hidden or spec.hidden_size
    new_groups = kv_groups or nkv
    if not 0 < new_hidden <= spec.hidden_size or not 0 < new_groups <= nkv:
        raise ModelkinError(src, "width_prune: sizes must be positive and at most the original")
    if new_hidden % hd or new_hidden // hd != new_groups * group:
        raise ModelkinError(
            src,
            f"width_prune: hidden {new_hidden} must equal kept heads x head_dim "
            f"({new_groups * group} x {hd}) so that the head dimension is kept",
        )
    new_units = intermediate or spec.intermediate_size
    score = np.zeros(spec.hidden_size)
    for name, a in w.items():
        how = plan.get(_layer_of(name)[1])
        if how in ("cols", "rows") and a.ndim == 2:
            sq = np.square(a.astype(np.float64)).sum(axis=0 if how == "cols" else 1)
            score += sq / max(float(sq.sum()), 1e-30)
    keep_h = _keep(score, new_hidden)
    layers = {n for n in (_layer_of(k)[0] for k in w) if n is not None}
    keep_u: dict[int, np.ndarray] = {}
    keep_q: dict[int, np.ndarray] = {}
    keep_kv: dict[int, np.ndarray] = {}
    for i in layers:
        p = f"model.layers.{i}." if llama else f"encoder.layer.{i}."
        if llama:
            up, down = w[p + "mlp.up_proj.weight"], w[p + "mlp.down_proj.weight"]
            us = np.linalg.norm(up, axis=1) * np.linalg.norm(down, axis=0)
            us *= np.linalg.norm(w[p + "mlp.gate_proj.weight"], axis=1)
            v, o = w[p + "self_attn.v_proj.weight"], w[p + "self_attn.o_proj.weight"]
        else:
            up, down = w[p + "intermediate.dense.weight"], w[p + "output.dense.weight"]
            us = np.linalg.norm(up, axis=1) * np.linalg.norm(down, axis=0)
            v, o = w[p + "attention.self.value.weight"], w[p + "attention.output.dense.weight"]
        keep_u[i] = _keep(us, new_units)
        vs = np.linalg.norm(v.reshape(nkv, hd, -1), axis=(1, 2))
        os_ = np.linalg.norm(o.reshape(o.shape[0], nh, hd), axis=(0, 2)).reshape(nkv, group)
        kv = _keep(vs * os_.sum(axis=1), new_groups)
        keep_kv[i] = _head_rows(kv, hd)
        keep_q[i] = _head_rows(np.array([g * group + j for g in kv for j in range(group)]), hd)

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        layer, rest = _layer_of(name)
        a = w[name]
        how = plan.get(rest)
        if how == "cols" and a.ndim == 2:
            a = a[:, keep_h]
        elif how in ("rows", "vec"):  # rows of an output matrix, or a residual vector
            a = a[keep_h]
        if name.startswith("pooler.dense."):  # BERT's pooler maps hidden to hidden
            a = a[keep_h]
        if layer is not None:
            u, q, kv = keep_u[layer], keep_q[layer], keep_kv[layer]
            if rest in _UNIT_ROWS:
                a = a[u]
            elif rest in ("mlp.down_proj.weight", "output.dense.weight"):
                a = a[:, u]
            elif rest == "self_attn.q_proj.weight" or (
                not llama and rest.startswith("attention.self.")
            ):
                a = a[q]
            elif rest in ("self_attn.k_proj.weight", "self_attn.v_proj.weight"):
                a = a[kv]
            elif rest in ("self_attn.o_proj.weight", "attention.output.dense.weight"):
                a = a[:, q]
        yield name, np.ascontiguousarray(a.astype(arr.dtype))

    update: dict[str, Any] = {
        "hidden_size": new_hidden,
        "intermediate_size": new_units,
        "num_attention_heads": new_groups * group,
    }
    if llama:
        update |= {"num_key_value_heads": new_groups, "head_dim": hd}
    return _rewrite(src, out, fn, update)


# -- rotation ----------------------------------------------------------------------------


def _orthogonal(n: int, seed: int) -> np.ndarray:
    """A Haar-random orthogonal matrix (QR of a Gaussian, signs fixed; Mezzadri 2007)."""
    g = _rng(seed, "rotation").standard_normal((n, n))
    q, r = np.linalg.qr(g)
    return np.asarray(q * np.sign(np.diag(r))[None, :])


def rotate(src: Path, out: Path, seed: int = 0) -> Path:
    """Rotate the residual stream by one random orthogonal matrix ``Q`` (SliceGPT /
    QuaRot "computational invariance").

    llama (pre-RMSNorm): every norm scale is first folded into the matrices that read its
    output (q/k/v, gate/up, lm_head) and set to 1; then every matrix that reads the
    residual stream becomes ``W Q`` and every one that writes it ``Q^T W``. RMSNorm
    commutes with ``Q``, so the logits are unchanged (up to float rounding).
    BERT (post-LayerNorm) admits no exact rotation (LayerNorm centres and scales per
    dimension): the same weight rotation is applied, the LayerNorm vectors kept -- a
    weight obfuscation that changes the function, as a copier hiding a model would."""
    _, spec = _spec(src)
    w = _tensors(src)
    q = _orthogonal(spec.hidden_size, seed).astype(np.float64)
    llama = isinstance(spec, LlamaSpec)
    plan = _residual_plan(spec)
    if llama:
        folds = {
            "input_layernorm.weight": (
                "self_attn.q_proj.weight",
                "self_attn.k_proj.weight",
                "self_attn.v_proj.weight",
            ),
            "post_attention_layernorm.weight": ("mlp.gate_proj.weight", "mlp.up_proj.weight"),
        }
        for name in list(w):
            layer, rest = _layer_of(name)
            if rest in folds and layer is not None:
                g = w[name].astype(np.float64)
                for t in folds[rest]:
                    key = f"model.layers.{layer}.{t}"
                    w[key] = (w[key] * g[None, :]).astype(np.float32)
                w[name] = np.ones_like(w[name])
        g = w["model.norm.weight"].astype(np.float64)
        w["lm_head.weight"] = (w["lm_head.weight"] * g[None, :]).astype(np.float32)
        w["model.norm.weight"] = np.ones_like(w["model.norm.weight"])

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        how = plan.get(_layer_of(name)[1])
        a = w[name].astype(np.float64)
        if how == "cols" and a.ndim == 2:
            a = a @ q
        elif how == "rows" and a.ndim == 2:
            a = q.T @ a
        elif how == "vec" and name.endswith(".bias") and "LayerNorm" not in name:
            a = a @ q  # an output bias is a residual-stream vector
        yield name, np.ascontiguousarray(a.astype(arr.dtype))

    return _rewrite(src, out, fn)
