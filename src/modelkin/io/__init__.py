"""Model readers: any model on disk as a :class:`TensorSource`.

``open_model(path)`` looks at what is at ``path`` and returns the matching reader:

* a directory: Hugging Face / sentence-transformers layout (:class:`HFDirSource`), or,
  when it holds no HF weights but exactly one ``.gguf`` / ``.onnx`` file, that file;
* ``*.safetensors``: :class:`SafetensorsSource`;
* ``*.gguf``: ``modelkin.io.gguf.GGUFSource``; ``*.onnx``: ``modelkin.io.onnx.ONNXSource``
  (both imported only when needed);
* ``*.bin`` / ``*.pt`` / ``*.pth``: :class:`PyTorchSource` (torch, ``weights_only`` only).

Files with another suffix are recognised by their first bytes (GGUF magic, safetensors
header, zip). Anything else is refused with :class:`~modelkin.errors.ModelFormatError`.
"""

from __future__ import annotations

import struct
from pathlib import Path

from modelkin.errors import ModelFormatError
from modelkin.io.base import MAX_HEADER_BYTES, TensorInfo, TensorSource

__all__ = ["TensorInfo", "TensorSource", "open_model"]


def _sniff(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            head = f.read(9)
    except OSError as exc:
        raise ModelFormatError(path, f"cannot read: {exc.strerror or exc}") from None
    if head[:4] == b"GGUF":
        return "gguf"
    if head[:2] == b"PK":
        return "pytorch"
    if len(head) == 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 0 < n <= MAX_HEADER_BYTES:
            return "safetensors"
    return None


def _open_kind(kind: str, path: Path) -> TensorSource:
    if kind == "safetensors":
        from modelkin.io.safetensors_file import SafetensorsSource

        return SafetensorsSource(path)
    if kind == "pytorch":
        from modelkin.io.torch_file import PyTorchSource

        return PyTorchSource(path)
    if kind == "gguf":
        try:
            from modelkin.io.gguf import GGUFSource
        except ImportError as exc:
            raise ModelFormatError(path, f"the GGUF reader is not available ({exc})") from None
        return GGUFSource(path)
    if kind == "onnx":
        try:
            from modelkin.io.onnx import ONNXSource
        except ImportError as exc:
            raise ModelFormatError(path, f"the ONNX reader is not available ({exc})") from None
        return ONNXSource(path)
    raise ModelFormatError(path, f"unknown model format {kind!r}")  # pragma: no cover


_SUFFIXES = {
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".onnx": "onnx",
    ".bin": "pytorch",
    ".pt": "pytorch",
    ".pth": "pytorch",
}


def open_model(path: str | Path) -> TensorSource:
    """Open the model at ``path`` with the reader its layout calls for."""
    p = Path(path)
    if p.is_dir():
        from modelkin.io.hf_dir import HFDirSource, has_weights

        if not has_weights(p) and not (p / "modules.json").is_file():
            # A folder holding one GGUF / ONNX file (as shipped by many packages).
            single = [
                f
                for f in sorted(p.iterdir())
                if f.is_file() and f.suffix.lower() in (".gguf", ".onnx")
            ]
            if len(single) == 1:
                return _open_kind(_SUFFIXES[single[0].suffix.lower()], single[0])
        return HFDirSource(p)
    if not p.exists():
        raise ModelFormatError(p, "no such file or directory")
    if not p.is_file():
        raise ModelFormatError(p, "not a regular file or directory")
    if p.name.endswith(".index.json"):
        from modelkin.io.hf_dir import HFDirSource

        return HFDirSource(p.parent)
    kind = _SUFFIXES.get(p.suffix.lower()) or _sniff(p)
    if kind is None:
        raise ModelFormatError(
            p,
            "unrecognised model format (expected a model directory, .safetensors, .gguf, .onnx, .bin/.pt/.pth)",
        )
    return _open_kind(kind, p)
