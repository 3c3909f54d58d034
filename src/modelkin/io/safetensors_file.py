"""A bounded safetensors reader of our own (the files are untrusted input).

Format (huggingface/safetensors, "Format" section of its README):

1. 8 bytes: ``N``, an unsigned little-endian 64-bit integer, the size of the header;
2. ``N`` bytes: a UTF-8 JSON object starting with ``{`` -- ``{name: {"dtype", "shape",
   "data_offsets": [begin, end]}, "__metadata__": {str: str}}`` -- possibly padded with
   trailing spaces (the writer pads to 8-byte alignment); duplicate keys are disallowed;
3. the byte buffer; ``data_offsets`` are relative to its start.

Every number read from the file is checked before it is used: the header length against
:data:`MAX_HEADER_BYTES` and the file size, the tensor count against
:data:`MAX_TENSOR_COUNT`, each tensor's byte range against the buffer and against its
shape x dtype size, and ranges against each other (no overlap). The reference
implementation also demands that tensors tile the buffer without holes; a hole or trailing
bytes cannot make us read wrong data, so they are reported by :meth:`problems` rather than
refused.

Data is read through ``mmap``: reading a row range touches only those pages, and pages are
released from the process (``MADV_DONTNEED``) once copied, so streaming a model keeps the
resident set near the size of one tensor.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError
from modelkin.io.base import MAX_HEADER_BYTES, MAX_RANK, MAX_TENSOR_COUNT, TensorInfo, TensorSource
from modelkin.io.st_dtypes import DTYPES, StDtype, decode

_PAGE = mmap.ALLOCATIONGRANULARITY
#: Linux maps up to 64 KiB of cached pages around a faulting one (fault_around_bytes).
_FAULT_AROUND = 64 * 1024


@dataclass(frozen=True)
class StEntry:
    """One tensor declared in a safetensors header; offsets are absolute in the file."""

    name: str
    dtype: StDtype
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class StHeader:
    """A validated safetensors header."""

    entries: tuple[StEntry, ...]
    metadata: Mapping[str, str]
    data_start: int
    #: Non-fatal findings (holes, trailing bytes).
    findings: tuple[str, ...]


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_header(header: bytes, file_size: int, where: str | Path) -> StHeader:
    """Validate a safetensors JSON header (the ``N`` bytes after the length prefix) for a
    file of ``file_size`` bytes. Pure: raises :class:`ModelFormatError` naming ``where``
    for anything malformed."""
    data_start = 8 + len(header)
    data_size = file_size - data_start
    if data_size < 0:
        raise ModelFormatError(where, "header extends past the end of the file")
    if header[:1] != b"{":
        # The reference implementation defines InvalidHeaderStart for this.
        raise ModelFormatError(where, "safetensors header does not start with '{'")
    try:
        text = header.decode("utf-8")
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFormatError(
            where, f"safetensors header is not valid UTF-8 JSON ({exc})"
        ) from None
    if not isinstance(obj, dict):
        raise ModelFormatError(where, "safetensors header is not a JSON object")
    meta_raw = obj.pop("__metadata__", None)
    if meta_raw is None:  # absent or null: no metadata
        meta_raw = {}
    if not isinstance(meta_raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta_raw.items()
    ):
        raise ModelFormatError(where, "__metadata__ must map strings to strings")
    if len(obj) > MAX_TENSOR_COUNT:
        raise ModelFormatError(
            where, f"header declares {len(obj)} tensors, more than the limit {MAX_TENSOR_COUNT}"
        )
    entries: list[StEntry] = []
    for name, spec in obj.items():
        entries.append(_parse_entry(name, spec, data_start, data_size, where))
    findings = _check_layout(entries, data_start, file_size, where)
    return StHeader(tuple(entries), dict(meta_raw), data_start, tuple(findings))


def _parse_entry(
    name: str, spec: object, data_start: int, data_size: int, where: str | Path
) -> StEntry:
    if not name:
        raise ModelFormatError(where, "a tensor has an empty name")
    if not isinstance(spec, dict):
        raise ModelFormatError(where, f"tensor {name!r}: entry is not an object")
    dtype_name = spec.get("dtype")
    shape = spec.get("shape")
    offsets = spec.get("data_offsets")
    if not isinstance(dtype_name, str) or dtype_name not in DTYPES:
        raise ModelFormatError(where, f"tensor {name!r}: unknown dtype {dtype_name!r}")
    if not isinstance(shape, list) or len(shape) > MAX_RANK:
        raise ModelFormatError(
            where, f"tensor {name!r}: shape must be a list of at most {MAX_RANK} ints"
        )
    if not all(_is_int(d) and d >= 0 for d in shape):
        raise ModelFormatError(where, f"tensor {name!r}: shape has a non-integer or negative size")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
        raise ModelFormatError(where, f"tensor {name!r}: data_offsets must be two integers")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise ModelFormatError(
            where, f"tensor {name!r}: data_offsets [{begin}, {end}] are reversed or negative"
        )
    if end > data_size:
        raise ModelFormatError(
            where,
            f"tensor {name!r}: data_offsets end {end} is beyond the data buffer "
            f"({data_size} bytes; file truncated?)",
        )
    dtype = DTYPES[dtype_name]
    numel = 1
    for d in shape:
        numel *= d
    bits = numel * dtype.bits
    if bits % 8:
        raise ModelFormatError(
            where, f"tensor {name!r}: {numel} x {dtype_name} is not a whole number of bytes"
        )
    if bits // 8 != end - begin:
        raise ModelFormatError(
            where,
            f"tensor {name!r}: shape {shape} x {dtype_name} needs {bits // 8} bytes "
            f"but data_offsets span {end - begin}",
        )
    return StEntry(name, dtype, tuple(shape), data_start + begin, data_start + end)


def _check_layout(
    entries: list[StEntry], data_start: int, file_size: int, where: str | Path
) -> list[str]:
    findings: list[str] = []
    pos = data_start
    prev = ""
    for e in sorted((e for e in entries if e.end > e.begin), key=lambda e: (e.begin, e.end)):
        if e.begin < pos:
            raise ModelFormatError(where, f"tensors {prev!r} and {e.name!r} overlap")
        if e.begin > pos:
            findings.append(f"{e.begin - pos} unused bytes before tensor {e.name!r}")
        pos, prev = e.end, e.name
    if pos < file_size:
        findings.append(f"{file_size - pos} unused bytes after the last tensor")
    return findings


def read_header(path: Path) -> StHeader:
    """Read and validate the header of the safetensors file at ``path``."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise ModelFormatError(
                    path, f"file is {size} bytes, too short for a safetensors header"
                )
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_HEADER_BYTES:
                raise ModelFormatError(
                    path, f"header length {n} exceeds the limit {MAX_HEADER_BYTES}"
                )
            if 8 + n > size:
                raise ModelFormatError(
                    path, f"header length {n} exceeds the file size {size} (truncated?)"
                )
            header = f.read(n)
    except OSError as exc:
        raise ModelFormatError(path, f"cannot read: {exc.strerror or exc}") from None
    if len(header) != n:
        raise ModelFormatError(path, "file shrank while reading its header")
    return parse_header(header, size, path)


class SafetensorsSource(TensorSource):
    """One ``.safetensors`` file, memory-mapped."""

    format = "safetensors"

    def __init__(self, path: str | Path) -> None:
        super().__init__(Path(path))
        self.header = read_header(self.path)
        self._entries = {e.name: e for e in self.header.entries}
        self._infos = [
            TensorInfo(e.name, e.shape, e.dtype.name, e.end - e.begin)
            for e in sorted(self.header.entries, key=lambda e: (e.begin, e.name))
        ]
        self._fd: int | None = None
        self._mm: mmap.mmap | None = None

    def tensors(self) -> list[TensorInfo]:
        return list(self._infos)

    def metadata(self) -> Mapping[str, Any]:
        return dict(self.header.metadata)

    def problems(self) -> list[str]:
        return [f"{self.path.name}: {f}" for f in self.header.findings]

    def _map(self) -> mmap.mmap:
        if self._mm is None:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                if os.fstat(fd).st_size < self.header.data_start + max(
                    (e.end - self.header.data_start for e in self.header.entries), default=0
                ):
                    raise ModelFormatError(self.path, "file was truncated after it was opened")
                self._mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
            except BaseException:
                os.close(fd)
                raise
            self._fd = fd
        return self._mm

    def read(self, name: str, rows: slice | None = None) -> np.ndarray:
        e = self._entries.get(name)
        if e is None:
            raise KeyError(name)
        if e.dtype.unreadable:
            raise ModelFormatError(
                self.path, f"tensor {name!r} ({e.dtype.name}): {e.dtype.unreadable}"
            )
        shape = e.shape
        row_elems = 1
        for d in shape[1:]:
            row_elems *= d
        r0, r1 = 0, shape[0] if shape else 1
        step = 1
        if rows is not None:
            if not shape:
                raise ValueError(f"tensor {name!r} is a scalar; rows do not apply")
            r0, r1, step = rows.indices(shape[0])
            if step != 1:
                return self.read(name)[rows]
            r1 = max(r0, r1)
        count = (r1 - r0) * row_elems
        first_bit = r0 * row_elems * e.dtype.bits
        b0 = e.begin + first_bit // 8
        b1 = e.begin + -(-(first_bit + count * e.dtype.bits) // 8)
        skip = (first_bit % 8) // e.dtype.bits
        out_shape = ((r1 - r0), *shape[1:]) if shape else ()
        if count == 0:
            return np.zeros(out_shape, dtype=np.float32)
        mm = self._map()
        view = memoryview(mm)[b0:b1]
        try:
            out = decode(e.dtype, view, count, skip)
        finally:
            view.release()
        self._release(b0, b1)
        return out.reshape(out_shape)

    def _release(self, b0: int, b1: int) -> None:
        """Drop the copied pages from our resident set (the page cache keeps them),
        with :data:`_FAULT_AROUND` bytes either side: a page fault also maps neighbouring
        cached pages, and a thousand sampled reads of a 15 GB model left ~50 MB of them
        mapped."""
        if self._mm is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        start = max(0, (b0 // _PAGE) * _PAGE - _FAULT_AROUND)
        stop = min(len(self._mm), b1 + _FAULT_AROUND)
        with contextlib.suppress(OSError, ValueError):  # advisory only
            self._mm.madvise(mmap.MADV_DONTNEED, start, stop - start)

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
