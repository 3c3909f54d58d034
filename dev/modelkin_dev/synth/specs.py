"""Architecture recipes for the tiny synthetic models, and their HF ``config.json``.

A spec is plain data (no torch), so it can be hashed into a cache key and written as the
``config.json`` that readers of real Hugging Face checkpoints expect: the field names are
those of ``transformers``' ``LlamaConfig`` and ``BertConfig``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError

#: Byte-level vocabulary: 256 byte tokens plus special tokens (see :mod:`.tokenizers`).
BYTE_VOCAB = 256


@dataclass(frozen=True)
class LlamaSpec:
    """A llama-style decoder: RMSNorm, rotary positions, SwiGLU MLP, optional GQA."""

    vocab_size: int = BYTE_VOCAB + 3
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 128
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0

    model_type = "llama"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def config(self) -> dict[str, Any]:
        """The HF ``config.json`` of this architecture."""
        return {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            **asdict(self),
            "head_dim": self.head_dim,
            "hidden_act": "silu",
            "tie_word_embeddings": False,
            "attention_bias": False,
            "bos_token_id": BYTE_VOCAB + 1,
            "eos_token_id": BYTE_VOCAB + 2,
            "torch_dtype": "float32",
        }


@dataclass(frozen=True)
class BertSpec:
    """A BERT-style encoder: post-LayerNorm blocks, GELU MLP, token-type and absolute
    position embeddings."""

    vocab_size: int = BYTE_VOCAB + 5
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    max_position_embeddings: int = 128
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    model_type = "bert"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def config(self) -> dict[str, Any]:
        """The HF ``config.json`` of this architecture."""
        return {
            "architectures": ["BertModel"],
            "model_type": "bert",
            **asdict(self),
            "hidden_act": "gelu",
            "position_embedding_type": "absolute",
            "pad_token_id": 0,
            "torch_dtype": "float32",
        }


Spec = LlamaSpec | BertSpec


def spec_from_config(config: Mapping[str, Any], where: str | Path = "config.json") -> Spec:
    """Rebuild a spec from an HF ``config.json`` (ours or a real BERT/llama checkpoint's).

    Raises :class:`ModelkinError` for other model types or missing sizes, so a transform
    never guesses an architecture."""
    mtype = config.get("model_type")
    try:
        if mtype == "llama":
            n_heads = int(config["num_attention_heads"])
            return LlamaSpec(
                vocab_size=int(config["vocab_size"]),
                hidden_size=int(config["hidden_size"]),
                intermediate_size=int(config["intermediate_size"]),
                num_hidden_layers=int(config["num_hidden_layers"]),
                num_attention_heads=n_heads,
                num_key_value_heads=int(config.get("num_key_value_heads", n_heads)),
                max_position_embeddings=int(config.get("max_position_embeddings", 2048)),
                rms_norm_eps=float(config.get("rms_norm_eps", 1e-6)),
                rope_theta=float(config.get("rope_theta", 10000.0)),
            )
        if mtype == "bert":
            act = config.get("hidden_act", "gelu")
            if act != "gelu":
                raise ModelkinError(where, f"hidden_act {act!r} not supported (only 'gelu')")
            return BertSpec(
                vocab_size=int(config["vocab_size"]),
                hidden_size=int(config["hidden_size"]),
                intermediate_size=int(config["intermediate_size"]),
                num_hidden_layers=int(config["num_hidden_layers"]),
                num_attention_heads=int(config["num_attention_heads"]),
                max_position_embeddings=int(config.get("max_position_embeddings", 512)),
                type_vocab_size=int(config.get("type_vocab_size", 2)),
                layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelkinError(where, f"config lacks or mangles a size field: {exc}") from exc
    raise ModelkinError(where, f"model_type {mtype!r} is not llama or bert")


def with_layers(spec: Spec, n_layers: int) -> Spec:
    """The same spec with another depth."""
    return replace(spec, num_hidden_layers=n_layers)


def with_vocab(spec: Spec, vocab_size: int) -> Spec:
    """The same spec with another vocabulary size."""
    return replace(spec, vocab_size=vocab_size)


#: Smallest presets, for unit tests (a 60-step run takes about a second on one core).
TINY_LLAMA = LlamaSpec(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
)
TINY_BERT = BertSpec(
    hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4
)
