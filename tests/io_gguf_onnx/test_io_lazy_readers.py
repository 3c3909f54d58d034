"""Lazy ONNX parsing, chunked GGUF dequantization and packed-vocabulary hashing give the
same values as the eager paths they replace, refuse malformed input, and keep memory
independent of the initializers' size."""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import pytest
from gguf import GGML_QUANT_SIZES, GGUFWriter
from gguf.quants import dequantize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from modelkin.errors import ModelFormatError
from modelkin.io import open_model
from modelkin.io._gguf_header import PackedStrings
from modelkin.io.gguf import _DEQUANT, GGUFSource
from modelkin.io.onnx import ONNXSource
from modelkin.io.tokenizer import Tokenizer


def _model(inits: list[TensorProto]) -> onnx.ModelProto:
    nodes = [
        helper.make_node("MatMul", ["x", "w_mm"], ["y"], name="/enc/layer.0/query/MatMul"),
        helper.make_node("Add", ["y", "enc.layer.0.query.bias"], ["z"], name="/enc/add"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])],
        initializer=inits,
    )
    return helper.make_model(graph)


def _inits(rng: np.random.Generator) -> list[TensorProto]:
    return [
        numpy_helper.from_array(rng.standard_normal((6, 4)).astype(np.float32), "w_mm"),
        numpy_helper.from_array(
            rng.standard_normal(4).astype(np.float32), "enc.layer.0.query.bias"
        ),
        # float_data (not raw), int32_data varints (int8), float16 raw, int64 raw
        helper.make_tensor(
            "enc.norm.weight", TensorProto.FLOAT, [5], rng.standard_normal(5).tolist()
        ),
        helper.make_tensor("enc.q8.weight", TensorProto.INT8, [3, 2], [-128, -1, 0, 1, 5, 127]),
        numpy_helper.from_array(rng.standard_normal((3, 8)).astype(np.float16), "enc.h.weight"),
        numpy_helper.from_array(np.arange(12, dtype=np.int64).reshape(4, 3), "enc.ids.weight"),
    ]


def test_lazy_onnx_values_match_onnx_load(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save_model(_model(_inits(np.random.default_rng(0))), str(path))
    eager = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    with ONNXSource(path) as src:
        assert all(not t.raw_data and not t.float_data for t in src._model.graph.initializer)
        for name, want in eager.items():
            got = src.read(name)
            want32 = want.astype(np.float32)
            if name == "w_mm":  # MatMul B is [in, out]: read in HF orientation
                want32 = want32.T
            np.testing.assert_array_equal(got, want32)
            if got.ndim and got.shape[0] > 2:
                np.testing.assert_array_equal(src.read(name, slice(1, 3)), want32[1:3])
        assert src.bytes_read > 0


def _field(num: int, payload: bytes) -> bytes:
    return bytes([num << 3 | 2, len(payload)]) + payload


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"\x3a\xff\xff\xff\xff\x0f", "runs past the end"),  # graph longer than the file
        (b"\x3a\x02\x2a\x05", "runs past the end"),  # initializer past the graph
        (b"\x0b\x00", "wire type 3"),  # a group
        (b"\x08" + b"\xff" * 11, "varint longer"),
        (b"\x00\x01", "field number 0"),
        (_field(7, _field(5, b"\x4a\x04ab")), "runs past the end"),  # raw_data too long
    ],
)
def test_malformed_onnx_refused(tmp_path: Path, data: bytes, problem: str) -> None:
    p = tmp_path / "bad.onnx"
    p.write_bytes(data)
    with pytest.raises(ModelFormatError, match=problem) as ei:
        open_model(p)
    assert "bad.onnx" in ei.value.where


def test_onnx_raw_data_of_wrong_size_is_an_error(tmp_path: Path) -> None:
    t = numpy_helper.from_array(np.zeros((4, 4), np.float32), "enc.x.weight")
    t.raw_data = t.raw_data[:-4]
    path = tmp_path / "short.onnx"
    onnx.save_model(_model([t]), str(path))
    with ONNXSource(path) as src, pytest.raises(ModelFormatError, match="60 bytes"):
        src.read("enc.x.weight")


CHILD = r"""
import sys
from pathlib import Path
def hwm():
    for ln in Path("/proc/self/status").read_text().splitlines():
        if ln.startswith("VmHWM:"):
            return int(ln.split()[1]) / 1024
from modelkin.io import open_model
import modelkin.io.onnx
before = hwm()
src = open_model(sys.argv[1])
row = src.read("enc.big.weight", slice(10, 11))
print(before, hwm(), float(row[0, 0]))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_opening_onnx_does_not_load_initializers(tmp_path: Path) -> None:
    big = np.arange(32 * 2**20 // 4, dtype=np.float32).reshape(-1, 1024)  # 32 MiB
    path = tmp_path / "big.onnx"
    onnx.save_model(_model([numpy_helper.from_array(big, "enc.big.weight")]), str(path))
    del big
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after, value = float(out[0]), float(out[1]), float(out[2])
    assert value == 10 * 1024
    assert after - before < 12, f"opening a 32 MiB ONNX file grew the peak by {after - before} MiB"


def test_chunked_dequantization_is_bit_identical() -> None:
    rng = np.random.default_rng(0)
    checked = 0
    for qtype, _cls in _DEQUANT.items():
        block, tsize = GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, (7, 3 * tsize), dtype=np.uint8)
        try:
            with np.errstate(all="ignore"):  # random scales include inf/NaN
                want = dequantize(raw, qtype)
        except NotImplementedError:
            continue
        src = GGUFSource.__new__(GGUFSource)  # only _decode is exercised
        src.path = Path("x.gguf")

        class E:
            pass

        e = E()
        e.qtype = qtype  # type: ignore[attr-defined]
        with np.errstate(all="ignore"):
            got = GGUFSource._decode(src, raw, e, "t")  # type: ignore[arg-type]
        assert got.shape == (7, 3 * block)
        assert np.array_equal(got.view(np.uint32), want.reshape(7, -1).view(np.uint32)), qtype
        checked += 1
    assert checked >= 20


def test_gguf_bad_string_in_large_array_is_named(tmp_path: Path) -> None:
    path = tmp_path / "v.gguf"
    w = GGUFWriter(path, "llama")
    w.add_token_list([f"t{i}" for i in range(2000)])
    w.add_tensor("x.weight", np.zeros(32, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    data = bytearray(path.read_bytes())
    at = data.index(b"t1500") - 8
    data[at : at + 8] = struct.pack("<Q", 2**40)
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match=r"tokens'\[1500\]"):
        GGUFSource(path)


def test_token_crc32_matches_text_hash() -> None:
    texts = [b"a", b"", "é".encode(), b"\xff\xfe", "日本".encode(), b"\xe6\x97"]
    blob = b"".join(struct.pack("<Q", len(t)) + t for t in texts)
    ends = np.cumsum([8 + len(t) for t in texts])
    packed = PackedStrings(blob, ends)
    tok = Tokenizer("bpe", packed)
    want = [zlib.crc32(s.encode("utf-8")) for s in packed]
    assert tok.token_crc32().tolist() == want
    assert tok.nonempty().tolist() == [bool(s) for s in packed]
    plain = Tokenizer("bpe", list(packed))
    assert plain.token_crc32().tolist() == want
    assert plain.nonempty().tolist() == tok.nonempty().tolist()


def test_llama_qk_row_reads_touch_only_their_rows(tmp_path: Path) -> None:
    from .gguf_writer_helpers import make_weights, write_gguf

    path = write_gguf(tmp_path / "l.gguf", make_weights(), arch="llama")
    with GGUFSource(path) as src:
        for name in ("blk.0.attn_q.weight", "blk.1.attn_k.weight"):
            whole = src.read(name)
            for rows in (slice(0, 8), slice(5, 13), slice(30, 100), slice(3, 3)):
                before = src.bytes_read
                part = src.read(name, rows)
                np.testing.assert_array_equal(part, whole[rows])
                n = len(range(*rows.indices(whole.shape[0])))
                assert src.bytes_read - before == n * src.info(name).nbytes // whole.shape[0]


def test_onnx_row_reads_of_a_transposed_weight_read_it_once(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    onnx.save_model(_model(_inits(np.random.default_rng(1))), str(path))
    with ONNXSource(path) as src:
        whole = src.read("w_mm")
        start = src.bytes_read
        parts = [src.read("w_mm", slice(i, i + 1)) for i in range(whole.shape[0])]
        assert src.bytes_read - start == whole.nbytes  # one read of 24 float32
        np.testing.assert_array_equal(np.concatenate(parts), whole)
        src.read("enc.h.weight", slice(0, 1))  # another tensor drops the held one
        assert src._last is None or src._last[0] != "w_mm"


@pytest.mark.parametrize("invalid", [False, True])
def test_packed_vocabulary_digest_matches_json_of_its_text(invalid: bool) -> None:
    from modelkin.io.tokenizer import _sha256_json

    texts = [b"a", b'q"x', b"b\\s", b"\n\t\r", b"\x01\x1f\x08\x0c", "é".encode(), b"", b"\x7f"]
    texts += ["\u2028日本".encode(), b"<0x0A>"] + ([b"\xff\xfe"] if invalid else [])
    texts = texts * 1000  # several batches
    blob = b"".join(struct.pack("<Q", len(t)) + t for t in texts)
    packed = PackedStrings(blob, np.cumsum([8 + len(t) for t in texts]))
    tok = Tokenizer("bpe", packed)
    assert tok.digest()["vocab"] == _sha256_json(list(packed))
    assert Tokenizer("bpe", list(packed)).digest() == tok.digest()


GGUF_CHILD = r"""
import sys
from pathlib import Path
def hwm():
    for ln in Path("/proc/self/status").read_text().splitlines():
        if ln.startswith("VmHWM:"):
            return int(ln.split()[1]) / 1024
from modelkin.io import open_model
before = hwm()
src = open_model(sys.argv[1])
rows = [src.read(f"blk.{i}.ffn_up.weight", slice(r, r + 8)) for i in range(4) for r in range(0, 4096, 97)]
print(before, hwm(), src.bytes_read, float(rows[0][0, 0]))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_gguf_row_reads_do_not_map_the_file(tmp_path: Path) -> None:
    path = tmp_path / "big.gguf"
    w = GGUFWriter(path, "llama")
    w.add_block_count(4)
    shape = (4096, 1024)  # 16 MiB of F32 per tensor, 64 MiB in all
    for i in range(4):
        w.add_tensor_info(f"blk.{i}.ffn_up.weight", shape, np.dtype(np.float32), 4096 * 1024 * 4)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for i in range(4):
        w.write_tensor_data(np.full(shape, i + 0.5, dtype=np.float32))
    w.close()
    out = subprocess.run(
        [sys.executable, "-c", GGUF_CHILD, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after, read, first = (float(x) for x in out)
    assert first == 0.5
    assert read == 4 * 43 * 8 * 1024 * 4  # only the requested rows
    assert after - before < 24, f"sampling rows of a 64 MiB GGUF grew the peak by {after - before}"


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_corrupted_onnx_gives_clear_errors_only(tmp_path: Path, data: st.DataObject) -> None:
    good = _model(_inits(np.random.default_rng(2))).SerializeToString()
    raw = bytearray(good)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    p = tmp_path / "fuzz.onnx"
    p.write_bytes(bytes(raw[:cut]))
    try:
        with ONNXSource(p) as src:
            for t in src.tensors():
                src.read(t.name)
                if t.shape:
                    src.read(t.name, slice(0, 1))
    except ModelFormatError as exc:
        assert "fuzz.onnx" in exc.where
