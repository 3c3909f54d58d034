"""GGUF name rules that the real and written files do not exercise: fused QKV, phi3's
fused gate/up, BERT's post-norm names, rotary buffers."""

from __future__ import annotations

from modelkin.arch.gguf_names import map_names
from modelkin.arch.roles import Role, RoleRef
from modelkin.io.base import TensorInfo


def _t(name: str, *shape: int) -> TensorInfo:
    return TensorInfo(name, tuple(shape), "F32", 4)


def test_fused_qkv_split_by_head_counts_and_gate_up() -> None:
    cfg = {
        "model_type": "phi3",
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "hidden_size": 32,
        "intermediate_size": 40,
    }
    ts = [
        _t("blk.0.attn_qkv.weight", 64, 32),
        _t("blk.0.ffn_up.weight", 80, 32),
        _t("blk.0.ffn_down.weight", 32, 40),
        _t("rope_factors_long.weight", 4),
    ]
    rm = map_names(ts, cfg)
    assert rm.roles[Role("attn_q", 0)] == RoleRef("blk.0.attn_qkv.weight", 0, 32)
    assert rm.roles[Role("attn_k", 0)] == RoleRef("blk.0.attn_qkv.weight", 32, 48)
    assert rm.roles[Role("attn_v", 0)] == RoleRef("blk.0.attn_qkv.weight", 48, 64)
    assert rm.roles[Role("mlp_gate", 0)] == RoleRef("blk.0.ffn_up.weight", 0, 40)
    assert rm.roles[Role("mlp_up", 0)] == RoleRef("blk.0.ffn_up.weight", 40, 80)
    assert rm.buffers == ["rope_factors_long.weight"] and rm.unmapped == []


def test_bert_post_norms_and_unknown_names() -> None:
    ts = [
        _t("token_embd.weight", 100, 16),
        _t("token_types.weight", 2, 16),
        _t("position_embd.weight", 64, 16),
        _t("token_embd_norm.weight", 16),
        _t("blk.0.attn_output_norm.weight", 16),
        _t("blk.0.layer_output_norm.bias", 16),
        _t("blk.0.mystery.weight", 3),
    ]
    rm = map_names(ts, {"model_type": "bert"})
    assert rm.roles[Role("attn_norm", 0)].name == "blk.0.attn_output_norm.weight"
    assert rm.roles[Role("mlp_norm", 0, "bias")].name == "blk.0.layer_output_norm.bias"
    assert {Role("embed_token_type"), Role("embed_positions"), Role("embed_norm")} <= set(rm.roles)
    assert rm.unmapped == ["blk.0.mystery.weight"]
