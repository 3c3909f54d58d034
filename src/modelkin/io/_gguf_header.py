"""Bounded parser for the GGUF header (metadata key/values and the tensor table).

Why our own parser: ``gguf.GGUFReader`` memory-maps the file and trusts every length in
the header, so a hostile file can make it allocate or index without limit. This parser
checks every length against the bytes that remain and against fixed caps *before* using
it, and it separates two kinds of damage: a malformed header (always an error) and a data
section cut short (the header is still good: tensors past the end are reported missing).

Layout (ggml ``docs/gguf.md``, versions 2 and 3; version 1 used 32-bit counts and is
refused): ``"GGUF"`` magic, ``uint32 version``, ``uint64 tensor_count``, ``uint64
kv_count``; ``kv_count`` × (string key, ``uint32`` value type, value); ``tensor_count``
× (string name, ``uint32 n_dims``, ``n_dims`` × ``uint64`` ne, ``uint32 ggml_type``,
``uint64 offset``); padding to ``general.alignment`` (default 32); tensor data, each
tensor at ``data_start + offset`` (offset a multiple of the alignment). Strings are
``uint64`` length + UTF-8 bytes. All little-endian.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelFormatError
from modelkin.io.base import MAX_HEADER_BYTES, MAX_RANK, MAX_TENSOR_COUNT

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
#: Arrays nested deeper than this are refused (real files nest at most once).
MAX_ARRAY_DEPTH = 2
#: Bound on any one dimension and on a tensor's element count (2**48: far above any model).
MAX_NUMEL = 1 << 48

# GGUF metadata value types (gguf.md, ``gguf_metadata_value_type``).
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),  # uint8
    1: ("<b", 1),  # int8
    2: ("<H", 2),  # uint16
    3: ("<h", 2),  # int16
    4: ("<I", 4),  # uint32
    5: ("<i", 4),  # int32
    6: ("<f", 4),  # float32
    7: ("<?", 1),  # bool
    10: ("<Q", 8),  # uint64
    11: ("<q", 8),  # int64
    12: ("<d", 8),  # float64
}
_NP: dict[int, str] = {
    0: "<u1",
    1: "<i1",
    2: "<u2",
    3: "<i2",
    4: "<u4",
    5: "<i4",
    6: "<f4",
    7: "<u1",
    10: "<u8",
    11: "<i8",
    12: "<f8",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class RawTensor:
    """One row of the tensor table: ``ne`` in GGML order (``ne[0]`` is the fastest-varying
    axis, i.e. the row length); ``offset`` is absolute in the file."""

    name: str
    ne: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass
class Header:
    """The parsed header: ``kv`` metadata (arrays of numbers as lists), the tensor table,
    where tensor data starts, the alignment and the file size."""

    version: int
    kv: dict[str, Any]
    tensors: list[RawTensor]
    data_start: int
    alignment: int
    file_size: int
    problems: list[str] = field(default_factory=list)


class _Cursor:
    """Reads little-endian values from a buffer, refusing to run past its end."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.size = len(buf)
        self.path = path

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise ModelFormatError(
                self.path,
                f"header truncated or corrupt: {what} needs {n} bytes at offset {self.pos},"
                f" file has {self.size}",
            )

    def scalar(self, fmt: str, n: int, what: str) -> Any:
        self.need(n, what)
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return v

    def u32(self, what: str) -> int:
        return int(self.scalar("<I", 4, what))

    def u64(self, what: str) -> int:
        return int(self.scalar("<Q", 8, what))

    def string(self, what: str) -> str:
        n = self.u64(f"length of {what}")
        if n > MAX_HEADER_BYTES:
            raise ModelFormatError(self.path, f"{what}: string length {n} exceeds the limit")
        self.need(n, what)
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            # Token texts may hold partial UTF-8 sequences (byte-level tokens). Keep them
            # distinct and still encodable (JSON, digests): invalid bytes become "\xNN".
            return raw.decode("utf-8", errors="backslashreplace")

    def value(self, vtype: int, what: str, depth: int = 0) -> Any:
        if vtype in _SCALARS:
            fmt, n = _SCALARS[vtype]
            return self.scalar(fmt, n, what)
        if vtype == _STRING:
            return self.string(what)
        if vtype == _ARRAY:
            if depth >= MAX_ARRAY_DEPTH:
                raise ModelFormatError(self.path, f"{what}: arrays nested too deep")
            etype = self.u32(f"element type of {what}")
            count = self.u64(f"length of {what}")
            if etype in _SCALARS:
                size = _SCALARS[etype][1]
                if count > (self.size - self.pos) // size:
                    raise ModelFormatError(
                        self.path, f"{what}: array of {count} elements runs past the end of file"
                    )
                arr = np.frombuffer(self.buf, dtype=_NP[etype], count=count, offset=self.pos)
                self.pos += count * size
                return arr.astype(bool).tolist() if etype == 7 else arr.tolist()
            if etype in (_STRING, _ARRAY):
                # Each element takes at least 8 bytes (a length or a type+count).
                if count > (self.size - self.pos) // 8:
                    raise ModelFormatError(
                        self.path, f"{what}: array of {count} elements runs past the end of file"
                    )
                return [self.value(etype, f"{what}[{i}]", depth + 1) for i in range(count)]
            raise ModelFormatError(self.path, f"{what}: unknown array element type {etype}")
        raise ModelFormatError(self.path, f"{what}: unknown value type {vtype}")


def parse_header(buf: mmap.mmap | bytes, path: Path) -> Header:
    """Parse and bound-check the header in ``buf`` (the whole file, memory-mapped).

    Raises :class:`ModelFormatError` for a malformed header; tensors whose data lies past
    the end of a truncated file are kept in the table and named in ``problems``."""
    c = _Cursor(buf, path)
    c.need(4, "magic")
    if bytes(buf[0:4]) != MAGIC:
        raise ModelFormatError(path, "not a GGUF file (bad magic)")
    c.pos = 4
    version = c.u32("version")
    if version not in (2, 3):
        raise ModelFormatError(path, f"unsupported GGUF version {version} (2 and 3 are read)")
    n_tensors = c.u64("tensor count")
    n_kv = c.u64("metadata count")
    # Each kv takes >= 8+4+1 bytes and each tensor entry >= 8+4+4+8 bytes.
    if n_tensors > MAX_TENSOR_COUNT or n_tensors > c.size // 24:
        raise ModelFormatError(path, f"implausible tensor count {n_tensors}")
    if n_kv > MAX_TENSOR_COUNT or n_kv > c.size // 13:
        raise ModelFormatError(path, f"implausible metadata count {n_kv}")

    kv: dict[str, Any] = {}
    for i in range(n_kv):
        key = c.string(f"metadata key #{i}")
        vtype = c.u32(f"type of metadata {key!r}")
        kv[key] = c.value(vtype, f"metadata {key!r}")

    raw: list[tuple[str, tuple[int, ...], int, int]] = []
    seen: set[str] = set()
    for i in range(n_tensors):
        name = c.string(f"name of tensor #{i}")
        if name in seen:
            raise ModelFormatError(path, f"tensor {name!r} is listed twice")
        seen.add(name)
        n_dims = c.u32(f"rank of tensor {name!r}")
        if not 1 <= n_dims <= MAX_RANK:
            raise ModelFormatError(path, f"tensor {name!r} has rank {n_dims}")
        ne = tuple(c.u64(f"shape of tensor {name!r}") for _ in range(n_dims))
        numel = 1
        for d in ne:
            if not 0 < d <= MAX_NUMEL:
                raise ModelFormatError(path, f"tensor {name!r} has dimension {d}")
            numel *= d
        if numel > MAX_NUMEL:
            raise ModelFormatError(path, f"tensor {name!r} has {numel} elements")
        gtype = c.u32(f"type of tensor {name!r}")
        offset = c.u64(f"offset of tensor {name!r}")
        raw.append((name, ne, gtype, offset))

    alignment = kv.get("general.alignment", DEFAULT_ALIGNMENT)
    if (
        not isinstance(alignment, int)
        or isinstance(alignment, bool)
        or not 1 <= alignment <= 1 << 20
        or alignment & (alignment - 1)
    ):
        raise ModelFormatError(path, f"general.alignment {alignment!r} is not a power of two")
    data_start = -(-c.pos // alignment) * alignment
    tensors = []
    for name, ne, gtype, offset in raw:
        if offset % alignment:
            raise ModelFormatError(
                path, f"tensor {name!r} offset {offset} is not a multiple of {alignment}"
            )
        if offset > MAX_NUMEL:
            raise ModelFormatError(path, f"tensor {name!r} offset {offset} is implausible")
        tensors.append(RawTensor(name, ne, gtype, data_start + offset))
    return Header(version, kv, tensors, data_start, alignment, c.size)
