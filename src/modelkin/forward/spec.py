"""What a forward pass needs to know about a network, read from its config and role map.

:func:`forward_spec` turns a :class:`~modelkin.io.base.TensorSource` (any format) into a
:class:`ForwardSpec`: family, widths, head geometry, norm and activation types, rotary
parameters per layer, sliding windows and soft-caps. Values come from the model's config
(HF ``config.json``, or the one the GGUF reader derives from its metadata) with the
defaults that the reference implementations hard-code for each family (llama.cpp for GGUF
files: Gemma 3's local rotary base 10000 and its one-global-in-six layer pattern, Gemma 2's
alternating windows). A family or setting this module does not know raises
:class:`UnsupportedModel`: a forward pass that silently computes something else would make
every activation statistic meaningless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkin.arch.hf_names import text_config
from modelkin.arch.rolemap import RoleMap
from modelkin.errors import ModelkinError
from modelkin.io.base import TensorSource

#: Decoder families with llama-style blocks (pre-norm, rotary, gated MLP).
LLAMA_LIKE = frozenset({"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3"})
ENCODERS = frozenset({"bert", "roberta"})
GPT2_LIKE = frozenset({"gpt2"})
SUPPORTED = LLAMA_LIKE | ENCODERS | GPT2_LIKE
_GEMMA = frozenset({"gemma", "gemma2", "gemma3"})
_ALIASES = {"gemma3_text": "gemma3", "gemma2_text": "gemma2", "xlm-roberta": "roberta"}


class UnsupportedModel(ModelkinError):
    """The model cannot be run by modelkin's forward passes (family or setting unknown)."""


@dataclass(frozen=True)
class ForwardSpec:
    """Everything a forward pass reads from the config (weights come from the role map).

    ``rope_inv_freq[i]`` is layer ``i``'s rotary inverse-frequency vector (None for
    learned absolute positions); ``window[i]`` its sliding window (None: full attention).
    """

    family: str
    kind: str  # "decoder" | "encoder"
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    eps: float
    norm: str  # "rms" | "layer"
    norm_offset: float
    activation: str
    embed_scale: float
    query_scale: float
    gated_mlp: bool
    rope_inv_freq: tuple[np.ndarray | None, ...] = field(default_factory=tuple)
    window: tuple[int | None, ...] = field(default_factory=tuple)
    attn_softcap: float | None = None
    final_softcap: float | None = None
    max_positions: int | None = None
    position_offset: int = 0
    notes: tuple[str, ...] = ()


def _num(cfg: Mapping[str, Any], *keys: str) -> float | None:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v)
    return None


def _int(cfg: Mapping[str, Any], *keys: str) -> int | None:
    v = _num(cfg, *keys)
    return int(v) if v is not None and v == int(v) and v > 0 else None


def family_of(source: TensorSource, rm: RoleMap) -> str:
    """The forward family of ``source`` (model_type, else the role map's family)."""
    cfg = text_config(source.config())
    mt = cfg.get("model_type")
    fam = mt if isinstance(mt, str) and mt else rm.family
    return _ALIASES.get(fam, fam)


def _inv_freq(theta: float, dim: int) -> np.ndarray:
    return 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float64) / dim))


def _scaled(inv: np.ndarray, scaling: Mapping[str, Any] | None, where: str) -> np.ndarray:
    """Apply an HF ``rope_scaling`` block to base inverse frequencies."""
    if not scaling:
        return inv
    kind = scaling.get("rope_type") or scaling.get("type") or "default"
    if kind == "default":
        return inv
    factor = float(scaling.get("factor", 1.0))
    if kind == "linear":
        return inv / factor
    if kind == "llama3":
        low = float(scaling.get("low_freq_factor", 1.0))
        high = float(scaling.get("high_freq_factor", 4.0))
        old = float(scaling.get("original_max_position_embeddings", 8192))
        wavelen = 2 * math.pi / inv
        low_wl, high_wl = old / low, old / high
        out = np.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        mid = (1 - smooth) * out / factor + smooth * out
        between = (wavelen >= high_wl) & (wavelen <= low_wl)
        return np.where(between, mid, out)
    raise UnsupportedModel(where, f"rope scaling {kind!r} is not implemented")


def forward_spec(source: TensorSource, rm: RoleMap) -> ForwardSpec:
    """The forward spec of ``source`` with role map ``rm`` (see the module docstring)."""
    where = str(source.path)
    cfg = text_config(source.config())
    fam = family_of(source, rm)
    if fam not in SUPPORTED:
        raise UnsupportedModel(
            where,
            f"no forward pass for family {fam!r} (supported: {', '.join(sorted(SUPPORTED))})",
        )
    meta = source.metadata() if source.format == "gguf" else {}
    arch = str(meta.get("general.architecture", "")) if meta else ""
    layers = rm.num_layers
    q = rm.get("attn_q", 0)
    infos = {t.name: t for t in source.tensors()}
    if layers == 0 or q is None or rm.get("embed_tokens") is None:
        raise UnsupportedModel(where, "the role map has no layers or no token embedding")
    emb = rm.get("embed_tokens")
    hidden = _int(cfg, "hidden_size", "n_embd", "d_model")
    if hidden is None and emb is not None and emb.name in infos:
        hidden = infos[emb.name].shape[-1]
    if hidden is None:
        raise UnsupportedModel(where, "the hidden size is unknown")
    heads = _int(cfg, "num_attention_heads", "n_head")
    if heads is None:
        raise UnsupportedModel(where, "the config does not give the number of attention heads")
    kv = _int(cfg, "num_key_value_heads") or heads
    head_dim = _int(cfg, "head_dim") or hidden // heads
    notes: list[str] = []
    if fam in ENCODERS:
        eps = _num(cfg, "layer_norm_eps", "layer_norm_epsilon") or 1e-12
        act = str(cfg.get("hidden_act", "gelu"))
        offset = 0
        if fam == "roberta":
            offset = int(_num(cfg, "pad_token_id") or 1) + 1
        return ForwardSpec(
            family=fam,
            kind="encoder",
            num_layers=layers,
            hidden_size=hidden,
            num_heads=heads,
            num_kv_heads=heads,
            head_dim=head_dim,
            eps=eps,
            norm="layer",
            norm_offset=0.0,
            activation=_activation(act, where),
            embed_scale=1.0,
            query_scale=1.0 / math.sqrt(head_dim),
            gated_mlp=False,
            rope_inv_freq=(None,) * layers,
            window=(None,) * layers,
            max_positions=_int(cfg, "max_position_embeddings"),
            position_offset=offset,
        )
    if fam in GPT2_LIKE:
        return ForwardSpec(
            family=fam,
            kind="decoder",
            num_layers=layers,
            hidden_size=hidden,
            num_heads=heads,
            num_kv_heads=heads,
            head_dim=head_dim,
            eps=_num(cfg, "layer_norm_epsilon", "layer_norm_eps") or 1e-5,
            norm="layer",
            norm_offset=0.0,
            activation=_activation(str(cfg.get("activation_function", "gelu_new")), where),
            embed_scale=1.0,
            query_scale=1.0 / math.sqrt(head_dim),
            gated_mlp=False,
            rope_inv_freq=(None,) * layers,
            window=(None,) * layers,
            max_positions=_int(cfg, "n_positions", "max_position_embeddings"),
        )
    # llama-like decoders
    gemma = fam in _GEMMA
    eps = _num(cfg, "rms_norm_eps", "layer_norm_eps") or 1e-6
    default_act = "gelu_pytorch_tanh" if gemma else "silu"
    act = str(cfg.get("hidden_activation") or cfg.get("hidden_act") or default_act)
    if gemma and act == "gelu":
        act = "gelu_pytorch_tanh"  # HF Gemma overrides an old "gelu" config with tanh GELU
    rope_params = cfg.get("rope_parameters")
    theta = _num(cfg, "rope_theta") or 10000.0
    scaling = cfg.get("rope_scaling")
    local_theta = _num(cfg, "rope_local_base_freq") or 10000.0
    if isinstance(rope_params, Mapping):  # transformers v5 layout
        full = rope_params.get("full_attention", rope_params)
        slide = rope_params.get("sliding_attention", full)
        if isinstance(full, Mapping):
            theta = _num(full, "rope_theta") or theta
            if (full.get("rope_type") or "default") != "default":
                scaling = full
        if isinstance(slide, Mapping):
            local_theta = _num(slide, "rope_theta") or local_theta
    if isinstance(scaling, Mapping) and fam == "phi3" and scaling.get("type") in ("longrope", "su"):
        raise UnsupportedModel(where, "phi3 long-context rope scaling is not implemented")
    partial = _num(cfg, "partial_rotary_factor") or 1.0
    rot_dim = int(head_dim * partial)
    base = _scaled(
        _inv_freq(theta, rot_dim), scaling if isinstance(scaling, Mapping) else None, where
    )
    factors = _rope_factors(source, rm)
    if factors is not None and factors.shape[0] == base.shape[0]:
        base = base / factors.astype(np.float64)
        notes.append("rotary frequencies divided by the file's rope_freqs factors")
    window_size = _int(cfg, "sliding_window")
    layer_types = cfg.get("layer_types")
    sliding: list[bool]
    if isinstance(layer_types, list) and len(layer_types) == layers:
        sliding = [t == "sliding_attention" for t in layer_types]
    elif fam == "gemma3":
        pattern = _int(cfg, "sliding_window_pattern") or 6
        sliding = [(i + 1) % pattern != 0 for i in range(layers)]
    elif fam == "gemma2":
        sliding = [i % 2 == 0 for i in range(layers)]
    elif (
        fam in ("mistral", "qwen2", "qwen3")
        and window_size
        and cfg.get("use_sliding_window", fam == "mistral")
    ):
        sliding = [True] * layers
    else:
        sliding = [False] * layers
    local = _inv_freq(local_theta, rot_dim)
    inv = tuple(
        (local if (fam == "gemma3" and sliding[i]) else base).astype(np.float32)
        for i in range(layers)
    )
    windows = tuple(window_size if sliding[i] else None for i in range(layers))
    qpas = _num(cfg, "query_pre_attn_scalar")
    attn_cap = _num(cfg, "attn_logit_softcapping") or _num(meta, f"{arch}.attn_logit_softcapping")
    final_cap = _num(cfg, "final_logit_softcapping") or _num(
        meta, f"{arch}.final_logit_softcapping"
    )
    if fam == "gemma3":
        attn_cap = None  # Gemma 3 replaced soft-capping with qk-norm
    return ForwardSpec(
        family=fam,
        kind="decoder",
        num_layers=layers,
        hidden_size=hidden,
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=head_dim,
        eps=eps,
        norm="rms",
        norm_offset=1.0 if gemma else 0.0,
        activation=_activation(act, where),
        embed_scale=math.sqrt(hidden) if gemma else 1.0,
        query_scale=1.0 / math.sqrt(qpas if qpas else head_dim),
        gated_mlp=True,
        rope_inv_freq=inv,
        window=windows,
        attn_softcap=attn_cap if fam == "gemma2" else None,
        final_softcap=final_cap if fam in ("gemma2", "gemma3") else None,
        max_positions=None,
        notes=tuple(notes),
    )


def _activation(name: str, where: str) -> str:
    from modelkin.forward.ops import ACTIVATIONS

    if name not in ACTIVATIONS:
        raise UnsupportedModel(where, f"activation {name!r} is not implemented")
    return name


def _rope_factors(source: TensorSource, rm: RoleMap) -> np.ndarray | None:
    """llama.cpp stores Llama 3's rotary scaling as a ``rope_freqs.weight`` tensor."""
    for name in rm.buffers:
        if name.split(".")[0] == "rope_freqs":
            return source.read(name).reshape(-1)
    return None
