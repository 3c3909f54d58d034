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

import array
import contextlib
import mmap
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

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
_U64 = struct.Struct("<Q")
#: Top-level arrays with at least this many elements are not decoded while parsing (see
#: :class:`LazyArray`); per-layer arrays (one entry per block) stay far below it.
LAZY_MIN = 1024


@dataclass(frozen=True)
class LazyArray:
    """A large metadata array left in the file: element type, length and where its first
    element starts. Why: a tokenizer's ``tokens``/``scores``/``token_type`` arrays hold
    ~262k entries in recent models; decoded eagerly as Python objects they cost tens of MB
    that most callers never look at. :func:`load_numbers` and :func:`load_strings` decode
    one on demand from the same (bounds-checked) buffer."""

    etype: int
    count: int
    offset: int
    #: For a string array: the end offset of each element relative to ``offset`` (found
    #: while the header was validated, so that decoding needs no second pass).
    ends: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return self.count


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
    """The parsed header: ``kv`` metadata (small arrays as lists, arrays of
    :data:`LAZY_MIN` or more elements as :class:`LazyArray`), the tensor table,
    where tensor data starts, the alignment and the file size."""

    version: int
    kv: dict[str, Any]
    tensors: list[RawTensor]
    data_start: int
    alignment: int
    file_size: int
    problems: list[str] = field(default_factory=list)


def _text(raw: bytes) -> str:
    """A GGUF string's bytes as ``str``. Token texts may hold partial UTF-8 sequences
    (byte-level tokens): keep them distinct and still encodable (JSON, digests) by
    turning invalid bytes into ``"\\xNN"``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="backslashreplace")


class PackedStrings(Sequence[str]):
    """A read-only list of strings kept as the GGUF array's bytes (each string behind its
    ``uint64`` length) plus the end offset of each, decoded when asked for. Why: 262k
    token texts as ``str`` objects cost ~20 MB (a non-ASCII ``str`` carries ~75 bytes of
    overhead); packed they cost ~6 MB. It compares equal to any sequence holding the same
    strings; slices come back as ``list``."""

    __slots__ = ("_blob", "_ends")
    #: Strings decoded per batch when iterating (bounds the Python ints made from offsets).
    _BATCH = 4096

    def __init__(self, blob: bytes, ends: np.ndarray) -> None:
        self._blob = blob
        self._ends = ends

    def __len__(self) -> int:
        return len(self._ends)

    def _start(self, i: int) -> int:
        return (int(self._ends[i - 1]) if i else 0) + 8

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> list[str]: ...
    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step == 1:
                return list(self._range(start, stop))
            return [self[j] for j in range(start, stop, step)]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("PackedStrings index out of range")
        i %= n
        return _text(self._blob[self._start(i) : int(self._ends[i])])

    def __iter__(self) -> Iterator[str]:
        return self._range(0, len(self))

    def _range(self, start: int, stop: int) -> Iterator[str]:
        """Strings ``start..stop-1`` (0 <= start, stop <= len), in batches."""
        blob = self._blob
        for lo in range(start, stop, self._BATCH):
            prev = self._start(lo) - 8
            for end in self._ends[lo : min(lo + self._BATCH, stop)].tolist():
                raw = blob[prev + 8 : end]
                prev = end
                try:  # inlined fast path of _text (this loop runs once per token)
                    yield raw.decode("utf-8")
                except UnicodeDecodeError:
                    yield raw.decode("utf-8", errors="backslashreplace")

    def raw_batches(self, size: int = _BATCH) -> Iterator[tuple[list[bytes], bool]]:
        """The stored bytes of the strings, ``size`` at a time, each batch with whether
        all of it is valid UTF-8 (then each ``bytes`` is exactly its string's UTF-8
        text). Lets hashing read the blob without making 262k ``str`` objects."""
        blob, ends = self._blob, self._ends
        getb = blob.__getitem__
        for lo in range(0, len(ends), size):
            e = ends[lo : lo + size]
            s = np.empty_like(e)
            s[1:] = e[:-1]
            s[0] = ends[lo - 1] if lo else 0
            chunks = list(map(getb, map(slice, (s + 8).tolist(), e.tolist())))
            try:  # an ASCII separator cannot complete or continue a multi-byte sequence,
                b"\n".join(chunks).decode("utf-8")  # so this checks every string at once
                valid = True
            except UnicodeDecodeError:
                valid = False
            yield chunks, valid

    def crc32s(self) -> np.ndarray:
        """``zlib.crc32`` of each string's UTF-8 text as uint32, without making ``str``
        objects: the stored bytes are the text's UTF-8 wherever they are valid UTF-8; the
        rare invalid ones (decoded with backslash escapes) are hashed from their text."""
        out = np.empty(len(self), dtype=np.uint32)
        lo = 0
        for chunks, valid in self.raw_batches():
            out[lo : lo + len(chunks)] = list(map(zlib.crc32, chunks))
            if not valid:
                for k, raw in enumerate(chunks):
                    try:
                        raw.decode("utf-8")
                    except UnicodeDecodeError:
                        out[lo + k] = zlib.crc32(_text(raw).encode("utf-8"))
            lo += len(chunks)
        return out

    def nonempty(self) -> np.ndarray:
        """Boolean mask of the non-empty strings."""
        return np.diff(self._ends, prepend=0) > 8

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PackedStrings({len(self)} strings)"


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
        raw = self.buf[self.pos : self.pos + n]
        self.pos += n
        return _text(raw)

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
                if depth == 0 and count >= LAZY_MIN:
                    lazy = LazyArray(etype, count, self.pos)
                    self.pos += count * size
                    return lazy
                arr = np.frombuffer(self.buf, dtype=_NP[etype], count=count, offset=self.pos)
                self.pos += count * size
                return arr.astype(bool).tolist() if etype == 7 else arr.tolist()
            if etype in (_STRING, _ARRAY):
                # Each element takes at least 8 bytes (a length or a type+count).
                if count > (self.size - self.pos) // 8:
                    raise ModelFormatError(
                        self.path, f"{what}: array of {count} elements runs past the end of file"
                    )
                if etype == _STRING and depth == 0 and count >= LAZY_MIN:
                    start = self.pos
                    self.pos, ends = _scan_strings(self.buf, start, count, self.size)
                    if len(ends) < count:  # the scan stopped at the bad element
                        i = len(ends)
                        self.pos = start + (int(ends[-1]) if i else 0)
                        n = self.u64(f"length of {what}[{i}]")
                        if n > MAX_HEADER_BYTES:
                            raise ModelFormatError(
                                self.path, f"{what}[{i}]: string length {n} exceeds the limit"
                            )
                        self.need(n, f"{what}[{i}]")
                    return LazyArray(etype, count, start, ends)
                return [self.value(etype, f"{what}[{i}]", depth + 1) for i in range(count)]
            raise ModelFormatError(self.path, f"{what}: unknown array element type {etype}")
        raise ModelFormatError(self.path, f"{what}: unknown value type {vtype}")


def _scan_strings(
    buf: mmap.mmap | bytes, pos: int, count: int, size: int
) -> tuple[int, np.ndarray]:
    """Skip ``count`` GGUF strings starting at ``pos`` without decoding them: returns the
    position after the last one and each string's end relative to ``pos``. Stops early
    (fewer ends than ``count``) before the first string whose length is over
    :data:`MAX_HEADER_BYTES` or runs past ``size``, so the caller can name the bad element.

    Why so terse: this loop runs once per token (262k for Gemma 3). Bounds are checked in
    bulk afterwards; a length that jumps past the buffer makes the next ``unpack_from``
    fail, which ends the loop. ~40 ms instead of ~500 ms through ``_Cursor``."""
    ends = array.array("q")
    push = ends.append
    unpack = _U64.unpack_from
    start = pos
    with contextlib.suppress(struct.error, OverflowError):
        for _ in range(count):
            pos += 8 + unpack(buf, pos)[0]
            push(pos - start)
    rel = np.frombuffer(ends, dtype=np.int64) if len(ends) else np.zeros(0, np.int64)
    lengths = np.diff(rel, prepend=0) - 8
    bad = np.flatnonzero((rel > size - start) | (lengths > MAX_HEADER_BYTES))
    if bad.size:
        rel = rel[: int(bad[0])]
    return start + (int(rel[-1]) if rel.size else 0), rel


def load_numbers(buf: mmap.mmap | bytes, arr: LazyArray) -> np.ndarray:
    """A numeric :class:`LazyArray` as a numpy array (a copy: it does not pin ``buf``;
    bools as ``bool``). Its bounds were checked when the header was parsed."""
    if arr.etype not in _NP:
        raise TypeError(f"not a numeric array (element type {arr.etype})")
    out = np.frombuffer(buf, dtype=_NP[arr.etype], count=arr.count, offset=arr.offset)
    return out.astype(bool) if arr.etype == 7 else out.copy()


def load_strings(buf: mmap.mmap | bytes, arr: LazyArray, path: Path) -> PackedStrings:
    """A string :class:`LazyArray` as :class:`PackedStrings` (each element decoded as the
    eager parser decodes single strings). The array's bytes are copied once, so the
    result does not pin ``buf``."""
    if arr.etype != _STRING:
        raise TypeError(f"not a string array (element type {arr.etype})")
    if arr.ends is not None and len(arr.ends) == arr.count:
        end = arr.offset + (int(arr.ends[-1]) if arr.count else 0)
        if end > len(buf):
            raise ModelFormatError(path, "string array runs past the end of file")
        return PackedStrings(bytes(buf[arr.offset : end]), arr.ends)
    ends = np.empty(arr.count, dtype=np.int64)
    pos, size, unpack = arr.offset, len(buf), struct.Struct("<Q").unpack_from
    for i in range(arr.count):
        # parse_header already bounds-checked these lengths; re-check (cheap) anyway.
        if pos + 8 > size or pos + 8 + unpack(buf, pos)[0] > size:
            raise ModelFormatError(path, f"string array element {i} runs past the end of file")
        pos += 8 + unpack(buf, pos)[0]
        ends[i] = pos
    ends -= arr.offset
    return PackedStrings(bytes(buf[arr.offset : pos]), ends)


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
