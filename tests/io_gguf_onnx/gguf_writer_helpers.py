"""Write tiny GGUF files the way llama.cpp's converter lays them out (tests only).

Weights are plain numpy arrays in HF orientation; the helper applies the converter's
conventions (Q/K row permutation for llama, ``w + 1`` norms for gemma) and quantizes with
``gguf.quants.quantize``, so a reader that undoes them must give the HF values back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter
from gguf.quants import quantize

from modelkin.io.gguf import permute_like_converter

Q = GGMLQuantizationType
HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTER, VOCAB, LAYERS = 64, 4, 2, 16, 128, 96, 2

#: GGUF layer tensor -> (HF-orientation shape, stored type).
LAYER_TENSORS: dict[str, tuple[tuple[int, ...], GGMLQuantizationType]] = {
    "attn_q": ((HEADS * HEAD_DIM, HIDDEN), Q.Q8_0),
    "attn_k": ((KV_HEADS * HEAD_DIM, HIDDEN), Q.Q4_0),
    "attn_v": ((KV_HEADS * HEAD_DIM, HIDDEN), Q.Q8_0),
    "attn_output": ((HIDDEN, HEADS * HEAD_DIM), Q.Q4_0),
    "ffn_gate": ((INTER, HIDDEN), Q.Q8_0),
    "ffn_up": ((INTER, HIDDEN), Q.BF16),
    "ffn_down": ((HIDDEN, INTER), Q.Q5_0),
    "attn_norm": ((HIDDEN,), Q.F32),
    "ffn_norm": ((HIDDEN,), Q.F32),
    "attn_q_norm": ((HIDDEN,), Q.Q8_0),  # a 1-D quantized tensor
}


def make_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """HF-orientation weights keyed by GGUF name."""
    rng = np.random.default_rng(seed)
    w = {
        "token_embd.weight": rng.normal(0, 0.02, (VOCAB, HIDDEN)).astype(np.float32),
        "output_norm.weight": rng.normal(0, 0.1, HIDDEN).astype(np.float32),
        "output.weight": rng.normal(0, 0.02, (VOCAB, HIDDEN)).astype(np.float32),
    }
    for i in range(LAYERS):
        for kind, (shape, _) in LAYER_TENSORS.items():
            w[f"blk.{i}.{kind}.weight"] = rng.normal(0, 0.05, shape).astype(np.float32)
    return w


def write_gguf(path: Path, weights: dict[str, np.ndarray], arch: str = "llama") -> Path:
    """Write ``weights`` as the converter would for ``arch`` ("llama" or "gemma3")."""
    wr = GGUFWriter(path, arch)
    wr.add_block_count(LAYERS)
    wr.add_embedding_length(HIDDEN)
    wr.add_feed_forward_length(INTER)
    wr.add_head_count(HEADS)
    wr.add_head_count_kv(KV_HEADS)
    wr.add_key_length(HEAD_DIM)
    wr.add_layer_norm_rms_eps(1e-6)
    wr.add_context_length(128)
    wr.add_tokenizer_model("llama")
    tokens = ["<unk>", "<s>", "</s>"] + [f"tok{i}" for i in range(VOCAB - 3)]
    wr.add_token_list(tokens)
    wr.add_token_scores([float(-i) for i in range(VOCAB)])
    wr.add_token_types([2, 3, 3] + [1] * (VOCAB - 3))
    wr.add_bos_token_id(1)
    wr.add_eos_token_id(2)
    wr.add_unk_token_id(0)
    for name, a in weights.items():
        kind = name.split(".")[-2]
        stored = a
        if arch == "llama" and kind == "attn_q":
            stored = permute_like_converter(a, HEADS)
        elif arch == "llama" and kind == "attn_k":
            stored = permute_like_converter(a, KV_HEADS)
        if arch.startswith("gemma") and name.endswith("norm.weight"):
            stored = a + np.float32(1.0)
        qtype = LAYER_TENSORS[kind][1] if kind in LAYER_TENSORS else Q.F32
        if name == "output.weight":
            qtype = Q.F16
        if name == "token_embd.weight":
            qtype = Q.Q8_0
        if qtype == Q.F32:
            wr.add_tensor(name, stored.astype(np.float32))
        elif qtype == Q.F16:
            wr.add_tensor(name, stored.astype(np.float16))
        else:
            wr.add_tensor(name, quantize(stored, qtype), raw_dtype=qtype)
    wr.write_header_to_file()
    wr.write_kv_data_to_file()
    wr.write_tensors_to_file()
    wr.close()
    return path
