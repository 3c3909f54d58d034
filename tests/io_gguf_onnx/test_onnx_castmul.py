"""int8 ONNX exports that dequantize in the graph (``Mul(Cast(q), scale)``) with anonymous
names (issue 19, smaller findings): the scale is applied and every matrix gets its role
from its position in the graph.

The file is built here by construction from the tiny BERT export: every MatMul weight
becomes an int8 initializer ``val_N_q`` with a per-row float scale, wired in as
``Cast -> Mul -> (Transpose) -> MatMul``; biases become ``val_N``, nodes ``node_<Op>_<k>``,
so no name says what a weight is.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelkin.arch import read_role, role_map
from modelkin.arch.roles import Role
from modelkin.fingerprint import fingerprint_model
from modelkin.forensics import compare
from modelkin.io.onnx import ONNXSource

from .onnx_model_helpers import LAYERS, export_tiny_bert

_HF = {
    "attn_q": "attention.self.query",
    "attn_k": "attention.self.key",
    "attn_v": "attention.self.value",
    "attn_o": "attention.output.dense",
    "mlp_up": "intermediate.dense",
    "mlp_down": "output.dense",
}


def castmul_int8(src: Path, out: Path, transpose: bool) -> None:
    """Rewrite ``src`` so that each MatMul weight ``W`` (``[in, out]``) is int8 with a
    per-row scale applied in the graph, under generated names.

    ``transpose``: store ``W.T`` (``[out, in]``, one scale per output row, ``[out, 1]``)
    and transpose after the Mul; else store ``W`` with one scale per column (``[1, out]``)."""
    m = onnx.load(str(src))
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    counter = iter(range(1000, 100000))
    rename: dict[str, str] = {}
    new_nodes = []
    drop = set()
    for node in g.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            w = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
            stored = w.T if transpose else w
            axis = 1 if transpose else 0
            scale = np.abs(stored).max(axis=axis, keepdims=True) / 127.0
            q = np.clip(np.round(stored / scale), -127, 127).astype(np.int8)
            n = next(counter)
            qn, sn = f"val_{n}_q", f"val_{n}_scale"
            g.initializer.append(numpy_helper.from_array(q, qn))
            g.initializer.append(numpy_helper.from_array(scale.astype(np.float32), sn))
            drop.add(node.input[1])
            cast = helper.make_node("Cast", [qn], [f"val_{n}_c"], to=TensorProto.FLOAT)
            mul = helper.make_node("Mul", [f"val_{n}_c", sn], [f"val_{n}_m"])
            new_nodes += [cast, mul]
            b = f"val_{n}_m"
            if transpose:
                new_nodes.append(helper.make_node("Transpose", [b], [f"val_{n}_t"], perm=[1, 0]))
                b = f"val_{n}_t"
            node.input[1] = b
        new_nodes.append(node)
    for t in g.initializer:
        if t.name.endswith(".bias") and "LayerNorm" not in t.name:
            rename[t.name] = f"val_{next(counter)}"
    keep = [t for t in g.initializer if t.name not in drop]
    for t in keep:
        t.name = rename.get(t.name, t.name)
    del g.initializer[:]
    g.initializer.extend(keep)
    for k, node in enumerate(new_nodes):
        node.name = f"node_{node.op_type}_{k}"
        for i, x in enumerate(node.input):
            node.input[i] = rename.get(x, x)
    del g.node[:]
    g.node.extend(new_nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(out))


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Path], dict[str, np.ndarray]]:
    d = tmp_path_factory.mktemp("castmul")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = export_tiny_bert(d / "fp32.onnx")
    castmul_int8(d / "fp32.onnx", d / "rows.onnx", transpose=True)
    castmul_int8(d / "fp32.onnx", d / "cols.onnx", transpose=False)
    return {k: d / f"{k}.onnx" for k in ("fp32", "rows", "cols")}, sd


def test_graph_runs_as_built(built: tuple[dict[str, Path], dict[str, np.ndarray]]) -> None:
    """The construction is a real model: onnxruntime runs it, close to the fp32 graph."""
    import onnxruntime as ort

    paths, _ = built
    ids = np.arange(8, dtype=np.int64).reshape(1, 8) % 50
    ref = ort.InferenceSession(str(paths["fp32"])).run(None, {"ids": ids})[0]
    for k in ("rows", "cols"):
        got = ort.InferenceSession(str(paths[k])).run(None, {"ids": ids})[0]
        assert np.corrcoef(got.ravel(), ref.ravel())[0, 1] > 0.99, k


@pytest.mark.parametrize("kind", ["rows", "cols"])
def test_castmul_weights_are_scaled_and_named_by_position(
    built: tuple[dict[str, Path], dict[str, np.ndarray]], kind: str
) -> None:
    paths, sd = built
    with ONNXSource(paths[kind]) as src:
        rm = role_map(src)
        assert rm.family == "bert"
        for i in range(LAYERS):
            for k, hf in _HF.items():
                ref = rm.roles.get(Role(k, i, "weight"))
                assert ref is not None, (k, i, sorted(map(str, rm.roles)))
                assert ref.name.startswith("val_") and ref.name.endswith("_q")
                info = src.info(ref.name)
                assert info.quantized and info.dtype == "INT8"
                want = sd[f"encoder.layer.{i}.{hf}.weight"]
                got = read_role(src, ref)
                assert got.shape == want.shape, (k, i)
                # int8 with a per-row scale: at most half a step per value
                step = np.abs(want).max(axis=1, keepdims=True) / 127.0
                assert (np.abs(got - want) <= step * 0.5 + 1e-7).all(), (k, i)
                bias = rm.roles.get(Role(k, i, "bias"))
                assert bias is not None and bias.name.startswith("val_")
                np.testing.assert_array_equal(
                    read_role(src, bias), sd[f"encoder.layer.{i}.{hf}.bias"]
                )
        assert any("position in the graph" in p for p in src.problems())


def test_every_role_is_compared(built: tuple[dict[str, Path], dict[str, np.ndarray]]) -> None:
    paths, _ = built
    a, b = fingerprint_model(paths["rows"]), fingerprint_model(paths["fp32"])
    assert set(a.roles) == set(b.roles)
    r = compare(a, b)
    assert r.related is True, (r.verdict, r.reason)
    params = r.get("parameter_similarity")
    assert params is not None
    tested = {row["role"] for row in params.details["roles"]}
    for i in range(LAYERS):
        for k in _HF:
            assert f"L{i}.{k}.weight" in tested


def _layer_graph(gated: bool) -> onnx.ModelProto:
    """One hand-built layer whose projections run in a misleading order: value, key,
    query; and (gated) up before gate. Only data flow can name them."""
    h, f = 8, 16
    rng = np.random.default_rng(0)
    inits, nodes = [], []

    def proj(w: str, x: str, out: str, n_out: int) -> None:
        inits.append(
            numpy_helper.from_array(
                rng.normal(size=(h if x != "act" else f, n_out)).astype(np.float32), w
            )
        )
        nodes.append(helper.make_node("MatMul", [x, w], [out], name=f"node_MatMul_{len(nodes)}"))

    proj("val_1", "x", "a", h)  # value
    proj("val_2", "x", "b", h)  # key
    proj("val_3", "x", "c", h)  # query
    nodes.append(helper.make_node("Transpose", ["b"], ["bt"], perm=[1, 0]))
    nodes.append(helper.make_node("MatMul", ["c", "bt"], ["s"]))
    nodes.append(helper.make_node("Softmax", ["s"], ["p"]))
    nodes.append(helper.make_node("MatMul", ["p", "a"], ["ctx"]))
    proj("val_4", "ctx", "o", h)
    nodes.append(helper.make_node("Add", ["x", "o"], ["x2"]))
    if gated:
        proj("val_5", "x2", "u", f)  # up
        proj("val_6", "x2", "g", f)  # gate
        nodes.append(helper.make_node("Sigmoid", ["g"], ["sg"]))
        nodes.append(helper.make_node("Mul", ["g", "sg"], ["silu"]))
        nodes.append(helper.make_node("Mul", ["silu", "u"], ["act"]))
    else:
        proj("val_5", "x2", "u", f)
        nodes.append(helper.make_node("Relu", ["u"], ["act"]))
    proj("val_7", "act", "d", h)
    nodes.append(helper.make_node("Add", ["x2", "d"], ["y"]))
    graph = helper.make_graph(
        nodes,
        "layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, h])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, h])],
        inits,
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    return m


@pytest.mark.parametrize("gated", [False, True])
def test_names_come_from_data_flow_not_order(tmp_path: Path, gated: bool) -> None:
    from modelkin.io._onnx_graph import GraphIndex
    from modelkin.io._onnx_layout import positional_names

    m = _layer_graph(gated)
    idx = GraphIndex(m.graph)
    uses = idx.weight_uses()
    shapes = {n: (int(t.dims[1]), int(t.dims[0])) for t in m.graph.initializer if (n := t.name)}
    names = positional_names(idx, uses, shapes)
    pre = "model.layers.0.self_attn." if gated else "encoder.layer.0.attention.self."
    q, k, v = ("q_proj", "k_proj", "v_proj") if gated else ("query", "key", "value")
    assert names["val_3"] == f"{pre}{q}.weight"
    assert names["val_2"] == f"{pre}{k}.weight"
    assert names["val_1"] == f"{pre}{v}.weight"
    if gated:
        assert names["val_6"] == "model.layers.0.mlp.gate_proj.weight"
        assert names["val_5"] == "model.layers.0.mlp.up_proj.weight"
        assert names["val_7"] == "model.layers.0.mlp.down_proj.weight"
    else:
        assert names["val_5"] == "encoder.layer.0.intermediate.dense.weight"
        assert names["val_7"] == "encoder.layer.0.output.dense.weight"


def test_gated_llama_export_gets_every_role(tmp_path: Path) -> None:
    """A tiny llama (RoPE, grouped KV heads, SiLU-gated MLP) exported by torch and
    rewritten to Cast/Mul int8: every projection named and read within int8 error."""
    import torch

    from modelkin_dev.synth import models, specs

    spec = specs.LlamaSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=2)
    net = models.build(spec, 3).eval()
    ids = torch.ones((1, 8), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (ids,),
            str(tmp_path / "f.onnx"),
            input_names=["ids"],
            output_names=["logits"],
            opset_version=17,
            dynamo=False,
        )
    castmul_int8(tmp_path / "f.onnx", tmp_path / "q.onnx", transpose=True)
    sd = {k: v.numpy() for k, v in net.state_dict().items()}
    hf = {
        "attn_q": "self_attn.q_proj",
        "attn_k": "self_attn.k_proj",
        "attn_v": "self_attn.v_proj",
        "attn_o": "self_attn.o_proj",
        "mlp_gate": "mlp.gate_proj",
        "mlp_up": "mlp.up_proj",
        "mlp_down": "mlp.down_proj",
    }
    with ONNXSource(tmp_path / "q.onnx") as src:
        rm = role_map(src)
        assert rm.family == "llama"
        for i in range(2):
            for kind, name in hf.items():
                ref = rm.roles[Role(kind, i, "weight")]
                want = sd[f"model.layers.{i}.{name}.weight"]
                step = np.abs(want).max(axis=1, keepdims=True) / 127.0
                assert (np.abs(read_role(src, ref) - want) <= step * 0.5 + 1e-7).all(), (kind, i)
        assert Role("lm_head") in rm.roles
