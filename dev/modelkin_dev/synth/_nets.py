"""Minimal torch networks whose parameter names are those of ``transformers``.

Private: imported lazily by :mod:`.models` so that ``modelkin_dev.synth`` imports without
torch. Module attribute names mirror ``LlamaForCausalLM`` and ``BertModel`` exactly, so
``state_dict()`` keys *are* the HF tensor names and a real checkpoint (e.g. MiniLM) loads
into :class:`Bert` unchanged — which is what lets the tests check that a transform
preserves the function of a real model.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from modelkin_dev.synth.specs import BertSpec, LlamaSpec


class RMSNorm(nn.Module):
    """Root-mean-square norm (Zhang & Sennrich 2019), computed in float32 as HF does."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(q: torch.Tensor, k: torch.Tensor, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary embedding in HF's "rotate half" layout (RoFormer, Su et al. 2021)."""
    t, d = q.shape[-2], q.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    return q * cos + _rotate_half(q) * sin, k * cos + _rotate_half(k) * sin


class LlamaAttention(nn.Module):
    def __init__(self, s: LlamaSpec) -> None:
        super().__init__()
        self.s = s
        hd = s.head_dim
        self.q_proj = nn.Linear(s.hidden_size, s.num_attention_heads * hd, bias=False)
        self.k_proj = nn.Linear(s.hidden_size, s.num_key_value_heads * hd, bias=False)
        self.v_proj = nn.Linear(s.hidden_size, s.num_key_value_heads * hd, bias=False)
        self.o_proj = nn.Linear(s.num_attention_heads * hd, s.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        s, hd = self.s, self.s.head_dim
        q = self.q_proj(x).view(b, t, s.num_attention_heads, hd).transpose(1, 2)
        k = self.k_proj(x).view(b, t, s.num_key_value_heads, hd).transpose(1, 2)
        v = self.v_proj(x).view(b, t, s.num_key_value_heads, hd).transpose(1, 2)
        q, k = rope(q, k, s.rope_theta)
        group = s.num_attention_heads // s.num_key_value_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class LlamaMLP(nn.Module):
    def __init__(self, s: LlamaSpec) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(s.hidden_size, s.intermediate_size, bias=False)
        self.up_proj = nn.Linear(s.hidden_size, s.intermediate_size, bias=False)
        self.down_proj = nn.Linear(s.intermediate_size, s.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaLayer(nn.Module):
    def __init__(self, s: LlamaSpec) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(s)
        self.mlp = LlamaMLP(s)
        self.input_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(s.hidden_size, s.rms_norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaBody(nn.Module):
    def __init__(self, s: LlamaSpec) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(s.vocab_size, s.hidden_size)
        self.layers = nn.ModuleList(LlamaLayer(s) for _ in range(s.num_hidden_layers))
        self.norm = RMSNorm(s.hidden_size, s.rms_norm_eps)


class Llama(nn.Module):
    """``LlamaForCausalLM``: ``forward(ids) -> logits``."""

    def __init__(self, s: LlamaSpec) -> None:
        super().__init__()
        self.spec = s
        self.model = LlamaBody(s)
        self.lm_head = nn.Linear(s.hidden_size, s.vocab_size, bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.model.embed_tokens(input_ids)
        for layer in self.model.layers:
            x = layer(x)
        return self.lm_head(self.model.norm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.query = nn.Linear(s.hidden_size, s.hidden_size)
        self.key = nn.Linear(s.hidden_size, s.hidden_size)
        self.value = nn.Linear(s.hidden_size, s.hidden_size)


class BertSelfOutput(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.dense = nn.Linear(s.hidden_size, s.hidden_size)
        self.LayerNorm = nn.LayerNorm(s.hidden_size, eps=s.layer_norm_eps)


class BertAttention(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.self = BertSelfAttention(s)
        self.output = BertSelfOutput(s)


class BertDense(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.dense = nn.Linear(n_in, n_out)


class BertOutput(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.dense = nn.Linear(s.intermediate_size, s.hidden_size)
        self.LayerNorm = nn.LayerNorm(s.hidden_size, eps=s.layer_norm_eps)


class BertLayer(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.s = s
        self.attention = BertAttention(s)
        self.intermediate = BertDense(s.hidden_size, s.intermediate_size)
        self.output = BertOutput(s)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        nh = self.s.num_attention_heads
        sa = self.attention.self

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, nh, h // nh).transpose(1, 2)

        q, k, v = heads(sa.query(x)), heads(sa.key(x)), heads(sa.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // nh) + mask
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        att = self.attention.output
        x = att.LayerNorm(x + att.dense(ctx))  # post-LN (Devlin et al. 2019)
        mid = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(x + self.output.dense(mid))


class BertEmbeddings(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(s.vocab_size, s.hidden_size)
        self.position_embeddings = nn.Embedding(s.max_position_embeddings, s.hidden_size)
        self.token_type_embeddings = nn.Embedding(s.type_vocab_size, s.hidden_size)
        self.LayerNorm = nn.LayerNorm(s.hidden_size, eps=s.layer_norm_eps)


class BertEncoder(nn.Module):
    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(s) for _ in range(s.num_hidden_layers))


class Bert(nn.Module):
    """``BertModel``: ``forward(ids, attention_mask, token_type_ids) -> hidden states``.

    Training uses :meth:`mlm_logits` (a head tied to the word embeddings, not saved), so
    the saved checkpoint holds exactly ``BertModel``'s tensors, pooler included."""

    def __init__(self, s: BertSpec) -> None:
        super().__init__()
        self.spec = s
        self.embeddings = BertEmbeddings(s)
        self.encoder = BertEncoder(s)
        self.pooler = BertDense(s.hidden_size, s.hidden_size)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        t = input_ids.shape[1]
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        e = self.embeddings
        pos = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = e.word_embeddings(input_ids) + e.position_embeddings(pos)
        x = e.LayerNorm(x + e.token_type_embeddings(token_type_ids))
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return x

    def mlm_logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.forward(input_ids) @ self.embeddings.word_embeddings.weight.T


def build(spec: LlamaSpec | BertSpec) -> nn.Module:
    """An untrained network for ``spec`` (initialised from torch's global RNG)."""
    if isinstance(spec, LlamaSpec):
        return Llama(spec)
    return Bert(spec)
