"""The streamed safetensors writer produces files the reference library reads; sharded
directories are followed and shard names cannot escape the directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir


def test_stream_writer_roundtrip(tmp_path: Path) -> None:
    arrays = {
        "a": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": np.array([1, 2, 3], dtype=np.int64),
        "c": np.ones((3,), dtype=np.float16),
    }
    with hfdir.StreamWriter(tmp_path / "m.safetensors") as w:
        for k, v in arrays.items():
            w.add(k, v)
    got = load_file(str(tmp_path / "m.safetensors"))
    assert set(got) == set(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(got[k], v)
        assert got[k].dtype == v.dtype
    assert not (tmp_path / "m.spool").exists()


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError), hfdir.StreamWriter(tmp_path / "m.safetensors") as w:
        w.add("a", np.zeros(2, dtype=np.float32))
        w.add("a", np.zeros(2, dtype=np.float32))
    assert list(tmp_path.iterdir()) == []


def test_sharded_index(tmp_path: Path) -> None:
    save_file({"x": np.zeros(2, dtype=np.float32)}, str(tmp_path / "model-1.safetensors"))
    save_file({"y": np.ones(2, dtype=np.float32)}, str(tmp_path / "model-2.safetensors"))
    idx = {"weight_map": {"x": "model-1.safetensors", "y": "model-2.safetensors"}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(idx))
    assert [n for n, _ in hfdir.iter_tensors(tmp_path)] == ["x", "y"]
    idx["weight_map"]["y"] = "../evil.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(idx))
    with pytest.raises(ModelkinError, match="escapes"):
        list(hfdir.iter_tensors(tmp_path))


def test_corrupt_safetensors_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{bad")
    with pytest.raises(ModelkinError, match="safetensors"):
        list(hfdir.iter_tensors(tmp_path))
