"""Malformed GGUF headers are refused with ModelFormatError, never a crash or a hang."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelkin.errors import ModelFormatError
from modelkin.io._gguf_header import parse_header
from modelkin.io.gguf import GGUFSource

from .gguf_writer_helpers import make_weights, write_gguf


def _small_gguf(tmp: Path) -> bytes:
    w = {k: v for k, v in make_weights().items() if k.startswith("blk.0.attn_norm")}
    return write_gguf(tmp / "small.gguf", w).read_bytes()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _small_gguf(tmp_path_factory.mktemp("g"))


def _open(tmp: Path, data: bytes) -> None:
    p = tmp / "x.gguf"
    p.write_bytes(data)
    with GGUFSource(p) as src:
        for t in src.tensors():
            if not t.extra["missing"]:
                assert np.isfinite(src.read(t.name)).all()


@pytest.mark.parametrize(
    "patch, problem",
    [
        (lambda b: b"GGUX" + b[4:], "bad magic"),
        (lambda b: b[:4] + struct.pack("<I", 1) + b[8:], "version 1"),
        (lambda b: b[:8] + struct.pack("<Q", 2**40) + b[16:], "tensor count"),
        (lambda b: b[:16] + struct.pack("<Q", 2**40) + b[24:], "metadata count"),
        (lambda b: b[:24] + struct.pack("<Q", 2**62) + b[32:], "string length"),
        (lambda b: b[:300], "truncated"),
        (lambda b: b"", "empty"),
    ],
)
def test_bad_headers_refused(tmp_path: Path, small: bytes, patch: object, problem: str) -> None:
    with pytest.raises(ModelFormatError, match=problem) as ei:
        _open(tmp_path, patch(small))  # type: ignore[operator]
    assert ei.value.where is not None and "x.gguf" in ei.value.where


def test_overlapping_and_misaligned_tensors_refused(tmp_path: Path, small: bytes) -> None:
    # the only tensor's offset field is the last 8 bytes of the header before padding
    hdr = parse_header(small, tmp_path / "s")
    assert len(hdr.tensors) == 1
    pos = small.find(b"blk.0.attn_norm.weight") + len("blk.0.attn_norm.weight") + 4 + 8 + 4
    assert struct.unpack_from("<Q", small, pos)[0] == 0
    bad = small[:pos] + struct.pack("<Q", 3) + small[pos + 8 :]
    with pytest.raises(ModelFormatError, match="multiple of"):
        _open(tmp_path, bad)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_fuzz_header_parses_or_refuses(tmp_path: Path, small: bytes, data: st.DataObject) -> None:
    buf = bytearray(small)
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(buf)))
    with contextlib.suppress(ModelFormatError):
        _open(tmp_path, bytes(buf[:cut]))
