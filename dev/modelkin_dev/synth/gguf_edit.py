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
) -> Path:
    """Re-quantize ``src`` to Q8_0 into ``out``, adding relative Gaussian ``noise`` and
    keeping blocks ``layers`` (new block ``i`` = old block ``layers[i]``) when given."""
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

    w = gguf.GGUFWriter(None, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        val: Any = field.contents()
        if key == count_key:
            val = len(layers) if layers is not None else n_blocks
        elif key == "general.file_type":
            val = _FTYPE_Q8_0
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
        if noise > 0:
            a = _noise(a, noise, seed, name)
        if a.ndim == 2 and a.shape[1] % 32 == 0:
            return gguf.quants.quantize(a, Q.Q8_0), Q.Q8_0
        return a, Q.F32

    def info(t: Any) -> tuple[tuple[int, ...], np.dtype[Any], int, Q]:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # ggml ne -> numpy order
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
