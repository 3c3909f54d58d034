"""Lazy, bounded walk of an ONNX ``ModelProto``: the graph without the initializer data.

Why: ``onnx.load`` parses the whole protobuf, weights included, so a 69 MB model costs
~260 MB of memory and a 1.5 GB one ~3 GB. This walker reads the protobuf wire format
(protobuf encoding spec: a message is a sequence of ``tag = field << 3 | wire_type``
varints, each followed by a varint (type 0), 8 bytes (1), a varint length and that many
bytes (2) or 4 bytes (5); groups, types 3 and 4, are refused). It copies every field of
the model and the graph except the initializers' data, which it leaves in the file and
records as byte spans: the parsed (light) messages are then small, whatever the model
size. Field numbers are those of ``onnx/onnx.proto3``: ``ModelProto.graph = 7``,
``GraphProto.initializer = 5``, ``TensorProto`` ``float_data = 4``, ``int32_data = 5``,
``string_data = 6``, ``int64_data = 7``, ``raw_data = 9``, ``double_data = 10``,
``uint64_data = 11``.

Every length is checked against the end of its enclosing message before it is used, and
concatenated field bytes parse as the merge of those fields (protobuf semantics), so a
repeated ``graph`` field still means what ``onnx.load`` would make of it.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

from onnx import GraphProto, ModelProto, TensorProto

from modelkin.errors import ModelFormatError

_MODEL_GRAPH = 7
_GRAPH_INITIALIZER = 5
_FLOAT_DATA, _RAW_DATA, _DOUBLE_DATA = 4, 9, 10
#: TensorProto fields holding values (everything else is small metadata).
_DATA_FIELDS = frozenset({4, 5, 6, 7, 9, 10, 11})
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


@dataclass(frozen=True)
class DataSpan:
    """Where an initializer's values lie in the ``.onnx`` file.

    ``field`` is the TensorProto field holding them (``raw_data``, or a packed
    ``float_data``/``double_data``, whose bytes are little-endian values exactly as
    ``raw_data`` would hold them: ``raw`` is then true); ``offset``/``length`` locate
    those bytes. ``message`` is the span of the whole TensorProto, re-parsed on its own
    for the other encodings (varint-packed ``int32_data`` and the like)."""

    field: int
    offset: int
    length: int
    message: tuple[int, int]
    raw: bool


@dataclass
class LazyModel:
    """A model whose initializers carry no data (``spans`` says where it is)."""

    model: ModelProto
    spans: dict[str, DataSpan]


class _Reader:
    """Bounded protobuf wire-format reader over a buffer."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.path = path

    def fail(self, what: str) -> ModelFormatError:
        return ModelFormatError(self.path, f"not a valid ONNX protobuf ({what})")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        """(value, next position) of the varint at ``pos`` (at most 10 bytes)."""
        value = shift = 0
        buf = self.buf
        for _ in range(10):
            if pos >= end:
                raise self.fail(f"varint runs past the end of its message at byte {pos}")
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if b < 0x80:
                return value, pos
            shift += 7
        raise self.fail(f"varint longer than 10 bytes at byte {pos}")

    def fields(self, pos: int, end: int) -> list[tuple[int, int, int, int, int]]:
        """``(field, wire_type, field_start, payload_start, payload_end)`` of every field
        of the message in ``[pos, end)``, in order."""
        out = []
        while pos < end:
            start = pos
            tag, pos = self.varint(pos, end)
            field, wt = tag >> 3, tag & 7
            if field == 0:
                raise self.fail(f"field number 0 at byte {start}")
            if wt == _VARINT:
                _, nxt = self.varint(pos, end)
            elif wt == _I64:
                nxt = pos + 8
            elif wt == _I32:
                nxt = pos + 4
            elif wt == _LEN:
                n, pos = self.varint(pos, end)
                nxt = pos + n
            else:
                raise self.fail(f"unsupported wire type {wt} at byte {start}")
            if nxt > end:
                raise self.fail(f"field {field} at byte {start} runs past the end of its message")
            out.append((field, wt, start, pos, nxt))
            pos = nxt
        return out


def _tensor(r: _Reader, start: int, end: int) -> tuple[TensorProto, DataSpan | None]:
    """The TensorProto in ``[start, end)`` without its values, and where they are."""
    light = bytearray()
    data: list[tuple[int, int, int, int]] = []
    for field, wt, fstart, p0, p1 in r.fields(start, end):
        if field in _DATA_FIELDS:
            data.append((field, wt, p0, p1))
        else:
            light += r.buf[fstart:p1]
    try:
        proto = TensorProto.FromString(bytes(light))
    except Exception as exc:  # protobuf raises DecodeError, RuntimeError...
        raise r.fail(f"initializer at byte {start}: {exc}") from None
    if not data:
        return proto, None
    field, wt, p0, p1 = data[0]
    raw = (
        len(data) == 1
        and wt == _LEN
        and (
            field == _RAW_DATA
            or (field == _FLOAT_DATA and proto.data_type == TensorProto.FLOAT)
            or (field == _DOUBLE_DATA and proto.data_type == TensorProto.DOUBLE)
        )
    )
    return proto, DataSpan(field, p0, p1 - p0, (start, end), raw)


def load_lazy(buf: mmap.mmap | bytes, path: Path) -> LazyModel:
    """Parse the ``ModelProto`` in ``buf`` (the whole ``.onnx`` file) without the
    initializer values: the returned model's initializers have metadata only."""
    r = _Reader(buf, path)
    model_rest = bytearray()
    graph_rest = bytearray()
    inits: list[TensorProto] = []
    spans: dict[str, DataSpan] = {}
    for field, wt, fstart, p0, p1 in r.fields(0, len(buf)):
        if field != _MODEL_GRAPH or wt != _LEN:
            model_rest += buf[fstart:p1]
            continue
        for gfield, gwt, gstart, q0, q1 in r.fields(p0, p1):
            if gfield != _GRAPH_INITIALIZER or gwt != _LEN:
                graph_rest += buf[gstart:q1]
                continue
            proto, span = _tensor(r, q0, q1)
            if span is not None:
                spans[proto.name] = span
            inits.append(proto)
    try:
        model = ModelProto.FromString(bytes(model_rest))
        graph = GraphProto.FromString(bytes(graph_rest))
    except Exception as exc:  # protobuf raises DecodeError, RuntimeError...
        raise r.fail(str(exc)) from None
    graph.initializer.extend(inits)
    model.graph.CopyFrom(graph)
    return LazyModel(model, spans)
