"""Format conversions of HF directories: llama -> GGUF, BERT -> ONNX.

A converted copy holds the same weights in another container (and possibly another
precision), which is the ``converted`` verdict's ground truth. The GGUF writer follows
llama.cpp's conventions (``convert_hf_to_gguf.py``): tensor names ``token_embd``,
``blk.N.attn_q`` ..., ``output``; the rows of Q and K reordered from HF's rotate-half
rotary layout to llama.cpp's interleaved one; 1-D tensors kept in F32; the byte vocabulary
as a ``gpt2`` tokenizer. Tensors are streamed: header and tensor infos first, then each
tensor's data (memory bounded by one tensor). The ONNX export runs the torch model
through ``torch.onnx.export`` (TorchScript exporter), as Optimum/sentence-transformers do.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir
from modelkin_dev.synth.specs import BertSpec, LlamaSpec, spec_from_config

_GGUF_NAMES = {
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "input_layernorm.weight": "attn_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
}
_GGUF_GLOBAL = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
GGUF_TYPES = ("F32", "F16", "Q8_0", "Q4_0")


def gguf_name(hf_name: str) -> str | None:
    """llama.cpp's name for an HF llama tensor (None for tensors llama.cpp drops)."""
    if hf_name in _GGUF_GLOBAL:
        return _GGUF_GLOBAL[hf_name]
    parts = hf_name.split(".", 3)
    if len(parts) == 4 and parts[0] == "model" and parts[1] == "layers":
        suffix = _GGUF_NAMES.get(parts[3])
        return f"blk.{parts[2]}.{suffix}" if suffix else None
    return None


def rope_interleave(w: np.ndarray, n_head: int) -> np.ndarray:
    """Reorder Q/K rows from HF's rotate-half layout to llama.cpp's adjacent pairs
    (``LlamaModel.permute`` in llama.cpp's converter: per head, split the rows into two
    halves and interleave them)."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def _tokens(src: Path) -> list[str]:
    p = src / "tokenizer.json"
    try:
        voc = json.loads(p.read_text(encoding="utf-8"))["model"]["vocab"]
        by_id = sorted((int(i), t) for t, i in voc.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelkinError(p, f"need a tokenizer.json with a model.vocab map: {exc}") from exc
    if [i for i, _ in by_id] != list(range(len(by_id))):
        raise ModelkinError(p, "vocabulary ids are not 0..n-1")
    return [t for _, t in by_id]


def to_gguf(src: Path, out: Path, qtype: str = "F32", name: str | None = None) -> Path:
    """Convert a llama HF directory to one GGUF file with 2-D tensors stored as ``qtype``
    (F32, F16, Q8_0, Q4_0; a Q type falls back to F16 for rows not a multiple of 32)."""
    import gguf
    from gguf import GGMLQuantizationType as Q
    from safetensors import safe_open

    src, out = Path(src), Path(out)
    if qtype not in GGUF_TYPES:
        raise ModelkinError(qtype, f"unsupported GGUF type; choose from {', '.join(GGUF_TYPES)}")
    spec = spec_from_config(hfdir.read_config(src), src / "config.json")
    if not isinstance(spec, LlamaSpec):
        raise ModelkinError(src, "GGUF conversion is implemented for llama models only")
    tokens = _tokens(src)
    files = hfdir.weight_files(src)

    def encode(hf: str, arr: np.ndarray) -> tuple[np.ndarray, Q]:
        a = np.asarray(arr, dtype=np.float32)
        if hf.endswith("q_proj.weight"):
            a = rope_interleave(a, spec.num_attention_heads)
        elif hf.endswith("k_proj.weight"):
            a = rope_interleave(a, spec.num_key_value_heads)
        if a.ndim != 2 or qtype == "F32":
            return a, Q.F32
        if qtype == "F16" or a.shape[1] % 32:
            return a.astype(np.float16), Q.F16
        qt = Q.Q8_0 if qtype == "Q8_0" else Q.Q4_0
        return gguf.quants.quantize(a, qt), qt

    plan: list[tuple[Path, str, str]] = []
    for f in files:
        with safe_open(str(f), framework="np") as st:
            plan += [(f, k, n) for k in sorted(st.keys()) if (n := gguf_name(k))]
    out.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(None, "llama")
    w.add_name(name or src.name)
    w.add_context_length(spec.max_position_embeddings)
    w.add_embedding_length(spec.hidden_size)
    w.add_block_count(spec.num_hidden_layers)
    w.add_feed_forward_length(spec.intermediate_size)
    w.add_rope_dimension_count(spec.head_dim)
    w.add_head_count(spec.num_attention_heads)
    w.add_head_count_kv(spec.num_key_value_heads)
    w.add_layer_norm_rms_eps(spec.rms_norm_eps)
    w.add_rope_freq_base(spec.rope_theta)
    w.add_vocab_size(spec.vocab_size)
    w.add_file_type({"F32": 0, "F16": 1, "Q8_0": 7, "Q4_0": 2}[qtype])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3 if t.startswith("<") and t.endswith(">") else 1 for t in tokens])
    w.add_token_merges([])
    # pass 1: shapes and sizes only (encode each tensor, keep nothing)
    for f, hf, gname in plan:
        with safe_open(str(f), framework="np") as st:
            data, qt = encode(hf, st.get_tensor(hf))
        w.add_tensor_info(gname, data.shape, data.dtype, data.nbytes, raw_dtype=qt)
    w.write_header_to_file(path=out)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    # pass 2: data, one tensor at a time, in the same order
    for f, hf, _ in plan:
        with safe_open(str(f), framework="np") as st:
            data, _qt = encode(hf, st.get_tensor(hf))
        w.write_tensor_data(data)
    w.close()
    return out


def to_onnx(src: Path, out: Path, opset: int = 17) -> Path:
    """Export a BERT HF directory to ONNX (inputs ``input_ids``, ``attention_mask``,
    ``token_type_ids``; output ``last_hidden_state``; dynamic batch and sequence)."""
    import torch

    from modelkin_dev.synth import models

    src, out = Path(src), Path(out)
    spec = spec_from_config(hfdir.read_config(src), src / "config.json")
    if not isinstance(spec, BertSpec):
        raise ModelkinError(src, "ONNX conversion is implemented for BERT models only")
    net = models.load(src)
    ids = torch.ones((1, 8), dtype=torch.long)
    dyn: dict[str, Any] = {
        n: {0: "batch", 1: "seq"}
        for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # the TorchScript exporter warns about its own deprecation and about shape
        # arithmetic it freezes (head size), neither of which affects this export
        warnings.simplefilter("ignore")
        _export(net, ids, out, dyn, opset)
    return out


def _export(net: Any, ids: Any, out: Path, dyn: dict[str, Any], opset: int) -> None:
    import torch

    torch.onnx.export(
        net,
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(out),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes=dyn,
        opset_version=opset,
        dynamo=False,
    )
