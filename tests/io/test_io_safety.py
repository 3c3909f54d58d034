"""Untrusted safetensors files: every malformation is a ModelFormatError naming the file."""

from __future__ import annotations

import contextlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from io_helpers import save_tensors, write_raw

import modelkin.io.safetensors_file as stf
from modelkin.errors import ModelFormatError
from modelkin.io import open_model
from modelkin.io.safetensors_file import SafetensorsSource, parse_header


def _f32(n: int, begin: int = 0) -> dict[str, object]:
    return {"dtype": "F32", "shape": [n], "data_offsets": [begin, begin + 4 * n]}


def _refused(path: Path, match: str) -> None:
    with pytest.raises(ModelFormatError, match=match) as exc:
        src = open_model(path)
        src.close()
    assert str(path) in str(exc.value)


def test_truncated_data(tmp_path: Path) -> None:
    good = save_tensors(tmp_path / "g.safetensors", {"a": np.ones((64, 64), np.float32)})
    raw = good.read_bytes()
    bad = tmp_path / "t.safetensors"
    bad.write_bytes(raw[:-100])
    _refused(bad, "beyond the data buffer")


@pytest.mark.parametrize("cut", [0, 3, 7])
def test_shorter_than_length_prefix(tmp_path: Path, cut: int) -> None:
    p = tmp_path / "s.safetensors"
    p.write_bytes(b"\x10\0\0\0\0\0\0\0"[:cut])
    _refused(p, "too short")


def test_header_length_beyond_file(tmp_path: Path) -> None:
    p = write_raw(tmp_path / "l.safetensors", {"a": _f32(1)}, b"\0" * 4, length=10_000)
    _refused(p, "exceeds the file size")


def test_header_length_beyond_limit(tmp_path: Path) -> None:
    p = write_raw(tmp_path / "l.safetensors", b"{}", length=2**63)
    _refused(p, "exceeds the limit")


def test_offsets_out_of_range(tmp_path: Path) -> None:
    p = write_raw(tmp_path / "o.safetensors", {"a": _f32(4, begin=8)}, b"\0" * 16)
    _refused(p, "beyond the data buffer")


def test_overlapping_tensors(tmp_path: Path) -> None:
    p = write_raw(tmp_path / "o.safetensors", {"a": _f32(4), "b": _f32(2, begin=8)}, b"\0" * 16)
    _refused(p, "overlap")


def test_shape_does_not_match_span(tmp_path: Path) -> None:
    p = write_raw(
        tmp_path / "m.safetensors",
        {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}},
        b"\0" * 16,
    )
    _refused(p, "needs 12 bytes")


def test_absurd_tensor_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stf, "MAX_TENSOR_COUNT", 10)
    hdr = {f"t{i}": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(11)}
    p = write_raw(tmp_path / "c.safetensors", hdr, b"\0" * 11)
    _refused(p, "11 tensors")


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (b"{\xff\xfe}", "not valid UTF-8 JSON"),
        (b"[1, 2]", "does not start with"),
        (b' {"a": 1}', "does not start with"),
        (b'{"a": 1}', "not an object"),
        (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {}}', "duplicate"),
        (b'{"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 4]}}', "unknown dtype"),
        (b'{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}', "negative"),
        (b'{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}', "non-integer"),
        (b'{"a": {"dtype": "F32", "shape": [true], "data_offsets": [0, 4]}}', "non-integer"),
        (
            b'{"a": {"dtype": "F32", "shape": [1,1,1,1,1,1,1,1,1], "data_offsets": [0, 4]}}',
            "at most 8",
        ),
        (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}', "reversed"),
        (b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}', "two integers"),
        (b'{"__metadata__": {"k": 1}}', "__metadata__"),
        (b'{"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', "empty name"),
        (b"[" * 100_000 + b"]" * 100_000, "does not start with"),
        (b"{" * 100_000 + b"}" * 100_000, "not valid UTF-8 JSON"),
    ],
)
def test_malformed_headers(tmp_path: Path, header: bytes, match: str) -> None:
    p = write_raw(tmp_path / "bad.safetensors", header, b"\0" * 4)
    _refused(p, match)


def test_unknown_suffix_and_missing_path(tmp_path: Path) -> None:
    junk = tmp_path / "weights.xyz"
    junk.write_bytes(b"hello world, not a model")
    _refused(junk, "unrecognised model format")
    with pytest.raises(ModelFormatError, match="no such file"):
        open_model(tmp_path / "absent.safetensors")


def test_sniffs_safetensors_without_suffix(tmp_path: Path) -> None:
    p = save_tensors(tmp_path / "weights", {"a": np.ones(3, np.float32)})
    with open_model(p) as src:
        assert src.format == "safetensors"


def test_file_truncated_after_open(tmp_path: Path) -> None:
    p = save_tensors(tmp_path / "g.safetensors", {"a": np.ones((64, 64), np.float32)})
    src = SafetensorsSource(p)
    with p.open("r+b") as f:
        f.truncate(200)
    with pytest.raises(ModelFormatError, match="truncated"):
        src.read("a")
    src.close()


# -- fuzzing -------------------------------------------------------------------------

_entry = st.fixed_dictionaries(
    {
        "dtype": st.sampled_from(["F32", "F16", "BF16", "I8", "F4", "F6_E2M3", "C64", "BOOL", "X"]),
        "shape": st.lists(st.integers(-2, 6), max_size=4),
        "data_offsets": st.lists(st.integers(-4, 300), min_size=0, max_size=3),
    }
)
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.binary(max_size=256), size=st.integers(0, 1024))
def test_fuzz_raw_bytes(header: bytes, size: int) -> None:
    try:
        parse_header(header, size, "fuzz.safetensors")
    except ModelFormatError as exc:
        assert "fuzz.safetensors" in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.dictionaries(st.text(max_size=4), _entry | _json_value, max_size=5),
    meta=_json_value,
    size=st.integers(0, 400),
)
def test_fuzz_structured_headers(entries: dict[str, object], meta: object, size: int) -> None:
    obj = dict(entries)
    if meta is not None:
        obj["__metadata__"] = meta
    header = json.dumps(obj).encode()
    try:
        h = parse_header(header, 8 + len(header) + size, "fuzz.safetensors")
    except ModelFormatError as exc:
        assert "fuzz.safetensors" in str(exc)
        return
    # What parses is consistent: in range and non-overlapping.
    spans = sorted((e.begin, e.end) for e in h.entries if e.end > e.begin)
    for (_, e0), (b1, _) in itertools.pairwise(spans):
        assert e0 <= b1
    assert all(h.data_start <= e.begin <= e.end <= 8 + len(header) + size for e in h.entries)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=0, max_size=300))
def test_fuzz_whole_files(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "f.safetensors"
    p.write_bytes(data)
    try:
        with open_model(p) as src:
            for t in src.tensors():
                with contextlib.suppress(ModelFormatError):
                    src.read(t.name)
    except ModelFormatError as exc:
        assert str(p) in str(exc)


def _valid_file_bytes() -> bytes:
    hdr = {
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "BF16", "shape": [4], "data_offsets": [24, 32]},
        "c": {"dtype": "F4", "shape": [2, 2], "data_offsets": [32, 34]},
        "__metadata__": {"format": "pt"},
    }
    h = json.dumps(hdr).encode()
    return len(h).to_bytes(8, "little") + h + bytes(range(34))


_VALID = _valid_file_bytes()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=4),
    cut=st.one_of(st.just(len(_VALID)), st.integers(0, len(_VALID))),
)
def test_fuzz_mutated_valid_file(tmp_path: Path, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(_VALID)
    for pos, byte in edits:
        data[pos] = byte
    p = tmp_path / "mut.safetensors"
    p.write_bytes(bytes(data[:cut]))
    try:
        with open_model(p) as src:
            for t in src.tensors():
                arr = src.read(t.name)
                assert arr.dtype == np.float32 and arr.shape == t.shape
    except ModelFormatError as exc:
        assert str(p) in str(exc)
