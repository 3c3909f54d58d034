"""Streamed access to Hugging Face safetensors directories, one tensor at a time.

Transforms must work on real checkpoints without loading them whole, so reading goes
through ``safetensors.safe_open`` (memory-mapped, per tensor) and writing through
:class:`StreamWriter`, which appends each tensor's bytes to a spool file and writes the
safetensors header at the end. Format: 8-byte little-endian header length, JSON header
``{name: {dtype, shape, data_offsets}}``, then the data (safetensors format
specification, huggingface/safetensors README).
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError, ModelkinError

_NP_TO_ST = {
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("float64"): "F64",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}
#: Files of an HF directory that transforms copy unchanged (weights are rewritten).
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json")


def read_config(model_dir: Path) -> dict[str, Any]:
    """``config.json`` of an HF directory, with a clear error when missing or broken."""
    p = Path(model_dir) / "config.json"
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelkinError(p, "missing: not a Hugging Face model directory") from exc
    except (OSError, ValueError) as exc:
        raise ModelkinError(p, f"unreadable JSON: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ModelkinError(p, "config.json is not a JSON object")
    return cfg


def weight_files(model_dir: Path) -> list[Path]:
    """The safetensors shards of an HF dir (single file or an index of shards)."""
    d = Path(model_dir)
    single = d / "model.safetensors"
    if single.exists():
        return [single]
    idx = d / "model.safetensors.index.json"
    if idx.exists():
        try:
            wm = json.loads(idx.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(wm.values()))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelkinError(idx, f"malformed shard index: {exc}") from exc
        for n in names:
            if "/" in n or "\\" in n or n.startswith("."):
                raise ModelkinError(idx, f"shard name {n!r} escapes the directory")
        return [d / n for n in names]
    raise ModelkinError(d, "no model.safetensors or model.safetensors.index.json")


def iter_tensors(model_dir: Path) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(name, array)`` for every tensor, one at a time, in sorted name order."""
    from safetensors import SafetensorError, safe_open

    for f in weight_files(model_dir):
        try:
            with safe_open(str(f), framework="np") as st:
                for name in sorted(st.keys()):
                    yield name, st.get_tensor(name)
        except (SafetensorError, OSError) as exc:
            raise ModelFormatError(f, f"cannot read safetensors: {exc}") from exc


def copy_side_files(src: Path, dst: Path) -> None:
    """Copy everything but the weights (config, tokenizer, README...) from ``src``."""
    dst.mkdir(parents=True, exist_ok=True)
    for p in Path(src).iterdir():
        if p.name in _WEIGHT_FILES or (p.name.startswith("model-") and p.suffix == ".safetensors"):
            continue
        if p.is_dir():
            shutil.copytree(p, dst / p.name, dirs_exist_ok=True)
        else:
            shutil.copy2(p, dst / p.name)


class StreamWriter:
    """Write a safetensors file tensor by tensor with memory bounded by one tensor."""

    def __init__(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._spool_path = self.path.with_suffix(".spool")
        self._spool = self._spool_path.open("wb")
        self._header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
        self._offset = 0

    def add(self, name: str, array: np.ndarray) -> None:
        """Append one tensor (C order, little endian)."""
        if name in self._header:
            raise ValueError(f"duplicate tensor name {name}")
        arr = np.ascontiguousarray(array)
        if arr.dtype not in _NP_TO_ST:
            raise ValueError(f"{name}: dtype {arr.dtype} has no safetensors code")
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        self._spool.write(data)
        self._header[name] = {
            "dtype": _NP_TO_ST[arr.dtype],
            "shape": list(arr.shape),
            "data_offsets": [self._offset, self._offset + len(data)],
        }
        self._offset += len(data)

    def close(self) -> None:
        """Write header + data to ``path`` and remove the spool."""
        self._spool.close()
        header = json.dumps(self._header, separators=(",", ":")).encode("utf-8")
        header += b" " * (-len(header) % 8)  # align data to 8 bytes, as the spec suggests
        with self.path.open("wb") as out, self._spool_path.open("rb") as spool:
            out.write(struct.pack("<Q", len(header)))
            out.write(header)
            shutil.copyfileobj(spool, out, 1 << 20)
        self._spool_path.unlink()

    def __enter__(self) -> StreamWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._spool.close()
            self._spool_path.unlink(missing_ok=True)
