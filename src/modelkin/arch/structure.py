"""Structural signature: the shape of a network, independent of its weights' values.

Two models with different structural signatures cannot be the same weights; two with the
same one may be. Every value is derived from the tensors and the role map first, because a
config file is just a claim (it may be missing, stale or edited); the config fills in what
tensors cannot show (head counts without qk-norm), and ``sources`` records which one each
value came from. A config that disagrees with the tensors is reported in ``notes``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import rfc8785

from modelkin.arch.hf_names import text_config
from modelkin.arch.rolemap import RoleMap, role_map, role_shape
from modelkin.io.base import TensorInfo, TensorSource

_INT_DTYPES = frozenset(
    {"BOOL", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64"}
    | {"BOOL_", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
)
#: Families whose models are encoders without a language-model head of their own.
_ENCODERS = frozenset({"bert", "roberta"})
#: Rows compared at a time when checking lm_head against the embedding.
_TIE_CHUNK_ROWS = 4096
_TIE_CHUNK_VALUES = 1 << 20


@dataclass
class StructuralSignature:
    """A network's structure. ``None`` means "could not be determined".

    ``tied_embeddings`` is True when there is no separate ``lm_head`` (or it equals the
    embedding), False when a different one exists, None for encoders without a head.
    ``norm_type`` is ``"layernorm"`` (norms with a bias, or config ``layer_norm_eps``),
    ``"rmsnorm"`` (bias-free norms in a family that uses RMSNorm, or ``rms_norm_eps``)
    or ``"unknown"``. ``num_parameters`` counts floating-point and quantized tensors
    except the role map's ``buffers`` (integer tensors are buffers too). ``dtypes`` counts tensors
    per stored dtype.
    """

    architecture: str
    family: str
    num_layers: int | None
    hidden_size: int | None
    intermediate_size: int | None
    num_heads: int | None
    num_kv_heads: int | None
    head_dim: int | None
    vocab_size: int | None
    tied_embeddings: bool | None
    norm_type: str
    num_parameters: int
    dtypes: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """sha256 (hex) of the RFC 8785 canonical JSON of the structure (everything but
        ``sources`` and ``notes``, which explain rather than describe)."""
        d = self.to_dict()
        d.pop("sources")
        d.pop("notes")
        return hashlib.sha256(rfc8785.dumps(d)).hexdigest()


def _cfg_int(cfg: Mapping[str, Any], *keys: str) -> int | None:
    for k in keys:
        v = cfg.get(k)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
    return None


def is_parameter(t: TensorInfo) -> bool:
    """Floating-point or quantized tensors are parameters; integer/bool ones are buffers."""
    return t.quantized or t.dtype.upper() not in _INT_DTYPES


class _Builder:
    def __init__(self, source: TensorSource, roles: RoleMap) -> None:
        self.source = source
        self.roles = roles
        self.infos = {t.name: t for t in source.tensors()}
        self.cfg = text_config(source.config())
        self.sources: dict[str, str] = {}
        self.notes: list[str] = []

    def shape(
        self, kind: str, layer: int | None = None, param: str = "weight"
    ) -> tuple[int, ...] | None:
        ref = self.roles.get(kind, layer, param)
        if ref is None or ref.name not in self.infos:
            return None
        return role_shape(self.infos[ref.name], ref)

    def pick(self, key: str, from_tensors: int | None, *cfg_keys: str) -> int | None:
        """Prefer the tensor-derived value; note a disagreeing config."""
        from_cfg = _cfg_int(self.cfg, *cfg_keys) if cfg_keys else None
        if from_tensors is not None:
            self.sources[key] = "tensors"
            if from_cfg is not None and from_cfg != from_tensors:
                self.notes.append(
                    f"config says {key}={from_cfg} but the tensors show {from_tensors}"
                )
            return from_tensors
        if from_cfg is not None:
            self.sources[key] = "config"
        return from_cfg

    def first_layer(self) -> int:
        layers = sorted({r.layer for r in self.roles.roles if r.layer is not None})
        return layers[0] if layers else 0


def structure(source: TensorSource, roles: RoleMap | None = None) -> StructuralSignature:
    """The structural signature of ``source`` (its role map is computed if not given)."""
    rm = roles if roles is not None else role_map(source)
    b = _Builder(source, rm)
    L0 = b.first_layer()

    num_layers = b.pick(
        "num_layers", rm.num_layers or None, "num_hidden_layers", "n_layer", "num_layers"
    )
    emb = b.shape("embed_tokens")
    head = b.shape("lm_head")
    q = b.shape("attn_q", L0)
    k = b.shape("attn_k", L0)
    up = b.shape("mlp_up", L0)
    down = b.shape("mlp_down", L0)

    hidden_t = emb[1] if emb and len(emb) == 2 else (q[1] if q and len(q) == 2 else None)
    hidden = b.pick("hidden_size", hidden_t, "hidden_size", "n_embd", "d_model")
    vocab_t = emb[0] if emb else (head[0] if head else None)
    vocab = b.pick("vocab_size", vocab_t, "vocab_size")
    inter_t = up[0] if up and len(up) == 2 else (down[1] if down and len(down) == 2 else None)
    inter = b.pick("intermediate_size", inter_t, "intermediate_size", "n_inner", "ffn_dim")

    # Head geometry: qk-norm weights are [head_dim], which makes heads visible in tensors.
    qn = b.shape("attn_q_norm", L0)
    hd_t = qn[0] if qn and len(qn) == 1 else None
    head_dim = b.pick("head_dim", hd_t, "head_dim")
    heads_t = q[0] // hd_t if hd_t and q and q[0] % hd_t == 0 else None
    kv_t = k[0] // hd_t if hd_t and k and k[0] % hd_t == 0 else None
    heads = b.pick("num_heads", heads_t, "num_attention_heads", "n_head", "num_heads")
    kv = b.pick("num_kv_heads", kv_t, "num_key_value_heads", "num_kv_heads")
    if kv is None and heads is not None:
        if q and k and q[0] and k[0] and q[0] % k[0] == 0 and heads % (q[0] // k[0]) == 0:
            kv = heads // (q[0] // k[0])
            b.sources["num_kv_heads"] = "tensors"
        else:
            kv = heads
            b.sources["num_kv_heads"] = "config"
    if head_dim is None and heads:
        if q and q[0] % heads == 0:
            head_dim = q[0] // heads
            b.sources["head_dim"] = "tensors (q rows / heads)"
        elif hidden and hidden % heads == 0:
            head_dim = hidden // heads
            b.sources["head_dim"] = "config (hidden / heads)"

    tied = _tied(source, rm, b)
    norm_type = _norm_type(rm, b)
    buffers = set(rm.buffers)
    params = [t for t in b.infos.values() if is_parameter(t) and t.name not in buffers]
    dtypes = dict(sorted(Counter(t.dtype for t in b.infos.values()).items()))
    arch = b.cfg.get("architectures")
    architecture = (
        arch[0] if isinstance(arch, list) and arch and isinstance(arch[0], str) else rm.family
    )
    return StructuralSignature(
        architecture=architecture,
        family=rm.family,
        num_layers=num_layers,
        hidden_size=hidden,
        intermediate_size=inter,
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=head_dim,
        vocab_size=vocab,
        tied_embeddings=tied,
        norm_type=norm_type,
        num_parameters=sum(t.numel for t in params),
        dtypes=dtypes,
        sources=b.sources,
        notes=b.notes,
    )


def _tied(source: TensorSource, rm: RoleMap, b: _Builder) -> bool | None:
    emb_ref, head_ref = rm.get("embed_tokens"), rm.get("lm_head")
    if head_ref is None:
        if rm.family in _ENCODERS:
            b.sources["tied_embeddings"] = "no lm_head (encoder)"
            return None
        cfg_tie = b.cfg.get("tie_word_embeddings")
        b.sources["tied_embeddings"] = "tensors (no lm_head)"
        if cfg_tie is False:
            b.notes.append("config says tie_word_embeddings=false but there is no lm_head tensor")
        return True
    if emb_ref is None:
        return False
    if b.shape("embed_tokens") != b.shape("lm_head"):
        b.sources["tied_embeddings"] = "tensors (shapes differ)"
        return False
    # Same shape: compare values chunk by chunk (stops at the first difference).
    b.sources["tied_embeddings"] = "tensors (values compared)"
    if emb_ref.name == head_ref.name:
        return True
    shape = b.shape("embed_tokens") or (0,)
    rows, width = shape[0], int(np.prod(shape[1:])) if len(shape) > 1 else 1
    # A chunk of at most _TIE_CHUNK_VALUES values per matrix (4,096 rows of a 3584-wide
    # embedding were two 58 MB float32 copies: the peak of a 7B fast fingerprint).
    per = max(1, min(_TIE_CHUNK_ROWS, _TIE_CHUNK_VALUES // max(1, width)))
    for start in range(0, rows, per):
        stop = min(rows, start + per)
        a = source.read(emb_ref.name, slice(start, stop))
        c = source.read(head_ref.name, slice(start, stop))
        if not np.array_equal(a, c):
            return False
    return True


def _norm_type(rm: RoleMap, b: _Builder) -> str:
    norm_kinds = ("attn_norm", "mlp_norm", "final_norm", "embed_norm")
    weights = [r for r in rm.roles if r.kind in norm_kinds and r.param == "weight"]
    biases = [r for r in rm.roles if r.kind in norm_kinds and r.param == "bias"]
    if biases:
        b.sources["norm_type"] = "tensors (norms have biases)"
        return "layernorm"
    if "rms_norm_eps" in b.cfg:
        b.sources["norm_type"] = "config (rms_norm_eps)"
        return "rmsnorm"
    if "layer_norm_eps" in b.cfg or "layer_norm_epsilon" in b.cfg:
        b.sources["norm_type"] = "config (layer_norm_eps)"
        return "layernorm"
    if weights:
        b.sources["norm_type"] = "tensors (bias-free norms)"
        return "rmsnorm"
    return "unknown"
