"""Derivatives of GGUF models (e.g. the real Gemma-3-270M fixture), GGUF in, GGUF out.

A copier who starts from a quantized GGUF re-quantizes it, perturbs it, or drops
blocks, and ships GGUF again. :func:`rewrite` does that with llama.cpp's own Python
package (``gguf``): every metadata key/value is copied, each tensor is dequantized
(``gguf.quants.dequantize`` handles every ggml type, K-quants included), optionally
perturbed, and stored again as Q8_0 (2-D tensors whose rows are a multiple of 32) or
F32. Tensor infos are written first and data tensor by tensor, so memory is bounded by
one tensor.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError, ModelkinError

_BLK = re.compile(r"^blk\.(\d+)\.(.+)$")
#: llama_ftype MOSTLY_Q8_0 (llama.h)
_FTYPE_Q8_0 = 7


def _noise(a: np.ndarray, scale: float, seed: int, name: str) -> np.ndarray:
    import zlib

    ref = float(a.std()) or float(np.abs(a).mean())
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    return a + rng.standard_normal(a.shape, dtype=np.float32) * np.float32(scale * ref)


def rewrite(
    src: Path,
    out: Path,
    *,
    noise: float = 0.0,
    seed: int = 0,
    layers: Sequence[int] | None = None,
    hidden: int | None = None,
    ffn: int | None = None,
) -> Path:
    """Re-quantize ``src`` to Q8_0 into ``out``, adding relative Gaussian ``noise`` and
    keeping blocks ``layers`` (new block ``i`` = old block ``layers[i]``) when given.

    ``hidden`` / ``ffn``: width pruning by importance (Minitron-style, weight-magnitude
    importance; see :func:`width_plan`): keep that many residual-stream dimensions and
    MLP units per block, in their original order. Heads are kept (in Gemma the hidden
    size is not heads x head_dim, so the attention projections only lose columns)."""
    import gguf
    from gguf import GGMLQuantizationType as Q
    from gguf import GGUFValueType as V

    src, out = Path(src), Path(out)
    try:
        reader = gguf.GGUFReader(src)
    except (ValueError, OSError, struct.error) as exc:
        raise ModelFormatError(src, f"cannot read GGUF: {exc}") from exc
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise ModelFormatError(src, "no general.architecture key")
    arch = str(arch_field.contents())
    count_key = f"{arch}.block_count"
    n_blocks = int(reader.fields[count_key].contents()) if count_key in reader.fields else 0
    if layers is not None and (not layers or any(not 0 <= i < n_blocks for i in layers)):
        raise ModelkinError(src, f"layer order {list(layers)} outside 0..{n_blocks - 1}")
    targets: dict[int, list[int]] = {}
    for new, old in enumerate(layers or range(n_blocks)):
        targets.setdefault(old, []).append(new)

    keep_h, keep_u = width_plan(reader, hidden, ffn)
    emb_key, ffn_key = f"{arch}.embedding_length", f"{arch}.feed_forward_length"

    w = gguf.GGUFWriter(None, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        val: Any = field.contents()
        if key == count_key:
            val = len(layers) if layers is not None else n_blocks
        elif key == "general.file_type":
            val = _FTYPE_Q8_0
        elif key == emb_key and keep_h is not None:
            val = int(keep_h.shape[0])
        elif key == ffn_key and keep_u:
            val = int(next(iter(keep_u.values())).shape[0])
        sub = field.types[1] if field.types[0] == V.ARRAY and len(field.types) > 1 else None
        w.add_key_value(key, val, field.types[0], sub_type=sub)

    plan: list[tuple[Any, str]] = []
    for t in reader.tensors:
        m = _BLK.match(t.name)
        if m is None:
            plan.append((t, t.name))
        else:
            plan += [(t, f"blk.{new}.{m.group(2)}") for new in targets.get(int(m.group(1)), [])]

    def encode(t: Any, name: str) -> tuple[np.ndarray, Q]:
        a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        a = _prune(t.name, a, keep_h, keep_u)
        if noise > 0:
            a = _noise(a, noise, seed, name)
        if a.ndim == 2 and a.shape[1] % 32 == 0:
            return gguf.quants.quantize(a, Q.Q8_0), Q.Q8_0
        return a, Q.F32

    def info(t: Any) -> tuple[tuple[int, ...], np.dtype[Any], int, Q]:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # ggml ne -> numpy order
        shape = _pruned_shape(t.name, shape, keep_h, keep_u)
        if len(shape) == 2 and shape[1] % 32 == 0:
            bshape = gguf.quants.quant_shape_to_byte_shape(shape, Q.Q8_0)
            return bshape, np.dtype(np.uint8), int(np.prod(bshape)), Q.Q8_0
        return shape, np.dtype(np.float32), int(np.prod(shape)) * 4, Q.F32

    for t, name in plan:
        shape, dtype, nbytes, qt = info(t)
        w.add_tensor_info(name, shape, dtype, nbytes, raw_dtype=qt)
    out.parent.mkdir(parents=True, exist_ok=True)
    w.write_header_to_file(path=out)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for t, name in plan:
        data, _ = encode(t, name)
        w.write_tensor_data(data)
    w.close()
    return out


#: How each GGUF tensor touches the residual stream (numpy order: rows = ne[1]):
#: "cols" reads it, "rows" writes it, "vec" is indexed by it.
_RESIDUAL = {
    "token_embd.weight": "cols",
    "output.weight": "cols",
    "output_norm.weight": "vec",
    "attn_q.weight": "cols",
    "attn_k.weight": "cols",
    "attn_v.weight": "cols",
    "attn_output.weight": "rows",
    "ffn_gate.weight": "cols",
    "ffn_up.weight": "cols",
    "ffn_down.weight": "rows",
    "attn_norm.weight": "vec",
    "post_attention_norm.weight": "vec",
    "ffn_norm.weight": "vec",
    "post_ffw_norm.weight": "vec",
}


def _suffix(name: str) -> tuple[int | None, str]:
    m = _BLK.match(name)
    return (int(m.group(1)), m.group(2)) if m else (None, name)


def width_plan(
    reader: Any, hidden: int | None, ffn: int | None
) -> tuple[np.ndarray | None, dict[int, np.ndarray]]:
    """(kept hidden dims, kept MLP units per block), chosen by weight magnitude: a hidden
    dimension by the summed squared weights it carries in every block matrix that reads
    or writes the residual stream (each matrix normalised; the embedding is skipped, it
    alone would cost a dequantized copy of the whole vocabulary), a unit by
    ``|gate| |up| |down|``."""
    import gguf

    if hidden is None and ffn is None:
        return None, {}
    score: np.ndarray | None = None
    unit: dict[int, dict[str, np.ndarray]] = {}
    for t in reader.tensors:
        layer, rest = _suffix(t.name)
        how = _RESIDUAL.get(rest)
        if layer is None or how not in ("cols", "rows"):
            continue
        a = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float64)
        if a.ndim != 2:
            continue
        sq = np.square(a).sum(axis=0 if how == "cols" else 1)
        score = sq / max(float(sq.sum()), 1e-30) + (0.0 if score is None else score)
        if rest in ("ffn_gate.weight", "ffn_up.weight"):
            unit.setdefault(layer, {})[rest] = np.linalg.norm(a, axis=1)
        elif rest == "ffn_down.weight":
            unit.setdefault(layer, {})[rest] = np.linalg.norm(a, axis=0)
    keep_h = None
    if hidden is not None and score is not None:
        if not 0 < hidden <= score.shape[0]:
            raise ModelkinError("hidden", f"must be in 1..{score.shape[0]}")
        keep_h = np.sort(np.argsort(-score, kind="stable")[:hidden])
    keep_u: dict[int, np.ndarray] = {}
    if ffn is not None:
        for layer, parts in unit.items():
            s = np.prod(np.stack(list(parts.values())), axis=0)
            if not 0 < ffn <= s.shape[0]:
                raise ModelkinError("ffn", f"must be in 1..{s.shape[0]}")
            keep_u[layer] = np.sort(np.argsort(-s, kind="stable")[:ffn])
    return keep_h, keep_u


def _prune(
    name: str, a: np.ndarray, keep_h: np.ndarray | None, keep_u: dict[int, np.ndarray]
) -> np.ndarray:
    layer, rest = _suffix(name)
    how = _RESIDUAL.get(rest)
    if keep_h is not None:
        if how == "cols" and a.ndim == 2:
            a = a[:, keep_h]
        elif (how == "rows" and a.ndim == 2) or (how == "vec" and a.ndim == 1):
            a = a[keep_h]
    if layer is not None and layer in keep_u:
        if rest in ("ffn_gate.weight", "ffn_up.weight"):
            a = a[keep_u[layer]]
        elif rest == "ffn_down.weight":
            a = a[:, keep_u[layer]]
    return np.ascontiguousarray(a)


def _pruned_shape(
    name: str,
    shape: tuple[int, ...],
    keep_h: np.ndarray | None,
    keep_u: dict[int, np.ndarray],
) -> tuple[int, ...]:
    """The shape :func:`_prune` gives a tensor of ``shape`` (without reading it)."""
    layer, rest = _suffix(name)
    how = _RESIDUAL.get(rest)
    out = list(shape)
    if keep_h is not None:
        if how == "cols" and len(out) == 2:
            out[1] = int(keep_h.shape[0])
        elif (how == "rows" and len(out) == 2) or (how == "vec" and len(out) == 1):
            out[0] = int(keep_h.shape[0])
    if layer is not None and layer in keep_u:
        if rest in ("ffn_gate.weight", "ffn_up.weight"):
            out[0] = int(keep_u[layer].shape[0])
        elif rest == "ffn_down.weight":
            out[1] = int(keep_u[layer].shape[0])
    return tuple(out)
