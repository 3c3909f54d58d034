"""GGUF tensor names -> canonical roles.

llama.cpp names tensors ``blk.<i>.<kind>.<param>`` and a few globals (``gguf-py``
``constants.py`` ``TENSOR_NAMES``). The llama family, gpt2, gpt-neox and bert all share
that vocabulary, so one table serves every architecture; the few names whose meaning
depends on the architecture are resolved here:

* BERT is post-norm: its ``attn_output_norm`` is HF ``attention.output.LayerNorm`` and
  ``layer_output_norm`` is HF ``output.LayerNorm``; they map to ``attn_norm`` and
  ``mlp_norm`` as :mod:`modelkin.arch.hf_names` maps the HF names.
* gemma2/gemma3 sandwich norms: ``attn_norm`` (HF ``input_layernorm``),
  ``post_attention_norm`` -> ``attn_post_norm``, ``ffn_norm`` (HF
  ``pre_feedforward_layernorm``) -> ``mlp_norm``, ``post_ffw_norm`` -> ``mlp_post_norm``.
  In the other llama-family architectures ``ffn_norm`` is HF ``post_attention_layernorm``,
  which :mod:`hf_names` also maps to ``mlp_norm``.
* fused ``attn_qkv`` (gpt2, gpt-neox, phi3, bloom...): the converter writes rows
  ``[q | k | v]`` (for gpt-neox it reorders HF's per-head interleaving into this layout),
  split with the head counts from the config; ``ffn_up`` of phi3 holds ``[gate | up]``
  (HF ``gate_up_proj``) when ``ffn_gate`` is absent and its rows are twice
  ``intermediate_size``.

The Q/K permutation and Gemma's ``w + 1`` norms are undone by the reader
(:mod:`modelkin.io.gguf`), so roles point at plain tensor names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelkin.arch.rolemap import RoleMap
from modelkin.arch.roles import Role, RoleRef
from modelkin.io.base import TensorInfo

#: per-layer GGUF kind -> role kind (architecture-independent part).
LAYER_NAMES: dict[str, str] = {
    "attn_q": "attn_q",
    "attn_k": "attn_k",
    "attn_v": "attn_v",
    "attn_output": "attn_o",
    "attn_norm": "attn_norm",
    "attn_q_norm": "attn_q_norm",
    "attn_k_norm": "attn_k_norm",
    "post_attention_norm": "attn_post_norm",
    "ffn_up": "mlp_up",
    "ffn_gate": "mlp_gate",
    "ffn_down": "mlp_down",
    "ffn_norm": "mlp_norm",
    "post_ffw_norm": "mlp_post_norm",
    "attn_output_norm": "attn_norm",  # bert: attention.output.LayerNorm
    "layer_output_norm": "mlp_norm",  # bert: output.LayerNorm
}
GLOBAL_NAMES: dict[str, str] = {
    "token_embd": "embed_tokens",
    "position_embd": "embed_positions",
    "token_types": "embed_token_type",
    "token_embd_norm": "embed_norm",
    "output_norm": "final_norm",
    "output": "lm_head",
}
_BUFFERS = ("rope_freqs", "rope_factors_long", "rope_factors_short")
_LAYER = re.compile(r"^blk\.(?P<idx>\d+)\.(?P<kind>[a-z0-9_]+)\.(?P<param>weight|bias)$")
_GLOBAL = re.compile(r"^(?P<kind>[a-z0-9_]+)\.(?P<param>weight|bias)$")


def _num(cfg: Mapping[str, Any], key: str) -> int | None:
    v = cfg.get(key)
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def map_names(tensors: list[TensorInfo], config: Mapping[str, Any]) -> RoleMap:
    """Map GGUF tensor names to roles (rules in the module docstring)."""
    family = str(config.get("model_type") or "unknown")
    rm = RoleMap(family=family)
    names = {t.name for t in tensors}
    for t in tensors:
        base = t.name.split(".")[0]
        if base in _BUFFERS or t.name.endswith(".rope_freqs.weight"):
            rm.buffers.append(t.name)
            continue
        m = _LAYER.match(t.name)
        if m:
            layer, kind, param = int(m["idx"]), m["kind"], m["param"]
            role_kind = LAYER_NAMES.get(kind)
            if kind == "attn_qkv":
                if not _split_qkv(rm, t, layer, param, config):
                    rm.unmapped.append(t.name)
                continue
            if (
                kind == "ffn_up"
                and f"blk.{layer}.ffn_gate.{param}" not in names
                and _is_gate_up(t, config)
            ):
                half = t.shape[0] // 2
                rm.roles[Role("mlp_gate", layer, param)] = RoleRef(t.name, 0, half)
                rm.roles[Role("mlp_up", layer, param)] = RoleRef(t.name, half, t.shape[0])
                continue
            if role_kind is None:
                rm.unmapped.append(t.name)
                continue
            rm.roles[Role(role_kind, layer, param)] = RoleRef(t.name)
            continue
        g = _GLOBAL.match(t.name)
        gkind = GLOBAL_NAMES.get(g["kind"]) if g else None
        if g is None or gkind is None:
            rm.unmapped.append(t.name)
            continue
        rm.roles[Role(gkind, None, g["param"])] = RoleRef(t.name)
    if rm.buffers:
        rm.notes.append(f"{len(rm.buffers)} rotary-frequency tensors ignored (not parameters)")
    if Role("lm_head") not in rm.roles and Role("embed_tokens") in rm.roles:
        rm.notes.append("no output.weight: lm_head is tied to token_embd")
    rm.unmapped.sort()
    if rm.unmapped:
        rm.notes.append(f"{len(rm.unmapped)} tensors could not be given a role")
    return rm


def _is_gate_up(t: TensorInfo, config: Mapping[str, Any]) -> bool:
    inter = _num(config, "intermediate_size")
    return bool(inter) and len(t.shape) >= 1 and t.shape[0] == 2 * (inter or 0)


def _split_qkv(
    rm: RoleMap, t: TensorInfo, layer: int, param: str, config: Mapping[str, Any]
) -> bool:
    """Split a fused ``attn_qkv`` (rows ``[q | k | v]``) into three row ranges."""
    rows = t.shape[0] if t.shape else 0
    heads = _num(config, "num_attention_heads")
    kv = _num(config, "num_key_value_heads") or heads
    hd = _num(config, "head_dim")
    hidden = _num(config, "hidden_size")
    if hd is None and heads and hidden and hidden % heads == 0:
        hd = hidden // heads
    if heads and kv and hd and (heads + 2 * kv) * hd == rows:
        q, k = heads * hd, kv * hd
    elif rows and rows % 3 == 0:
        q = k = rows // 3
    else:
        rm.notes.append(f"{t.name}: cannot split fused QKV of {rows} rows")
        return False
    bounds = ((0, q), (q, q + k), (q + k, rows))
    for kind, (a, b) in zip(("attn_q", "attn_k", "attn_v"), bounds, strict=True):
        rm.roles[Role(kind, layer, param)] = RoleRef(t.name, a, b)
    return True
