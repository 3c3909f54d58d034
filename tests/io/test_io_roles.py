"""HF names -> canonical roles, fused splits, and structural signatures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from io_helpers import llama_tensors, write_hf_dir

from modelkin.arch import Role, read_role, role_map, structure
from modelkin.arch.hf_names import map_names
from modelkin.io import TensorInfo, open_model

LAYER_ROLES = (
    "attn_q",
    "attn_k",
    "attn_v",
    "attn_o",
    "mlp_gate",
    "mlp_up",
    "mlp_down",
    "attn_norm",
    "mlp_norm",
)


def _cfg(model_type: str, **kw: object) -> dict[str, object]:
    base = {
        "model_type": model_type,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_size": 16,
    }
    base.update(kw)
    return base


@pytest.mark.parametrize("model_type", ["llama", "mistral", "qwen2"])
def test_llama_family(tmp_path: Path, model_type: str) -> None:
    t = llama_tensors(np.random.default_rng(0), layers=3)
    d = write_hf_dir(tmp_path / "m", t, _cfg(model_type, rms_norm_eps=1e-6, num_hidden_layers=3))
    with open_model(d) as src:
        rm = role_map(src)
        assert rm.family == model_type and rm.unmapped == []
        for i in range(3):
            for kind in LAYER_ROLES:
                assert rm.get(kind, i) is not None, (kind, i)
        assert rm.get("attn_norm", 1).name == "model.layers.1.input_layernorm.weight"
        assert rm.get("mlp_norm", 1).name == "model.layers.1.post_attention_layernorm.weight"
        np.testing.assert_array_equal(
            read_role(src, rm.get("mlp_down", 2)), t["model.layers.2.mlp.down_proj.weight"]
        )
        sig = structure(src, rm)
        assert (sig.num_layers, sig.hidden_size, sig.intermediate_size, sig.vocab_size) == (
            3,
            16,
            24,
            50,
        )
        assert (sig.num_heads, sig.num_kv_heads, sig.head_dim) == (4, 2, 4)
        assert sig.tied_embeddings is False and sig.norm_type == "rmsnorm"
        assert sig.num_parameters == sum(v.size for v in t.values())
        assert sig.notes == []


def test_qwen3_heads_come_from_qk_norm_even_if_config_is_missing(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(0), qk_norm=True, tied=True)
    d = write_hf_dir(tmp_path / "m", t, None)
    with open_model(d) as src:
        rm = role_map(src)
        assert rm.family == "qwen3" and any("inferred from tensor names" in n for n in rm.notes)
        assert rm.get("attn_q_norm", 0) is not None
        sig = structure(src, rm)
        assert (sig.num_heads, sig.num_kv_heads, sig.head_dim) == (4, 2, 4)
        assert sig.sources["num_heads"] == "tensors"
        assert sig.tied_embeddings is True
        assert sig.norm_type == "rmsnorm"


def test_config_that_lies_is_noted(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(0), layers=2)
    d = write_hf_dir(tmp_path / "m", t, _cfg("llama", num_hidden_layers=32, vocab_size=32000))
    with open_model(d) as src:
        sig = structure(src)
    assert sig.num_layers == 2 and sig.vocab_size == 50
    assert any("num_layers=32" in n for n in sig.notes) and any(
        "vocab_size=32000" in n for n in sig.notes
    )


def test_tied_lm_head_copy_detected_by_value(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(0))
    t["lm_head.weight"] = t["model.embed_tokens.weight"].copy()
    d = write_hf_dir(tmp_path / "m", t, _cfg("llama"))
    with open_model(d) as src:
        assert structure(src).tied_embeddings is True


@pytest.mark.parametrize("model_type", ["gemma2", "gemma3_text"])
def test_gemma_sandwich_norms(tmp_path: Path, model_type: str) -> None:
    t = llama_tensors(
        np.random.default_rng(0), sandwich=True, qk_norm=model_type != "gemma2", tied=True
    )
    d = write_hf_dir(tmp_path / "m", t, _cfg(model_type, head_dim=4))
    with open_model(d) as src:
        rm = role_map(src)
    assert rm.family == ("gemma2" if model_type == "gemma2" else "gemma3")
    assert rm.get("attn_post_norm", 0).name == "model.layers.0.post_attention_layernorm.weight"
    assert rm.get("mlp_norm", 0).name == "model.layers.0.pre_feedforward_layernorm.weight"
    assert rm.get("mlp_post_norm", 0).name == "model.layers.0.post_feedforward_layernorm.weight"
    assert rm.unmapped == []


def test_gemma3_multimodal_maps_language_stack_only() -> None:
    infos = [
        TensorInfo("language_model.model.embed_tokens.weight", (50, 16), "BF16", 1600),
        TensorInfo("language_model.model.layers.0.self_attn.q_proj.weight", (16, 16), "BF16", 512),
        TensorInfo("language_model.model.norm.weight", (16,), "BF16", 32),
        TensorInfo(
            "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight",
            (8, 8),
            "BF16",
            128,
        ),
        TensorInfo(
            "vision_tower.vision_model.encoder.layers.1.self_attn.q_proj.weight",
            (8, 8),
            "BF16",
            128,
        ),
        TensorInfo("multi_modal_projector.mm_input_projection_weight", (8, 16), "BF16", 256),
    ]
    rm = map_names(infos, {"model_type": "gemma3", "text_config": {"hidden_size": 16}})
    assert rm.family == "gemma3"
    assert rm.get("attn_q", 0).name.startswith("language_model.")
    assert rm.get("embed_tokens") is not None and rm.get("final_norm") is not None
    assert len(rm.unmapped) == 3 and rm.num_layers == 1


def test_phi3_fused_qkv_and_gate_up(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hidden, heads, kv, hd, inter = 16, 4, 2, 4, 12
    qkv = rng.standard_normal((heads * hd + 2 * kv * hd, hidden)).astype(np.float32)
    gate_up = rng.standard_normal((2 * inter, hidden)).astype(np.float32)
    t = {
        "model.embed_tokens.weight": rng.standard_normal((20, hidden)).astype(np.float32),
        "model.layers.0.self_attn.qkv_proj.weight": qkv,
        "model.layers.0.mlp.gate_up_proj.weight": gate_up,
        "model.layers.0.self_attn.o_proj.weight": rng.standard_normal((hidden, hidden)).astype(
            np.float32
        ),
        "model.layers.0.mlp.down_proj.weight": rng.standard_normal((hidden, inter)).astype(
            np.float32
        ),
    }
    d = write_hf_dir(
        tmp_path / "phi", t, _cfg("phi3", num_attention_heads=heads, num_key_value_heads=kv)
    )
    with open_model(d) as src:
        rm = role_map(src)
        q, k, v = (read_role(src, rm.get(x, 0)) for x in ("attn_q", "attn_k", "attn_v"))
        np.testing.assert_array_equal(q, qkv[:16])
        np.testing.assert_array_equal(k, qkv[16:24])
        np.testing.assert_array_equal(v, qkv[24:32])
        # Phi3MLP: gate, up = gate_up_proj(x).chunk(2, dim=-1)
        x = rng.standard_normal(hidden).astype(np.float32)
        gate_out, up_out = np.split(gate_up @ x, 2)
        np.testing.assert_allclose(read_role(src, rm.get("mlp_gate", 0)) @ x, gate_out, rtol=1e-6)
        np.testing.assert_allclose(read_role(src, rm.get("mlp_up", 0)) @ x, up_out, rtol=1e-6)
        sig = structure(src, rm)
        assert (sig.num_heads, sig.num_kv_heads, sig.head_dim, sig.intermediate_size) == (
            4,
            2,
            4,
            12,
        )


def test_gpt2_conv1d_is_transposed(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 8
    c_attn = rng.standard_normal((n, 3 * n)).astype(np.float32)  # Conv1D: [in, out]
    c_attn_b = rng.standard_normal(3 * n).astype(np.float32)
    c_fc = rng.standard_normal((n, 4 * n)).astype(np.float32)
    t = {
        "wte.weight": rng.standard_normal((30, n)).astype(np.float32),
        "wpe.weight": rng.standard_normal((16, n)).astype(np.float32),
        "h.0.ln_1.weight": np.ones(n, np.float32),
        "h.0.ln_1.bias": np.zeros(n, np.float32),
        "h.0.attn.c_attn.weight": c_attn,
        "h.0.attn.c_attn.bias": c_attn_b,
        "h.0.attn.c_proj.weight": rng.standard_normal((n, n)).astype(np.float32),
        "h.0.attn.bias": np.ones((1, 1, 16, 16), np.float32),
        "h.0.mlp.c_fc.weight": c_fc,
        "h.0.mlp.c_proj.weight": rng.standard_normal((4 * n, n)).astype(np.float32),
        "ln_f.weight": np.ones(n, np.float32),
    }
    d = write_hf_dir(
        tmp_path / "gpt2",
        t,
        {"model_type": "gpt2", "n_head": 2, "n_embd": n, "layer_norm_epsilon": 1e-5},
    )
    with open_model(d) as src:
        rm = role_map(src)
        assert rm.unmapped == [] and any("buffers" in x for x in rm.notes)
        assert rm.get("attn_q", 0).transposed
        x = rng.standard_normal(n).astype(np.float32)
        y = x @ c_attn + c_attn_b  # what Conv1D computes
        for i, kind in enumerate(("attn_q", "attn_k", "attn_v")):
            w = read_role(src, rm.get(kind, 0))
            b = read_role(src, rm.get(kind, 0, "bias"))
            assert w.shape == (n, n)
            np.testing.assert_allclose(w @ x + b, y[i * n : (i + 1) * n], rtol=1e-5)
        assert read_role(src, rm.get("mlp_up", 0)).shape == (4 * n, n)
        sig = structure(src, rm)
        assert (sig.hidden_size, sig.intermediate_size, sig.num_heads, sig.head_dim) == (
            n,
            4 * n,
            2,
            4,
        )
        assert sig.norm_type == "layernorm" and sig.tied_embeddings is True
        assert sig.num_parameters == sum(v.size for k, v in t.items() if k != "h.0.attn.bias")


def test_gpt_neox_per_head_interleaved_qkv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hidden, heads = 12, 3
    hd = hidden // heads
    qkv = rng.standard_normal((3 * hidden, hidden)).astype(np.float32)
    bias = rng.standard_normal(3 * hidden).astype(np.float32)
    t = {
        "gpt_neox.embed_in.weight": rng.standard_normal((20, hidden)).astype(np.float32),
        "gpt_neox.layers.0.attention.query_key_value.weight": qkv,
        "gpt_neox.layers.0.attention.query_key_value.bias": bias,
        "gpt_neox.layers.0.attention.dense.weight": rng.standard_normal((hidden, hidden)).astype(
            np.float32
        ),
        "gpt_neox.final_layer_norm.weight": np.ones(hidden, np.float32),
        "embed_out.weight": rng.standard_normal((20, hidden)).astype(np.float32),
    }
    d = write_hf_dir(
        tmp_path / "neox",
        t,
        {"model_type": "gpt_neox", "num_attention_heads": heads, "hidden_size": hidden},
    )
    with open_model(d) as src:
        rm = role_map(src)
        # GPTNeoXAttention: qkv(x).view(heads, 3 * hd) then split the last axis in three.
        x = rng.standard_normal(hidden).astype(np.float32)
        per_head = (qkv @ x + bias).reshape(heads, 3 * hd)
        for i, kind in enumerate(("attn_q", "attn_k", "attn_v")):
            w = read_role(src, rm.get(kind, 0))
            b = read_role(src, rm.get(kind, 0, "bias"))
            assert w.shape == (hidden, hidden) and b.shape == (hidden,)
            np.testing.assert_allclose(
                w @ x + b, per_head[:, i * hd : (i + 1) * hd].reshape(-1), rtol=1e-5
            )
        assert rm.get("lm_head").name == "embed_out.weight"
        assert rm.get("embed_tokens").name == "gpt_neox.embed_in.weight"
        assert structure(src, rm).tied_embeddings is False


def test_bert_prefixes_and_old_gamma_beta_names() -> None:
    infos = [
        TensorInfo("bert.embeddings.word_embeddings.weight", (100, 8), "F32", 3200),
        TensorInfo("bert.embeddings.LayerNorm.gamma", (8,), "F32", 32),
        TensorInfo("bert.embeddings.LayerNorm.beta", (8,), "F32", 32),
        TensorInfo("bert.encoder.layer.0.attention.self.query.weight", (8, 8), "F32", 256),
        TensorInfo("bert.encoder.layer.0.output.dense.weight", (8, 32), "F32", 1024),
        TensorInfo("bert.pooler.dense.weight", (8, 8), "F32", 256),
        TensorInfo("cls.predictions.decoder.weight", (100, 8), "F32", 3200),
        TensorInfo("cls.predictions.transform.dense.weight", (8, 8), "F32", 256),
    ]
    rm = map_names(infos, {})
    assert rm.family == "bert"
    assert rm.roles[Role("embed_norm", None, "weight")].name.endswith("gamma")
    assert rm.roles[Role("embed_norm", None, "bias")].name.endswith("beta")
    assert rm.get("mlp_down", 0) is not None and rm.get("pooler") is not None
    assert rm.get("lm_head").name == "cls.predictions.decoder.weight"
    assert rm.unmapped == ["cls.predictions.transform.dense.weight"]


def test_roberta_lm_head() -> None:
    infos = [
        TensorInfo("roberta.embeddings.word_embeddings.weight", (100, 8), "F32", 3200),
        TensorInfo("roberta.encoder.layer.0.attention.self.key.weight", (8, 8), "F32", 256),
        TensorInfo("lm_head.decoder.weight", (100, 8), "F32", 3200),
        TensorInfo("lm_head.dense.weight", (8, 8), "F32", 256),
    ]
    rm = map_names(infos, {"model_type": "roberta"})
    assert rm.get("lm_head").name == "lm_head.decoder.weight"
    assert rm.unmapped == ["lm_head.dense.weight"]


def test_unknown_architecture_loads_and_says_what_it_could_not_map() -> None:
    infos = [
        TensorInfo("backbone.tok_emb.weight", (500, 32), "F16", 32000),
        TensorInfo("backbone.blocks.0.mixer.in_proj.weight", (64, 32), "F16", 4096),
        TensorInfo("backbone.blocks.0.mlp.fc1.weight", (128, 32), "F16", 8192),
        TensorInfo("backbone.blocks.0.mlp.fc2.weight", (32, 128), "F16", 8192),
        TensorInfo("backbone.blocks.1.mixer.in_proj.weight", (64, 32), "F16", 4096),
    ]
    rm = map_names(infos, {"model_type": "mamba-ish"})
    assert rm.family == "mamba-ish"
    assert rm.get("embed_tokens").name == "backbone.tok_emb.weight"
    assert rm.get("mlp_up", 0) is not None and rm.get("mlp_down", 0) is not None
    assert rm.unmapped == [
        "backbone.blocks.0.mixer.in_proj.weight",
        "backbone.blocks.1.mixer.in_proj.weight",
    ]
    assert any("no dedicated name table" in n for n in rm.notes)
    assert any("inferred from name and shape" in n for n in rm.notes)


def test_structure_digest_is_stable_and_sensitive(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(0))
    a = write_hf_dir(tmp_path / "a", t, _cfg("llama"))
    b = write_hf_dir(tmp_path / "b", llama_tensors(np.random.default_rng(1)), _cfg("llama"))
    c = write_hf_dir(
        tmp_path / "c", llama_tensors(np.random.default_rng(0), inter=32), _cfg("llama")
    )
    digests = []
    for d in (a, b, c):
        with open_model(d) as src:
            digests.append(structure(src).digest())
    assert digests[0] == digests[1] != digests[2]
    assert len(digests[0]) == 64
