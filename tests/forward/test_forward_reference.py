"""modelkin's numpy forward passes against reference runtimes, hidden state by hidden state.

References: ``transformers`` (torch) for tiny random models of every family the forward
passes know, saved as real HF checkpoints and read back through modelkin's readers; the
synthetic torch networks of ``modelkin_dev.synth``; onnxruntime for the real MiniLM-L3
ONNX export; ``transformers``' Gemma 3 for the real gemma-270m GGUF (weights dequantized
by modelkin's GGUF reader, arithmetic by transformers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from modelkin.arch import read_role, role_map
from modelkin.forward import UnsupportedModel, gather_rows, run
from modelkin.io import open_model

TOL = 2e-5  # relative to the largest magnitude: float32 round-off over a few layers

torch.set_num_threads(1)


def _rel(ref: np.ndarray, mine: np.ndarray) -> float:
    return float(np.abs(ref - mine).max() / max(np.abs(ref).max(), 1e-12))


def _seqs(vocab: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, size=n) for n in (7, 13, 1, 4)]


def _check_hf(model: torch.nn.Module, path: Path, seqs: list[np.ndarray], logits: bool) -> None:
    with open_model(path) as src:
        vocab = model.config.vocab_size
        act = run(src, seqs, logit_ids=np.arange(vocab) if logits else None)
    off = np.cumsum([0, *(len(s) for s in seqs)])
    for k, s in enumerate(seqs):
        with torch.no_grad():
            out = model(torch.as_tensor(s[None]), output_hidden_states=True)
        hs = out.hidden_states
        for i in range(len(hs) - 1):
            assert _rel(hs[i][0].numpy(), act.layers[i][off[k] : off[k + 1]]) < TOL, (k, i)
        last = act.final if act.final is not None else act.layers[-1]
        assert _rel(hs[-1][0].numpy(), last[off[k] : off[k + 1]]) < TOL
        if logits:
            assert act.logits is not None
            assert _rel(out.logits[0].numpy(), act.logits[off[k] : off[k + 1]]) < TOL


def _tiny(family: str) -> tuple[object, bool]:
    import transformers as tf

    common = dict(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=3)
    heads = dict(num_attention_heads=4, num_key_value_heads=2)
    if family == "llama":
        return tf.LlamaForCausalLM(tf.LlamaConfig(**common, **heads)), True
    if family == "llama3-rope":
        cfg = tf.LlamaConfig(
            **common,
            **heads,
            rope_scaling={
                "rope_type": "llama3",
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 16,
            },
        )
        return tf.LlamaForCausalLM(cfg), True
    if family == "mistral":
        return tf.MistralForCausalLM(tf.MistralConfig(**common, **heads, sliding_window=5)), True
    if family == "qwen2":
        return tf.Qwen2ForCausalLM(tf.Qwen2Config(**common, **heads)), True
    if family == "qwen3":
        return tf.Qwen3ForCausalLM(tf.Qwen3Config(**common, **heads, head_dim=16)), True
    if family == "gemma3":
        cfg = tf.Gemma3TextConfig(
            **common, **heads, head_dim=8, sliding_window=4, query_pre_attn_scalar=8
        )
        return tf.Gemma3ForCausalLM(cfg), True
    if family == "gpt2":
        cfg = tf.GPT2Config(vocab_size=97, n_embd=32, n_layer=3, n_head=4, n_positions=32)
        return tf.GPT2LMHeadModel(cfg), True
    if family == "bert":
        cfg = tf.BertConfig(**common, num_attention_heads=4, max_position_embeddings=32)
        return tf.BertModel(cfg, add_pooling_layer=False), False
    raise AssertionError(family)


@pytest.mark.parametrize(
    "family", ["llama", "llama3-rope", "mistral", "qwen2", "qwen3", "gemma3", "gpt2", "bert"]
)
def test_matches_transformers(tmp_path: Path, family: str) -> None:
    torch.manual_seed(0)
    model, logits = _tiny(family)
    model.eval()
    with torch.no_grad():  # untrained norms are all 1 (or 0): give them values to test
        for p in model.parameters():
            if p.ndim == 1:
                p.add_(torch.randn(p.shape) * 0.1)
    model.save_pretrained(tmp_path)
    _check_hf(model, tmp_path, _seqs(97), logits)


def test_rows_keeps_only_selected_positions(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model, _ = _tiny("llama")
    model.save_pretrained(tmp_path)
    seqs = _seqs(97)
    with open_model(tmp_path) as src:
        full = run(src, seqs)
        part = run(src, seqs, rows=np.array([0, 5, 20]))
    for a, b in zip(full.layers, part.layers, strict=True):
        np.testing.assert_array_equal(a[[0, 5, 20]], b)


def test_synth_models_match_their_torch_networks() -> None:
    from modelkin_dev.synth import models, specs, train

    for spec in (specs.TINY_LLAMA, specs.TINY_BERT):
        r = train.train(spec, seed=3, steps=20)
        net = models.load(r.model)
        seqs = _seqs(256)
        outs: dict[int, torch.Tensor] = {}
        blocks = net.model.layers if spec.model_type == "llama" else net.encoder.layer
        for k, layer in enumerate(blocks):
            layer.register_forward_hook(lambda m, i, o, k=k, d=outs: d.__setitem__(k, o))
        with open_model(r.model) as src:
            act = run(src, seqs)
        off = np.cumsum([0, *(len(s) for s in seqs)])
        for j, s in enumerate(seqs):
            models.forward(net, s[None])
            for k in outs:
                ref = outs[k][0].numpy()
                assert _rel(ref, act.layers[k + 1][off[j] : off[j + 1]]) < TOL


def test_unsupported_family_is_a_clear_error(tmp_path: Path) -> None:
    import transformers as tf

    cfg = tf.GPTNeoXConfig(
        vocab_size=50,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
    )
    tf.GPTNeoXForCausalLM(cfg).save_pretrained(tmp_path)
    with open_model(tmp_path) as src, pytest.raises(UnsupportedModel, match="gpt_neox"):
        run(src, [np.array([1, 2, 3])])


def test_out_of_vocabulary_ids_are_refused(tmp_path: Path) -> None:
    model, _ = _tiny("llama")
    model.save_pretrained(tmp_path)
    with open_model(tmp_path) as src, pytest.raises(UnsupportedModel, match="vocabulary"):
        run(src, [np.array([1, 97])])


@pytest.mark.models
def test_minilm_l6_matches_torch(real_models: dict[str, Path]) -> None:
    from modelkin_dev.synth import models

    p = real_models["minilm-l6"]
    net = models.load(p)
    seqs = [np.array([101, 7592, 2088, 2003, 1037, 3231, 102]), np.array([101, 2023, 102])]
    outs: dict[int, torch.Tensor] = {}
    for k, layer in enumerate(net.encoder.layer):
        layer.register_forward_hook(lambda m, i, o, k=k: outs.__setitem__(k, o))
    with open_model(p) as src:
        act = run(src, seqs)
    off = np.cumsum([0, *(len(s) for s in seqs)])
    for j, s in enumerate(seqs):
        models.forward(net, s[None])
        for k in range(6):
            assert _rel(outs[k][0].numpy(), act.layers[k + 1][off[j] : off[j + 1]]) < TOL


@pytest.mark.models
def test_minilm_l3_onnx_matches_onnxruntime(real_models: dict[str, Path], tmp_path: Path) -> None:
    """Every layer's output, exposed as extra graph outputs, against onnxruntime."""
    import onnx
    import onnxruntime as ort

    p = real_models["minilm-l3"]
    m = onnx.load(str(p))
    names = [
        n.output[0]
        for n in m.graph.node
        if n.op_type == "LayerNormalization"
        and "/output/LayerNorm" in n.output[0]
        and "attention" not in n.output[0]
    ]
    # the last layer's LayerNorm output is the graph's token-embedding output itself
    last = next(o.name for o in m.graph.output if len(o.type.tensor_type.shape.dim) == 3)
    assert len(names) == 2
    for n in names:
        m.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    exposed = tmp_path / "exposed.onnx"
    onnx.save(m, str(exposed))
    sess = ort.InferenceSession(str(exposed), providers=["CPUExecutionProvider"])
    seqs = [np.array([101, 7592, 2088, 2003, 1037, 3231, 102]), np.array([101, 2023, 102])]
    with open_model(p) as src:
        act = run(src, seqs)
    off = np.cumsum([0, *(len(s) for s in seqs)])
    for j, s in enumerate(seqs):
        got = sess.run(
            [*names, last], {"input_ids": s[None], "attention_mask": np.ones_like(s[None])}
        )
        for k, ref in enumerate(got):
            assert _rel(ref[0], act.layers[k + 1][off[j] : off[j + 1]]) < TOL


@pytest.mark.models
def test_gemma_270m_gguf_matches_transformers(real_models: dict[str, Path]) -> None:
    """Gemma 3's sandwich norms, (1 + w) scales, qk-norm, local/global rotary bases and
    sqrt(hidden) embedding scale, checked layer by layer against transformers' Gemma 3
    with the weights modelkin's GGUF reader dequantized (vocabulary cut to the ids used,
    so the reference model stays small). Also: the pass reads far less than the file."""
    import transformers as tf

    p = real_models["gemma-270m"]
    seqs = [np.array([2, 818, 5279, 529, 7001, 563, 496, 10497, 236761]), np.array([2, 9259])]
    uniq = np.unique(np.concatenate(seqs))
    with open_model(p) as src:
        act = run(src, seqs, logit_ids=uniq)
        read = src.bytes_read
        assert read < 0.5 * p.stat().st_size  # the 262k-row embedding was never read whole
        rm = role_map(src)
        cfg = tf.Gemma3TextConfig(
            vocab_size=len(uniq),
            hidden_size=640,
            intermediate_size=2048,
            num_hidden_layers=18,
            num_attention_heads=4,
            num_key_value_heads=1,
            head_dim=256,
            rms_norm_eps=1e-6,
            sliding_window=512,
            query_pre_attn_scalar=256,
            max_position_embeddings=32768,
        )
        model = tf.Gemma3ForCausalLM(cfg).eval()
        hf = {
            "attn_q": "self_attn.q_proj",
            "attn_k": "self_attn.k_proj",
            "attn_v": "self_attn.v_proj",
            "attn_o": "self_attn.o_proj",
            "attn_q_norm": "self_attn.q_norm",
            "attn_k_norm": "self_attn.k_norm",
            "attn_norm": "input_layernorm",
            "attn_post_norm": "post_attention_layernorm",
            "mlp_norm": "pre_feedforward_layernorm",
            "mlp_post_norm": "post_feedforward_layernorm",
            "mlp_gate": "mlp.gate_proj",
            "mlp_up": "mlp.up_proj",
            "mlp_down": "mlp.down_proj",
        }
        sd = {
            f"model.layers.{r.layer}.{hf[r.kind]}.weight": torch.from_numpy(read_role(src, ref))
            for r, ref in rm.roles.items()
            if r.layer is not None
        }
        final_norm, emb_ref = rm.get("final_norm"), rm.get("embed_tokens")
        assert final_norm is not None and emb_ref is not None
        sd["model.norm.weight"] = torch.from_numpy(read_role(src, final_norm))
        emb = torch.from_numpy(gather_rows(src, emb_ref, uniq))
        sd["model.embed_tokens.weight"] = emb
        sd["lm_head.weight"] = emb
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not missing and not unexpected
    off = np.cumsum([0, *(len(s) for s in seqs)])
    for j, s in enumerate(seqs):
        with torch.no_grad():
            out = model(torch.as_tensor(np.searchsorted(uniq, s)[None]), output_hidden_states=True)
        for i in range(18):
            assert _rel(out.hidden_states[i][0].numpy(), act.layers[i][off[j] : off[j + 1]]) < TOL
        assert act.final is not None and act.logits is not None
        assert _rel(out.hidden_states[18][0].numpy(), act.final[off[j] : off[j + 1]]) < TOL
        assert _rel(out.logits[0].numpy(), act.logits[off[j] : off[j + 1]]) < TOL
