"""Our safetensors reader against the reference implementation, for every dtype."""

from __future__ import annotations

import re
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import torch
from io_helpers import save_tensors, write_raw
from safetensors.torch import save_file as torch_save_file

from modelkin.errors import ModelFormatError
from modelkin.io import open_model
from modelkin.io.safetensors_file import SafetensorsSource

TORCH_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "U16": torch.uint16,
    "U32": torch.uint32,
    "U64": torch.uint64,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "F8_E4M3FNUZ": torch.float8_e4m3fnuz,
    "F8_E5M2FNUZ": torch.float8_e5m2fnuz,
    "F8_E8M0": torch.float8_e8m0fnu,
}


def _sample(dtype: torch.dtype) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    base = torch.randn(7, 5, generator=g, dtype=torch.float64) * 8
    if dtype == torch.bool:
        return base > 0
    if dtype == torch.float8_e8m0fnu:  # powers of two only
        return torch.exp2(torch.randint(-10, 10, (7, 5), generator=g).double()).to(dtype)
    if not dtype.is_floating_point:
        lo = 0 if dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64) else -100
        return torch.randint(lo, 100, (7, 5), generator=g).to(dtype)
    return base.to(dtype)


@pytest.mark.parametrize("name", sorted(TORCH_DTYPES))
def test_every_dtype_matches_torch(tmp_path: Path, name: str) -> None:
    dt = TORCH_DTYPES[name]
    t = _sample(dt)
    path = tmp_path / "x.safetensors"
    torch_save_file({"w": t}, str(path))
    expected = t.to(torch.float64).numpy().astype(np.float32)
    with SafetensorsSource(path) as src:
        (info,) = src.tensors()
        assert (info.name, info.dtype, info.shape) == ("w", name, (7, 5))
        assert info.nbytes == t.numel() * t.element_size()
        got = src.read("w")
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(src.read("w", slice(2, 5)), expected[2:5])
        np.testing.assert_array_equal(src.read("w", slice(5, 2)), expected[5:2])
        np.testing.assert_array_equal(src.read("w", slice(None, None, 2)), expected[::2])


def test_numpy_written_file_and_metadata(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4, 5)).astype(np.float32)
    path = save_tensors(
        tmp_path / "m.safetensors", {"a": a, "s": np.float32(2.5).reshape(())}, {"k": "v"}
    )
    with open_model(path) as src:
        assert src.format == "safetensors"
        assert src.metadata() == {"k": "v"}
        np.testing.assert_array_equal(src.read("a", slice(1, 3)), a[1:3])
        assert src.read("s").shape == () and float(src.read("s")) == 2.5
        assert src.problems() == []


def test_f4_packing_low_nibble_first(tmp_path: Path) -> None:
    # OCP MX E2M1 code points 0..15: 0, .5, 1, 1.5, 2, 3, 4, 6 and their negatives.
    values = [
        0.0,
        0.5,
        1.0,
        1.5,
        2.0,
        3.0,
        4.0,
        6.0,
        -0.0,
        -0.5,
        -1.0,
        -1.5,
        -2.0,
        -3.0,
        -4.0,
        -6.0,
    ]
    codes = np.array([3, 14, 0, 7, 9, 1, 15, 2, 4, 4, 11, 6], dtype=np.uint8)  # 3 rows x 4
    packed = (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8).tobytes()
    hdr = {"q": {"dtype": "F4", "shape": [3, 4], "data_offsets": [0, len(packed)]}}
    path = write_raw(tmp_path / "f4.safetensors", hdr, packed)
    expected = np.array([values[c] for c in codes], dtype=np.float32).reshape(3, 4)
    with SafetensorsSource(path) as src:
        np.testing.assert_array_equal(src.read("q"), expected)
        np.testing.assert_array_equal(src.read("q", slice(1, 2)), expected[1:2])
    # Rows that start mid-byte (3 values per row).
    hdr = {"q": {"dtype": "F4", "shape": [4, 3], "data_offsets": [0, len(packed)]}}
    path = write_raw(tmp_path / "f4b.safetensors", hdr, packed)
    with SafetensorsSource(path) as src:
        np.testing.assert_array_equal(src.read("q", slice(1, 3)), expected.reshape(4, 3)[1:3])
    assert ml_dtypes.float4_e2m1fn(6.0) == 6.0


def test_f4_with_odd_element_count_is_refused(tmp_path: Path) -> None:
    path = write_raw(
        tmp_path / "f4.safetensors",
        {"q": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}},
        b"\0\0",
    )
    with pytest.raises(ModelFormatError, match="whole number of bytes"):
        SafetensorsSource(path)


@pytest.mark.parametrize("name", ["F6_E2M3", "F6_E3M2", "C64"])
def test_listed_but_unreadable_dtypes(tmp_path: Path, name: str) -> None:
    size = 3 if name.startswith("F6") else 32
    shape = [4]
    path = write_raw(
        tmp_path / "x.safetensors",
        {"x": {"dtype": name, "shape": shape, "data_offsets": [0, size]}},
        bytes(size),
    )
    with SafetensorsSource(path) as src:
        assert src.tensors()[0].dtype == name
        with pytest.raises(ModelFormatError, match=re.escape(path.name)):
            src.read("x")


def test_holes_and_trailing_bytes_are_problems_not_errors(tmp_path: Path) -> None:
    data = np.arange(4, dtype=np.float32).tobytes()
    hdr = {
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]},
    }
    path = write_raw(tmp_path / "h.safetensors", hdr, data + b"xx")
    with SafetensorsSource(path) as src:
        assert [t.name for t in src.tensors()] == ["a", "b"]
        assert src.read("b").tolist() == [3.0]
        probs = src.problems()
        assert any("4 unused bytes before tensor 'b'" in p for p in probs)
        assert any("2 unused bytes after" in p for p in probs)


def test_header_padding_and_empty_tensors(tmp_path: Path) -> None:
    hdr = b'{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}' + b"    "
    path = write_raw(tmp_path / "p.safetensors", hdr)
    with SafetensorsSource(path) as src:
        assert src.read("e").shape == (0, 3)
