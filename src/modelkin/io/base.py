"""The one interface every model reader implements.

A :class:`TensorSource` lists tensors without reading their data, then reads one tensor
(or a range of rows) as float32 on demand. Readers never load a whole model: memory must
stay bounded by the largest single tensor, whatever the model size.

Orientation convention (so fingerprints agree across formats): ``read`` returns tensors in
the Hugging Face / PyTorch layout, i.e. ``nn.Linear`` weights as ``[out_features,
in_features]``. A reader whose format stores a matrix the other way round (ONNX ``MatMul``
initializers are ``[in, out]``) transposes it, and reports the transposed ``shape`` in
:class:`TensorInfo`. GGUF readers undo llama.cpp's Q/K row permutation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

#: Upper bound for any length read from an untrusted header (bytes). A model file may be
#: huge, but a JSON header, a metadata string or a tensor-name table never needs more.
MAX_HEADER_BYTES = 100 * 1024 * 1024
#: Upper bound on the number of tensors / metadata entries a header may declare.
MAX_TENSOR_COUNT = 1_000_000
#: Upper bound on tensor rank.
MAX_RANK = 8


@dataclass(frozen=True)
class TensorInfo:
    """What is known about one stored tensor without reading its data.

    ``name`` is the name inside the source (unique per source); ``shape`` is the logical
    shape that :meth:`TensorSource.read` returns (HF orientation); ``dtype`` is the stored
    type as the format spells it (``"F32"``, ``"BF16"``, ``"F8_E4M3"``, ``"Q4_K"``,
    ``"int8"``...); ``nbytes`` the bytes the stored data occupies in the file.
    ``quantized`` is true when the stored values are a lossy encoding of the logical ones.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int
    quantized: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


class TensorSource(ABC):
    """A model on disk, seen as named tensors plus metadata.

    Use as a context manager; ``close`` releases file handles and memory maps.
    """

    #: Short format name: "safetensors", "hf", "gguf", "onnx", "pytorch".
    format: str = "unknown"
    #: Bytes of stored tensor data read from disk so far, for benchmarks that report how
    #: much of a model a task touched; readers that cannot tell leave it at 0.
    bytes_read: int = 0

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- listing (never reads tensor data) ---------------------------------------------
    @abstractmethod
    def tensors(self) -> list[TensorInfo]:
        """All tensors, in file order."""

    def info(self, name: str) -> TensorInfo:
        for t in self.tensors():
            if t.name == name:
                return t
        raise KeyError(name)

    # -- reading ----------------------------------------------------------------------
    @abstractmethod
    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        """Tensor ``name`` as float32 in HF orientation; ``rows`` selects a range of the
        first axis (the reader reads only what it needs where the format allows)."""

    # -- metadata ---------------------------------------------------------------------
    def metadata(self) -> Mapping[str, Any]:
        """Format metadata: HF ``config.json`` for HF dirs, GGUF key/values, ONNX props."""
        return {}

    def config(self) -> Mapping[str, Any]:
        """An HF-style ``config.json`` view (``model_type``, ``hidden_size``, ...), derived
        from the format's metadata where the format has no config file. Empty if unknown."""
        return {}

    def tokenizer(self) -> Any | None:
        """The model's tokenizer as :class:`modelkin.io.tokenizer.Tokenizer`, or None."""
        return None

    def files(self) -> list[Path]:
        """Files on disk that make up this model (for digests and manifests)."""
        return [self.path] if self.path.is_file() else []

    def problems(self) -> list[str]:
        """Non-fatal problems found while opening (e.g. tensors missing from a truncated
        file), as human-readable sentences."""
        return []

    def iter_tensors(self) -> Iterator[tuple[TensorInfo, np.ndarray]]:
        """Stream every tensor, one at a time."""
        for t in self.tensors():
            yield t, self.read(t.name)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""

    def __enter__(self) -> TensorSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
