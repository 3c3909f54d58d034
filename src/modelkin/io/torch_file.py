"""PyTorch ``.bin`` / ``.pt`` / ``.pth`` checkpoints, read without unpickling code.

These files are pickles. A pickle can run arbitrary code when loaded, so the only loader
used here is ``torch.load(..., weights_only=True)``, whose restricted unpickler accepts
tensors, primitive containers and nothing that can execute. ``mmap=True`` keeps tensor
storage on disk (zip-format checkpoints, torch >= 1.6); the legacy non-zip format cannot
be mapped and is loaded into memory, which :meth:`problems` reports.

torch is an optional dependency: without it these files are refused with a message saying
what to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError
from modelkin.io.base import MAX_TENSOR_COUNT, TensorInfo, TensorSource

#: Wrapper keys training scripts put around a state dict; unwrapped when alone at the top.
_WRAPPERS = ("state_dict", "model_state_dict", "module")

_TORCH_DTYPE_NAMES = {
    "float64": "F64",
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "int64": "I64",
    "int32": "I32",
    "int16": "I16",
    "int8": "I8",
    "uint8": "U8",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "float8_e4m3fnuz": "F8_E4M3FNUZ",
    "float8_e5m2fnuz": "F8_E5M2FNUZ",
    "float8_e8m0fnu": "F8_E8M0",
    "complex64": "C64",
}


def _flatten(obj: Any, prefix: str, out: dict[str, Any], torch: Any) -> None:
    if isinstance(obj, torch.Tensor):
        out[prefix.rstrip(".")] = obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            _flatten(v, f"{prefix}{k}.", out, torch)
        if len(out) > MAX_TENSOR_COUNT:
            raise ValueError(f"more than {MAX_TENSOR_COUNT} tensors")


class PyTorchSource(TensorSource):
    """A ``torch.save`` checkpoint holding a (possibly nested) state dict."""

    format = "pytorch"

    def __init__(self, path: str | Path) -> None:
        super().__init__(Path(path))
        try:
            import torch
        except ImportError:
            raise ModelFormatError(
                self.path, "reading PyTorch checkpoints needs torch: pip install 'modelkin[torch]'"
            ) from None
        self._torch = torch
        self._problems: list[str] = []
        if not self.path.is_file():
            raise ModelFormatError(self.path, "no such file")
        obj = self._load(mmap=True)
        if isinstance(obj, Mapping) and len(obj) == 1:
            (key,) = obj.keys()
            if key in _WRAPPERS and isinstance(obj[key], Mapping):
                obj = obj[key]
        tensors: dict[str, Any] = {}
        try:
            _flatten(obj, "", tensors, torch)
        except ValueError as exc:
            raise ModelFormatError(self.path, str(exc)) from None
        if not tensors:
            raise ModelFormatError(self.path, "checkpoint holds no tensors (not a state dict?)")
        self._tensors = tensors
        self._infos = [
            TensorInfo(
                name,
                tuple(int(d) for d in t.shape),
                _TORCH_DTYPE_NAMES.get(str(t.dtype).removeprefix("torch."), str(t.dtype)),
                int(t.numel()) * int(t.element_size()),
            )
            for name, t in tensors.items()
        ]

    def _load(self, mmap: bool) -> Any:
        torch = self._torch
        try:
            return torch.load(self.path, weights_only=True, mmap=mmap, map_location="cpu")
        except Exception as exc:  # any failure of an untrusted file is a format error
            msg = str(exc)
            if mmap and "mmap" in msg and "zipfile" in msg.replace("_", "").lower():
                self._problems.append("legacy (non-zip) checkpoint: loaded into memory, not mapped")
                return self._load(mmap=False)
            first = msg.strip().splitlines()[0] if msg.strip() else type(exc).__name__
            if "weights_only" in msg or "Unsupported global" in msg or "GLOBAL" in msg:
                first = (
                    "refused: the pickle references objects other than tensors and containers "
                    f"(only weights_only loading is allowed): {first}"
                )
            raise ModelFormatError(
                self.path, f"not a loadable PyTorch checkpoint: {first}"
            ) from None

    def tensors(self) -> list[TensorInfo]:
        return list(self._infos)

    def problems(self) -> list[str]:
        return list(self._problems)

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        t = self._tensors.get(name)
        if t is None:
            raise KeyError(name)
        if t.is_complex():
            raise ModelFormatError(
                self.path, f"tensor {name!r}: complex values have no float32 form"
            )
        if rows is not None:
            if t.dim() == 0:
                raise ValueError(f"tensor {name!r} is a scalar; rows do not apply")
            t = t[rows]
        out: np.ndarray = t.detach().to(self._torch.float32).numpy()
        return np.array(out, dtype=np.float32, copy=True)

    def close(self) -> None:
        self._tensors = {}
