"""Forward passes from the weights, one layer in memory at a time.

:func:`run` feeds token sequences through a model read by any modelkin reader and returns
the hidden state of every token after every block (the residual stream), plus optionally
the output logits over a chosen subset of the vocabulary.

Memory is bounded by one layer's weights plus the probe's activations, never the whole
model: the token embedding is read only at the rows the probe uses, each block's tensors
are read when the block runs and dropped after it, and output logits are computed over
the requested vocabulary rows only (a 262k-row Gemma embedding is never materialised).
All sequences go through block ``i`` before block ``i + 1`` is read, so each tensor is
read exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from modelkin.arch.rolemap import RoleMap, read_role, role_map
from modelkin.arch.roles import RoleRef
from modelkin.forward import ops
from modelkin.forward.spec import ForwardSpec, UnsupportedModel, forward_spec
from modelkin.io.base import TensorSource

F32 = np.float32
#: Rows read per call when gathering embedding / output rows.
_ROW_BLOCK = 256


@dataclass
class Activations:
    """Hidden states of a batch of sequences.

    ``layers[0]`` is the embedding output and ``layers[i]`` the residual stream after block
    ``i`` (``i = 1..num_layers``), each ``[n_tokens, hidden]`` with the sequences'
    tokens concatenated in order (``lengths`` gives each sequence's length). ``final`` is
    the last block's output after the final norm (decoders; the input of the LM head), and
    ``logits`` the LM head's outputs over the vocabulary rows ``logit_ids`` (None when not
    asked for or when the model has no head)."""

    spec: ForwardSpec
    layers: list[np.ndarray]
    lengths: list[int]
    final: np.ndarray | None = None
    logits: np.ndarray | None = None
    logit_ids: np.ndarray | None = None


class _Weights:
    """Role-map reads for one model (float32, HF orientation)."""

    def __init__(self, source: TensorSource, rm: RoleMap) -> None:
        self.source = source
        self.rm = rm

    def get(self, kind: str, layer: int | None = None, param: str = "weight") -> np.ndarray | None:
        ref = self.rm.get(kind, layer, param)
        return None if ref is None else read_role(self.source, ref)

    def need(self, kind: str, layer: int | None = None, param: str = "weight") -> np.ndarray:
        a = self.get(kind, layer, param)
        if a is None:
            where = f"layer {layer} " if layer is not None else ""
            raise UnsupportedModel(self.source.path, f"no {where}{kind}.{param} tensor")
        return a

    def rows(self, kind: str, ids: np.ndarray) -> np.ndarray:
        """Rows ``ids`` of a role's matrix, reading only those rows where the reader can."""
        ref = self.rm.get(kind)
        if ref is None:
            raise UnsupportedModel(self.source.path, f"no {kind} tensor")
        return gather_rows(self.source, ref, ids)


def gather_rows(source: TensorSource, ref: RoleRef, ids: np.ndarray) -> np.ndarray:
    """``read_role(source, ref)[ids]`` reading only runs of consecutive rows."""
    ids = np.asarray(ids, dtype=np.int64)
    if ref.transposed or ref.row_period is not None or ref.row_start is not None:
        return np.asarray(read_role(source, ref)[ids], dtype=F32)
    uniq, inverse = np.unique(ids, return_inverse=True)
    parts: list[np.ndarray] = []
    i = 0
    while i < len(uniq):
        j = i + 1
        while j < len(uniq) and uniq[j] == uniq[j - 1] + 1 and j - i < _ROW_BLOCK:
            j += 1
        parts.append(source.read(ref.name, slice(int(uniq[i]), int(uniq[j - 1]) + 1)))
        i = j
    table = np.concatenate(parts, axis=0) if parts else np.zeros((0, 0), F32)
    return np.ascontiguousarray(table[inverse], dtype=F32)


def run(
    source: TensorSource,
    sequences: Sequence[Sequence[int] | np.ndarray],
    logit_ids: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> Activations:
    """Run every sequence of token ids through ``source`` (see the module docstring).

    ``rows`` (indices into the concatenated tokens) keeps only those positions in
    ``layers``, ``final`` and ``logits``, so stored activations stay small however many
    tokens run; the forward pass itself always sees every token."""
    rm = role_map(source)
    spec = forward_spec(source, rm)
    w = _Weights(source, rm)
    seqs = [np.asarray(s, dtype=np.int64) for s in sequences]
    lengths = [int(s.shape[0]) for s in seqs]
    if not seqs or min(lengths) < 1:
        raise ValueError("run() needs at least one non-empty sequence")
    vocab = _vocab_rows(source, rm)
    ids = np.concatenate(seqs)
    if ids.min() < 0 or ids.max() >= vocab:
        raise UnsupportedModel(source.path, f"token id outside the vocabulary of {vocab}")
    if spec.max_positions is not None and max(lengths) + spec.position_offset > spec.max_positions:
        raise UnsupportedModel(
            source.path,
            f"a sequence of {max(lengths)} tokens is longer than the model's "
            f"{spec.max_positions} positions",
        )
    x = w.rows("embed_tokens", ids) * F32(spec.embed_scale)
    if spec.kind == "encoder":
        x = _bert_embed(w, spec, x, lengths)
    elif spec.family == "gpt2":
        pos = np.concatenate([np.arange(n) for n in lengths])
        x = x + w.rows("embed_positions", pos)
    x = np.ascontiguousarray(x, dtype=F32)
    keep = (lambda a: a) if rows is None else (lambda a: np.ascontiguousarray(a[rows]))
    layers = [keep(x)]
    for i in range(spec.num_layers):
        if spec.kind == "encoder":
            x = _bert_block(w, spec, i, x, lengths)
        elif spec.family == "gpt2":
            x = _gpt2_block(w, spec, i, x, lengths)
        else:
            x = _llama_block(w, spec, i, x, lengths)
        layers.append(keep(x))
    out = Activations(spec=spec, layers=layers, lengths=lengths)
    if spec.kind == "decoder":
        out.final = _final_norm(w, spec, keep(x))
        if logit_ids is not None:
            out.logit_ids = np.asarray(logit_ids, dtype=np.int64)
            out.logits = _logits(w, spec, out.final, out.logit_ids)
    return out


def _vocab_rows(source: TensorSource, rm: RoleMap) -> int:
    ref = rm.get("embed_tokens")
    assert ref is not None
    info = source.info(ref.name)
    return int(info.shape[1] if ref.transposed else info.shape[0])


def _split(x: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
    return np.split(x, np.cumsum(lengths)[:-1])


def _norm(
    w: _Weights, spec: ForwardSpec, kind: str, layer: int | None, x: np.ndarray
) -> np.ndarray:
    g = w.need(kind, layer)
    if spec.norm == "layer":
        return ops.layer_norm(x, g, w.get(kind, layer, "bias"), spec.eps)
    return ops.rms_norm(x, g, spec.eps, spec.norm_offset)


def _final_norm(w: _Weights, spec: ForwardSpec, x: np.ndarray) -> np.ndarray:
    if w.rm.get("final_norm") is None:
        return x
    return _norm(w, spec, "final_norm", None, x)


def _logits(w: _Weights, spec: ForwardSpec, h: np.ndarray, ids: np.ndarray) -> np.ndarray:
    kind = "lm_head" if w.rm.get("lm_head") is not None else "embed_tokens"
    rows = w.rows(kind, ids)
    z = h @ rows.T
    if w.rm.get("lm_head", None, "bias") is not None and kind == "lm_head":
        z = z + w.need("lm_head", None, "bias")[ids]
    if spec.final_softcap:
        c = F32(spec.final_softcap)
        z = c * np.tanh(z / c)
    return np.asarray(z, dtype=F32)


def _heads(x: np.ndarray, n: int, d: int) -> np.ndarray:
    """``[t, n*d] -> [n, t, d]``."""
    return x.reshape(x.shape[0], n, d).transpose(1, 0, 2)


def _llama_block(
    w: _Weights, s: ForwardSpec, i: int, x: np.ndarray, lengths: list[int]
) -> np.ndarray:
    h = _norm(w, s, "attn_norm", i, x)
    q = ops.linear(h, w.need("attn_q", i), w.get("attn_q", i, "bias"))
    k = ops.linear(h, w.need("attn_k", i), w.get("attn_k", i, "bias"))
    v = ops.linear(h, w.need("attn_v", i), w.get("attn_v", i, "bias"))
    qn, kn = w.get("attn_q_norm", i), w.get("attn_k_norm", i)
    inv = s.rope_inv_freq[i]
    outs = []
    for qs, ks, vs in zip(_split(q, lengths), _split(k, lengths), _split(v, lengths), strict=True):
        qh = _heads(qs, s.num_heads, s.head_dim)
        kh = _heads(ks, s.num_kv_heads, s.head_dim)
        vh = _heads(vs, s.num_kv_heads, s.head_dim)
        if qn is not None:
            qh = ops.rms_norm(qh, qn, s.eps, s.norm_offset)
        if kn is not None:
            kh = ops.rms_norm(kh, kn, s.eps, s.norm_offset)
        if inv is not None:
            cos, sin = ops.rope_tables(np.arange(qs.shape[0]), inv)
            qh, kh = ops.apply_rope(qh, cos, sin), ops.apply_rope(kh, cos, sin)
        outs.append(ops.attention(qh, kh, vh, s.query_scale, True, s.window[i], s.attn_softcap))
    a = ops.linear(np.concatenate(outs), w.need("attn_o", i), w.get("attn_o", i, "bias"))
    if w.rm.get("attn_post_norm", i) is not None:
        a = _norm(w, s, "attn_post_norm", i, a)
    x = x + a
    h = _norm(w, s, "mlp_norm", i, x)
    act = ops.ACTIVATIONS[s.activation]
    gate = ops.linear(h, w.need("mlp_gate", i), w.get("mlp_gate", i, "bias"))
    up = ops.linear(h, w.need("mlp_up", i), w.get("mlp_up", i, "bias"))
    m = ops.linear(act(gate) * up, w.need("mlp_down", i), w.get("mlp_down", i, "bias"))
    if w.rm.get("mlp_post_norm", i) is not None:
        m = _norm(w, s, "mlp_post_norm", i, m)
    return np.ascontiguousarray(x + m, dtype=F32)


def _bert_embed(w: _Weights, s: ForwardSpec, x: np.ndarray, lengths: list[int]) -> np.ndarray:
    pos = np.concatenate([np.arange(n) for n in lengths]) + s.position_offset
    x = x + w.rows("embed_positions", pos)
    if w.rm.get("embed_token_type") is not None:
        x = x + w.rows("embed_token_type", np.zeros(1, dtype=np.int64))[0]
    if w.rm.get("embed_norm") is not None:
        x = _norm(w, s, "embed_norm", None, x)
    return x


def _bert_block(
    w: _Weights, s: ForwardSpec, i: int, x: np.ndarray, lengths: list[int]
) -> np.ndarray:
    """Post-LN encoder block (Devlin et al. 2019), bidirectional attention."""
    q = ops.linear(x, w.need("attn_q", i), w.get("attn_q", i, "bias"))
    k = ops.linear(x, w.need("attn_k", i), w.get("attn_k", i, "bias"))
    v = ops.linear(x, w.need("attn_v", i), w.get("attn_v", i, "bias"))
    outs = [
        ops.attention(
            _heads(qs, s.num_heads, s.head_dim),
            _heads(ks, s.num_heads, s.head_dim),
            _heads(vs, s.num_heads, s.head_dim),
            s.query_scale,
            False,
        )
        for qs, ks, vs in zip(
            _split(q, lengths), _split(k, lengths), _split(v, lengths), strict=True
        )
    ]
    a = ops.linear(np.concatenate(outs), w.need("attn_o", i), w.get("attn_o", i, "bias"))
    x = _norm(w, s, "attn_norm", i, x + a)
    act = ops.ACTIVATIONS[s.activation]
    m = act(ops.linear(x, w.need("mlp_up", i), w.get("mlp_up", i, "bias")))
    m = ops.linear(m, w.need("mlp_down", i), w.get("mlp_down", i, "bias"))
    return np.ascontiguousarray(_norm(w, s, "mlp_norm", i, x + m), dtype=F32)


def _gpt2_block(
    w: _Weights, s: ForwardSpec, i: int, x: np.ndarray, lengths: list[int]
) -> np.ndarray:
    """Pre-LN GPT-2 block (Radford et al. 2019)."""
    h = _norm(w, s, "attn_norm", i, x)
    q = ops.linear(h, w.need("attn_q", i), w.get("attn_q", i, "bias"))
    k = ops.linear(h, w.need("attn_k", i), w.get("attn_k", i, "bias"))
    v = ops.linear(h, w.need("attn_v", i), w.get("attn_v", i, "bias"))
    outs = [
        ops.attention(
            _heads(qs, s.num_heads, s.head_dim),
            _heads(ks, s.num_heads, s.head_dim),
            _heads(vs, s.num_heads, s.head_dim),
            s.query_scale,
            True,
        )
        for qs, ks, vs in zip(
            _split(q, lengths), _split(k, lengths), _split(v, lengths), strict=True
        )
    ]
    x = x + ops.linear(np.concatenate(outs), w.need("attn_o", i), w.get("attn_o", i, "bias"))
    h = _norm(w, s, "mlp_norm", i, x)
    act = ops.ACTIVATIONS[s.activation]
    m = act(ops.linear(h, w.need("mlp_up", i), w.get("mlp_up", i, "bias")))
    m = ops.linear(m, w.need("mlp_down", i), w.get("mlp_down", i, "bias"))
    return np.ascontiguousarray(x + m, dtype=F32)


__all__ = ["Activations", "UnsupportedModel", "gather_rows", "run"]
