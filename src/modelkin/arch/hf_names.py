"""Hugging Face tensor names -> canonical roles.

Names are matched in two parts. Per-layer tensors look like ``<prefix>.<layers|layer|h|
blocks>.<i>.<rest>.<param>``: ``rest`` (e.g. ``self_attn.q_proj``) is looked up in
:data:`LAYER_NAMES`, which covers the llama family (llama, mistral, qwen2/3, gemma 1-3,
phi3), gpt2, gpt-neox, bert/roberta and common alternates (Meta's original llama names,
OPT/phi ``fc1``/``fc2``). Global tensors are matched after stripping wrapper prefixes
(``model.``, ``bert.``, ``language_model.`` ...) against :data:`GLOBAL_NAMES`.

Fused matrices are split into row ranges of one tensor:

* phi3 ``qkv_proj``: rows ``[q | k | v]`` with ``heads*head_dim`` and
  ``kv_heads*head_dim`` rows (head counts from config); ``gate_up_proj``: ``[gate | up]``
  (``Phi3MLP`` chunks its output in two, gate first).
* gpt2 ``c_attn``: ``Conv1D`` stores ``[in, out]``, so every gpt2 ``Conv1D`` weight is a
  ``transposed`` ref; after transposing, rows are ``[q | k | v]`` in equal thirds.
* gpt-neox ``query_key_value``: rows are grouped per head as ``[heads, 3, head_dim]``
  (``GPTNeoXAttention`` views the output as ``(..., heads, 3*head_dim)`` and splits the
  last axis), so q/k/v are *periodic* selections (``row_period = 3*head_dim``). The
  resulting q rows are in head order, the same order a separate q_proj would have.

A model with several stacks of layers (a vision tower beside the language model, an
encoder beside a decoder) is mapped on its language/largest stack; the others are listed as
unmapped, with a note. Buffers that are not parameters (``position_ids``, rotary
``inv_freq``, attention masks) are ignored and counted in a note.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelkin.arch.rolemap import RoleMap
from modelkin.arch.roles import Role, RoleRef
from modelkin.io.base import TensorInfo

#: ``rest`` after the layer index -> role kind.
LAYER_NAMES: dict[str, str] = {
    # llama family
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_o",
    "self_attn.q_norm": "attn_q_norm",
    "self_attn.k_norm": "attn_k_norm",
    "mlp.gate_proj": "mlp_gate",
    "mlp.up_proj": "mlp_up",
    "mlp.down_proj": "mlp_down",
    "input_layernorm": "attn_norm",
    "pre_feedforward_layernorm": "mlp_norm",
    "post_feedforward_layernorm": "mlp_post_norm",
    # bert / roberta
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_o",
    "attention.output.LayerNorm": "attn_norm",
    "intermediate.dense": "mlp_up",
    "output.dense": "mlp_down",
    "output.LayerNorm": "mlp_norm",
    # gpt2 (Conv1D: transposed)
    "ln_1": "attn_norm",
    "attn.c_proj": "attn_o",
    "ln_2": "mlp_norm",
    "mlp.c_fc": "mlp_up",
    "mlp.c_proj": "mlp_down",
    # gpt-neox
    "attention.dense": "attn_o",
    "mlp.dense_h_to_4h": "mlp_up",
    "mlp.dense_4h_to_h": "mlp_down",
    # Meta's original llama checkpoints
    "attention.wq": "attn_q",
    "attention.wk": "attn_k",
    "attention.wv": "attn_v",
    "attention.wo": "attn_o",
    "attention_norm": "attn_norm",
    "ffn_norm": "mlp_norm",
    "feed_forward.w1": "mlp_gate",
    "feed_forward.w3": "mlp_up",
    "feed_forward.w2": "mlp_down",
    # common alternates (OPT, phi-1/2, BART-like)
    "self_attn.out_proj": "attn_o",
    "self_attn.dense": "attn_o",
    "self_attn_layer_norm": "attn_norm",
    "final_layer_norm": "mlp_norm",
    "fc1": "mlp_up",
    "fc2": "mlp_down",
    "mlp.fc1": "mlp_up",
    "mlp.fc2": "mlp_down",
}
#: Fused tensors: ``rest`` -> how to split.
FUSED_NAMES: dict[str, str] = {
    "self_attn.qkv_proj": "qkv",
    "attn.c_attn": "qkv",
    "attention.query_key_value": "qkv_per_head",
    "mlp.gate_up_proj": "gate_up",
}
#: gpt2 modules stored by ``Conv1D`` as ``[in, out]``.
CONV1D = frozenset({"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"})

#: Global module paths (after wrapper prefixes are stripped) -> role kind.
GLOBAL_NAMES: dict[str, str] = {
    "embed_tokens": "embed_tokens",
    "embeddings.word_embeddings": "embed_tokens",
    "word_embeddings": "embed_tokens",
    "wte": "embed_tokens",
    "embed_in": "embed_tokens",
    "tok_embeddings": "embed_tokens",
    "embeddings.position_embeddings": "embed_positions",
    "wpe": "embed_positions",
    "embed_positions": "embed_positions",
    "embeddings.token_type_embeddings": "embed_token_type",
    "embeddings.LayerNorm": "embed_norm",
    "embeddings.layer_norm": "embed_norm",
    "word_embeddings_layernorm": "embed_norm",
    "norm": "final_norm",
    "ln_f": "final_norm",
    "final_layer_norm": "final_norm",
    "final_layernorm": "final_norm",
    "lm_head": "lm_head",
    "lm_head.decoder": "lm_head",
    "embed_out": "lm_head",
    "output": "lm_head",
    "cls.predictions.decoder": "lm_head",
    "pooler.dense": "pooler",
}
_WRAPPERS = (
    "model.",
    "transformer.",
    "bert.",
    "roberta.",
    "xlm_roberta.",
    "gpt_neox.",
    "language_model.",
    "text_model.",
    "base_model.",
    "backbone.",
    "encoder.",
)
_PARAMS = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}
_BUFFER_TAILS = ("position_ids", "inv_freq", "masked_bias", "_float_tensor")
_SIDE_STACK = re.compile(r"vision|visual|audio|image|mm_|multi_modal|projector")
_LAYER = re.compile(
    r"^(?P<prefix>(?:.+\.)?)(?:layers|layer|h|blocks|block)\.(?P<idx>\d+)\.(?P<rest>.+)$"
)

#: model_type aliases -> family.
_FAMILY_ALIASES = {"gemma3_text": "gemma3", "xlm-roberta": "roberta", "gpt-neox": "gpt_neox"}
KNOWN_FAMILIES = frozenset(
    {
        "llama",
        "mistral",
        "qwen2",
        "qwen3",
        "gemma",
        "gemma2",
        "gemma3",
        "phi3",
        "gpt2",
        "gpt_neox",
        "bert",
        "roberta",
    }
)


def text_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The language model's config: ``text_config`` of a multimodal config, else itself."""
    tc = config.get("text_config")
    if isinstance(tc, Mapping):
        merged = dict(tc)
        merged.setdefault("model_type", config.get("model_type"))
        return merged
    return config


def _family_from_names(names: list[str]) -> str:
    joined = "\n".join(names)
    if ".c_attn." in joined or "wte." in joined:
        return "gpt2"
    if "query_key_value" in joined or "gpt_neox." in joined:
        return "gpt_neox"
    if "attention.self.query" in joined:
        return "roberta" if "roberta." in joined else "bert"
    if "qkv_proj" in joined or "gate_up_proj" in joined:
        return "phi3"
    if "pre_feedforward_layernorm" in joined:
        return "gemma3" if "q_norm" in joined else "gemma2"
    if "self_attn.q_norm" in joined:
        return "qwen3"
    if "self_attn.q_proj" in joined or "attention.wq" in joined:
        return "llama"
    return "unknown"


def _family(cfg: Mapping[str, Any], names: list[str], notes: list[str]) -> str:
    mt = cfg.get("model_type")
    if isinstance(mt, str) and mt:
        fam = _FAMILY_ALIASES.get(mt, mt)
        if fam not in KNOWN_FAMILIES:
            notes.append(
                f"model_type {mt!r} has no dedicated name table; roles matched by common names"
            )
        return fam
    fam = _family_from_names(names)
    notes.append(f"no model_type in config: family {fam!r} inferred from tensor names")
    return fam


def _split_param(name: str) -> tuple[str, str] | None:
    module, _, last = name.rpartition(".")
    param = _PARAMS.get(last)
    if not module or param is None:
        return None
    return module, param


def _strip_wrappers(module: str) -> str:
    changed = True
    while changed:
        changed = False
        for w in _WRAPPERS:
            if module.startswith(w) and len(module) > len(w):
                module = module[len(w) :]
                changed = True
    return module


def _heads(cfg: Mapping[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(heads, kv_heads, head_dim) from a config, None where unknown."""

    def num(*keys: str) -> int | None:
        for k in keys:
            v = cfg.get(k)
            if isinstance(v, int) and not isinstance(v, bool) and v > 0:
                return v
        return None

    heads = num("num_attention_heads", "n_head", "num_heads")
    kv = num("num_key_value_heads", "num_kv_heads") or heads
    hd = num("head_dim")
    hidden = num("hidden_size", "n_embd", "d_model")
    if hd is None and heads and hidden and hidden % heads == 0:
        hd = hidden // heads
    return heads, kv, hd


def map_names(tensors: list[TensorInfo], config: Mapping[str, Any]) -> RoleMap:
    """Map HF tensor names to roles (see the module docstring for the rules)."""
    cfg = text_config(config)
    notes: list[str] = []
    family = _family(cfg, [t.name for t in tensors], notes)
    rm = RoleMap(family=family, notes=notes)
    infos = {t.name: t for t in tensors}

    # Group per-layer tensors by their stack prefix and pick the main stack.
    stacks: dict[str, list[tuple[TensorInfo, int, str]]] = {}
    others: list[TensorInfo] = []
    for t in tensors:
        if t.name.endswith(_BUFFER_TAILS) or _is_attn_mask(t):
            rm.buffers.append(t.name)
            continue
        m = _LAYER.match(t.name)
        if m:
            stacks.setdefault(m["prefix"], []).append((t, int(m["idx"]), m["rest"]))
        else:
            others.append(t)
    candidates = [p for p in stacks if not _SIDE_STACK.search(p)] or list(stacks)
    main = max(candidates, key=lambda p: (len(stacks[p]), p), default=None)
    for p, items in sorted(stacks.items()):
        if p != main:
            rm.unmapped.extend(t.name for t, _, _ in items)
            notes.append(
                f"{len(items)} tensors under {p!r} belong to another stack and are not mapped"
            )
    if rm.buffers:
        notes.append(
            f"{len(rm.buffers)} non-parameter buffers ignored (position ids, rotary frequencies, masks)"
        )

    # Layer tensors.
    sandwich = any(
        rest.startswith("pre_feedforward_layernorm") for _, _, rest in stacks.get(main or "", [])
    )
    heads, kv_heads, head_dim = _heads(cfg)
    for t, layer, rest in stacks.get(main or "", []) if main is not None else []:
        sp = _split_param(rest)
        if sp is None:
            rm.unmapped.append(t.name)
            continue
        module, param = sp
        transposed = (
            family == "gpt2" and module in CONV1D and param == "weight" and len(t.shape) == 2
        )
        if module == "post_attention_layernorm":
            kind: str | None = "attn_post_norm" if sandwich else "mlp_norm"
        else:
            kind = LAYER_NAMES.get(module)
        if kind is not None:
            rm.roles[Role(kind, layer, param)] = RoleRef(t.name, transposed=transposed)
            continue
        split = FUSED_NAMES.get(module)
        if split is None or not _split_fused(
            rm, t, layer, param, split, transposed, heads, kv_heads, head_dim
        ):
            rm.unmapped.append(t.name)

    # Global tensors.
    for t in others:
        sp = _split_param(t.name)
        kind = None
        if sp is not None and not _SIDE_STACK.search(t.name):
            module, param = sp
            kind = GLOBAL_NAMES.get(_strip_wrappers(module)) or GLOBAL_NAMES.get(module)
        if kind is None or sp is None:
            rm.unmapped.append(t.name)
            continue
        role = Role(kind, None, sp[1])
        if role in rm.roles:  # e.g. both lm_head.weight and lm_head.decoder.weight
            rm.unmapped.append(t.name)
            notes.append(f"{t.name} also looks like {role}; kept {rm.roles[role].name}")
            continue
        rm.roles[role] = RoleRef(t.name)

    _infer_embedding(rm, infos)
    rm.unmapped.sort()
    if rm.unmapped:
        notes.append(f"{len(rm.unmapped)} tensors could not be given a role")
    return rm


def _is_attn_mask(t: TensorInfo) -> bool:
    """gpt2 ``attn.bias`` / neox ``attention.bias``: causal-mask buffers, 4-D, not weights."""
    return t.name.endswith((".attn.bias", ".attention.bias")) and len(t.shape) == 4


def _split_fused(
    rm: RoleMap,
    t: TensorInfo,
    layer: int,
    param: str,
    split: str,
    transposed: bool,
    heads: int | None,
    kv_heads: int | None,
    head_dim: int | None,
) -> bool:
    """Add the row-range refs of a fused tensor; False (caller marks it unmapped) when the
    shape and config do not determine the split."""
    if not t.shape:
        return False
    rows = t.shape[-1] if transposed else t.shape[0]
    if split == "gate_up":
        if rows % 2:
            rm.notes.append(f"{t.name}: odd row count {rows}, cannot split gate/up")
            return False
        half = rows // 2
        rm.roles[Role("mlp_gate", layer, param)] = RoleRef(t.name, 0, half, transposed)
        rm.roles[Role("mlp_up", layer, param)] = RoleRef(t.name, half, rows, transposed)
        return True
    if split == "qkv_per_head":
        if not heads or not head_dim or rows != 3 * heads * head_dim:
            rm.notes.append(
                f"{t.name}: per-head fused QKV needs num_attention_heads in config matching {rows} rows"
            )
            return False
        p = 3 * head_dim
        for i, kind in enumerate(("attn_q", "attn_k", "attn_v")):
            rm.roles[Role(kind, layer, param)] = RoleRef(
                t.name, i * head_dim, (i + 1) * head_dim, transposed, p
            )
        return True
    # contiguous [q | k | v]
    q = k = None
    if heads and kv_heads and head_dim and heads * head_dim + 2 * kv_heads * head_dim == rows:
        q, k = heads * head_dim, kv_heads * head_dim
    elif rows % 3 == 0:
        q = k = rows // 3
        if heads and kv_heads and kv_heads != heads:
            rm.notes.append(
                f"{t.name}: head counts do not match {rows} rows; split in equal thirds"
            )
    else:
        rm.notes.append(f"{t.name}: cannot split fused QKV of {rows} rows without head counts")
        return False
    bounds = ((0, q), (q, q + k), (q + k, rows))
    for kind, (a, b) in zip(("attn_q", "attn_k", "attn_v"), bounds, strict=True):
        rm.roles[Role(kind, layer, param)] = RoleRef(t.name, a, b, transposed)
    return True


def _infer_embedding(rm: RoleMap, infos: Mapping[str, TensorInfo]) -> None:
    """Unknown names: take the unmapped 2-D tensor named like an embedding with the most
    rows as ``embed_tokens`` (it is the vocabulary matrix in every family we know)."""
    if Role("embed_tokens") in rm.roles:
        return
    cands = [
        infos[n]
        for n in rm.unmapped
        if n in infos
        and len(infos[n].shape) == 2
        and "emb" in n.lower()
        and "position" not in n.lower()
    ]
    if not cands:
        return
    best = max(cands, key=lambda t: (t.shape[0], t.name))
    rm.roles[Role("embed_tokens")] = RoleRef(best.name)
    rm.unmapped.remove(best.name)
    rm.notes.append(f"embed_tokens inferred from name and shape: {best.name} {list(best.shape)}")
