"""ONNX: fp32, dynamically quantized (MatMulInteger), QDQ (DequantizeLinear) and
external-data models made by the test, read back against the torch originals."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

from modelkin.arch import read_role, role_map
from modelkin.arch.roles import Role
from modelkin.errors import ModelFormatError
from modelkin.io import TensorSource, open_model
from modelkin.io.onnx import ONNXSource

from .onnx_model_helpers import HIDDEN, INTER, LAYERS, VOCAB, CalibReader, export_tiny_bert

_HF = {
    "attn_q": "attention.self.query",
    "attn_k": "attention.self.key",
    "attn_v": "attention.self.value",
    "attn_o": "attention.output.dense",
    "attn_norm": "attention.output.LayerNorm",
    "mlp_up": "intermediate.dense",
    "mlp_down": "output.dense",
    "mlp_norm": "output.LayerNorm",
}


@pytest.fixture(scope="module")
def models(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Path], dict[str, np.ndarray]]:
    d = tmp_path_factory.mktemp("onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = export_tiny_bert(d / "fp32.onnx")
        quantize_dynamic(d / "fp32.onnx", d / "dyn.onnx", weight_type=QuantType.QInt8)
        quantize_dynamic(
            d / "fp32.onnx", d / "dyn_pc.onnx", weight_type=QuantType.QUInt8, per_channel=True
        )
        quantize_static(
            d / "fp32.onnx",
            d / "qdq.onnx",
            CalibReader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
        )
        quantize_static(
            d / "fp32.onnx",
            d / "qop.onnx",
            CalibReader(),
            quant_format=QuantFormat.QOperator,
        )
    ext = d / "ext"
    ext.mkdir()
    m = onnx.load(str(d / "fp32.onnx"))
    onnx.save_model(
        m,
        str(ext / "model.onnx"),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    paths = {k: d / f"{k}.onnx" for k in ("fp32", "dyn", "dyn_pc", "qdq", "qop")}
    paths["ext"] = ext / "model.onnx"
    return paths, sd


def _expected(sd: dict[str, np.ndarray], role: Role) -> np.ndarray:
    if role.layer is None:
        name = {"embed_tokens": "embeddings.word_embeddings", "embed_norm": "embeddings.LayerNorm"}[
            role.kind
        ]
    else:
        name = f"encoder.layer.{role.layer}.{_HF[role.kind]}"
    return sd[f"{name}.{role.param}"]


def _roles_complete(src: TensorSource) -> dict[Role, object]:
    rm = role_map(src)
    assert rm.family == "bert"
    assert rm.unmapped == [], rm.unmapped
    for i in range(LAYERS):
        for kind in _HF:
            for param in ("weight", "bias"):
                assert Role(kind, i, param) in rm.roles, (kind, i, param)
    assert {Role("embed_tokens"), Role("embed_norm"), Role("embed_norm", None, "bias")} <= set(
        rm.roles
    )
    return dict(rm.roles)


@pytest.mark.parametrize("kind", ["fp32", "ext"])
def test_fp32_and_external_data_match_torch_exactly(
    models: tuple[dict[str, Path], dict[str, np.ndarray]], kind: str
) -> None:
    paths, sd = models
    assert isinstance(open_model(paths[kind]), ONNXSource)
    with ONNXSource(paths[kind]) as src:
        roles = _roles_complete(src)
        for role, ref in roles.items():
            got = read_role(src, ref)  # type: ignore[arg-type]
            np.testing.assert_array_equal(got, _expected(sd, role), err_msg=str(role))
        q = src.info(roles[Role("mlp_up", 0)].name)  # type: ignore[attr-defined]
        assert q.shape == (INTER, HIDDEN)  # MatMul [in, out] reported as [out, in]
        cfg = src.config()
        assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["vocab_size"]) == (
            LAYERS,
            HIDDEN,
            VOCAB,
        )
        assert src.tokenizer() is None
        if kind == "ext":
            assert any(f.name == "weights.bin" for f in src.files())
            assert src.info(roles[Role("attn_q", 1)].name).extra["external"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["dyn", "dyn_pc", "qdq", "qop"])
def test_int8_weights_dequantize_to_fp32_originals(
    models: tuple[dict[str, Path], dict[str, np.ndarray]], kind: str
) -> None:
    paths, sd = models
    with ONNXSource(paths[kind]) as src:
        roles = _roles_complete(src)
        n_quant = 0
        for role, ref in roles.items():
            info = src.info(ref.name)  # type: ignore[attr-defined]
            got = read_role(src, ref)  # type: ignore[arg-type]
            want = _expected(sd, role)
            assert got.shape == want.shape, role
            if not info.quantized:
                np.testing.assert_array_equal(got, want)
                continue
            n_quant += 1
            assert info.dtype in ("INT8", "UINT8", "INT32")
            # 8-bit: error at most one step, step = range / 255 (per tensor or per channel)
            step = (want.max() - min(want.min(), 0)) / 255 if want.ndim else 0
            err = np.abs(got - want).max()
            assert err <= max(step, 1e-6) * 1.01, (role, err, step)
            if want.ndim == 2:
                assert not np.array_equal(got, want)
                assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.999
        assert n_quant >= 6 * LAYERS


def test_real_minilm_l3_complete_role_map(real_models: dict[str, Path]) -> None:
    with ONNXSource(real_models["minilm-l3"]) as src:
        rm = role_map(src)
        assert rm.family == "bert" and rm.unmapped == [] and rm.num_layers == 3
        for i in range(3):
            for kind in _HF:
                for param in ("weight", "bias"):
                    assert Role(kind, i, param) in rm.roles, (kind, i, param)
        for g in ("embed_tokens", "embed_positions", "embed_token_type", "embed_norm"):
            assert Role(g) in rm.roles
        cfg = src.config()
        assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["intermediate_size"]) == (
            3,
            384,
            1536,
        )
        up = read_role(src, rm.roles[Role("mlp_up", 0)])
        assert up.shape == (1536, 384) and np.isfinite(up).all()


def test_external_data_escape_refused(
    models: tuple[dict[str, Path], dict[str, np.ndarray]], tmp_path: Path
) -> None:
    paths, _ = models
    m = onnx.load(str(paths["ext"]), load_external_data=False)
    victim = m.graph.initializer[0]
    for e in victim.external_data:
        if e.key == "location":
            e.value = "../../etc/passwd"
    (tmp_path / "evil").mkdir()
    bad = tmp_path / "evil" / "model.onnx"
    onnx.save_model(m, str(bad))
    shutil.copy(paths["ext"].parent / "weights.bin", tmp_path / "evil" / "weights.bin")
    with ONNXSource(bad) as src:
        with pytest.raises(ModelFormatError, match="inside the model directory"):
            src.read(victim.name)
        # other tensors still read
        other = src.tensors()[-1].name
        assert np.isfinite(src.read(other)).all()


def test_external_data_out_of_range_refused(
    models: tuple[dict[str, Path], dict[str, np.ndarray]], tmp_path: Path
) -> None:
    paths, _ = models
    m = onnx.load(str(paths["ext"]), load_external_data=False)
    victim = m.graph.initializer[0]
    for e in victim.external_data:
        if e.key == "offset":
            e.value = str(10**9)
    bad = tmp_path / "model.onnx"
    onnx.save_model(m, str(bad))
    shutil.copy(paths["ext"].parent / "weights.bin", tmp_path / "weights.bin")
    with ONNXSource(bad) as src, pytest.raises(ModelFormatError, match="does not"):
        src.read(victim.name)


@pytest.mark.parametrize("cut", [0.5, 0.97])
def test_truncated_or_garbage_refused(
    models: tuple[dict[str, Path], dict[str, np.ndarray]], tmp_path: Path, cut: float
) -> None:
    paths, _ = models
    data = paths["fp32"].read_bytes()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ModelFormatError) as ei:
        ONNXSource(bad)
    assert ei.value.where == str(bad)
    rng = np.random.default_rng(int(cut * 100))
    bad.write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ModelFormatError):
        ONNXSource(bad)


def test_gemm_weights_keep_out_in_orientation(tmp_path: Path) -> None:
    torch.manual_seed(3)
    first, second = torch.nn.Linear(8, 16), torch.nn.Linear(16, 4)
    mlp = torch.nn.Sequential(first, torch.nn.ReLU(), second)
    path = tmp_path / "mlp.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(mlp, (torch.randn(1, 8),), str(path), dynamo=False)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    with ONNXSource(path) as src:
        by_shape = {t.shape: t for t in src.tensors() if len(t.shape) == 2}
        for lin in (first, second):
            w = lin.weight.detach().numpy()
            t = by_shape[w.shape]
            assert t.extra["transposed"] == ("Gemm" not in ops)
            np.testing.assert_array_equal(src.read(t.name), w)


def test_tokenizer_beside_the_model_is_found(
    models: tuple[dict[str, Path], dict[str, np.ndarray]], tmp_path: Path
) -> None:
    paths, _ = models
    shutil.copy(paths["fp32"], tmp_path / "model.onnx")
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n", encoding="utf-8")
    with ONNXSource(tmp_path / "model.onnx") as src:
        tok = src.tokenizer()
        assert tok is not None and tok.kind == "wordpiece" and tok.tokens[4] == "hello"
