"""Transforms keep the network's function where they claim to, and change shapes right."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir, models
from modelkin_dev.synth import transforms as T

IDS = np.random.default_rng(0).integers(5, 250, size=(2, 12))


def _tensors(d: Path) -> dict[str, np.ndarray]:
    return dict(hfdir.iter_tensors(d))


def _out(d: Path) -> np.ndarray:
    return models.forward(models.load(d), IDS)


@pytest.mark.parametrize("hidden", [False, True])
def test_permute_preserves_llama_logits(llama_dir: Path, tmp_path: Path, hidden: bool) -> None:
    ref = _out(llama_dir)
    p = T.permute(llama_dir, tmp_path / "p", seed=5, hidden=hidden)
    before, after = _tensors(llama_dir), _tensors(p)
    name = "model.layers.1.mlp.up_proj.weight"
    assert after[name].shape == before[name].shape
    assert not np.allclose(after[name], before[name])  # weights really moved
    np.testing.assert_allclose(_out(p), ref, atol=2e-5)


def test_permute_gqa_keeps_query_heads_with_their_kv_group(llama_dir: Path, tmp_path: Path) -> None:
    # a wrong GQA permutation (query heads moved across groups) changes the logits;
    # this checks the k/v rows moved as whole heads and q stayed in its group
    p = T.permute(llama_dir, tmp_path / "p", seed=11, mlp=False, heads=True)
    b, a = _tensors(llama_dir), _tensors(p)
    k0, k1 = (
        b["model.layers.0.self_attn.k_proj.weight"],
        a["model.layers.0.self_attn.k_proj.weight"],
    )
    hd = 8
    heads_b = {k0[i * hd : (i + 1) * hd].tobytes() for i in range(2)}
    heads_a = {k1[i * hd : (i + 1) * hd].tobytes() for i in range(2)}
    assert heads_a == heads_b
    np.testing.assert_allclose(_out(p), _out(llama_dir), atol=2e-5)


def test_permute_bert_hidden_permutes_outputs(bert_dir: Path, tmp_path: Path) -> None:
    ref = _out(bert_dir)
    np.testing.assert_allclose(_out(T.permute(bert_dir, tmp_path / "a", seed=2)), ref, atol=2e-5)
    p = T.permute(bert_dir, tmp_path / "b", seed=2, hidden=True)
    perm = T._rng(2, "hidden").permutation(32)
    np.testing.assert_allclose(_out(p), ref[..., perm], atol=2e-5)


@pytest.mark.models
def test_permute_preserves_real_minilm(real_models: dict[str, Path], tmp_path: Path) -> None:
    src = real_models["minilm-l6"]
    ids = np.random.default_rng(1).integers(1000, 20000, size=(1, 10))
    ref = models.forward(models.load(src), ids)
    p = T.permute(src, tmp_path / "p", seed=1)
    np.testing.assert_allclose(models.forward(models.load(p), ids), ref, atol=1e-4)
    # side files (tokenizer, sentence-transformers config) travel with the weights
    assert (p / "tokenizer.json").exists() and (p / "1_Pooling").is_dir()


def test_select_layers_removes_and_duplicates(llama_dir: Path, tmp_path: Path) -> None:
    before = _tensors(llama_dir)
    cut = T.select_layers(llama_dir, tmp_path / "cut", [0, 2])
    up = T.select_layers(llama_dir, tmp_path / "up", [0, 1, 2, 1, 2])
    assert json.loads((cut / "config.json").read_text())["num_hidden_layers"] == 2
    assert json.loads((up / "config.json").read_text())["num_hidden_layers"] == 5
    c, u = _tensors(cut), _tensors(up)
    q = "self_attn.q_proj.weight"
    np.testing.assert_array_equal(c[f"model.layers.1.{q}"], before[f"model.layers.2.{q}"])
    np.testing.assert_array_equal(u[f"model.layers.3.{q}"], before[f"model.layers.1.{q}"])
    assert not any(k.startswith("model.layers.2.") for k in c)
    assert models.forward(models.load(up), IDS).shape == (2, 12, 259)
    # identity selection keeps the function exactly
    same = T.select_layers(llama_dir, tmp_path / "same", [0, 1, 2])
    np.testing.assert_array_equal(_out(same), _out(llama_dir))


def test_select_layers_rejects_bad_order(llama_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelkinError, match="outside"):
        T.select_layers(llama_dir, tmp_path / "x", [0, 7])


@pytest.mark.parametrize("scale", [0.01, 0.1])
def test_noise_has_the_requested_relative_scale(
    llama_dir: Path, tmp_path: Path, scale: float
) -> None:
    p = T.add_noise(llama_dir, tmp_path / "n", scale, seed=3)
    b, a = _tensors(llama_dir), _tensors(p)
    name = "model.layers.0.mlp.down_proj.weight"
    ratio = (a[name] - b[name]).std() / b[name].std()
    assert abs(ratio - scale) < 0.15 * scale
    assert _out(p).shape == _out(llama_dir).shape


def test_vocab_extension_keeps_old_rows_and_function(bert_dir: Path, tmp_path: Path) -> None:
    p = T.resize_vocab(bert_dir, tmp_path / "v", 300)
    b, a = _tensors(bert_dir), _tensors(p)
    name = "embeddings.word_embeddings.weight"
    assert a[name].shape == (300, 32)
    np.testing.assert_array_equal(a[name][:261], b[name])
    np.testing.assert_allclose(_out(p), _out(bert_dir), atol=1e-6)  # old ids unchanged
    assert len((p / "vocab.txt").read_text().splitlines()) == 300
    voc = json.loads((p / "tokenizer.json").read_text())["model"]["vocab"]
    assert sorted(voc.values()) == list(range(300))


def test_vocab_truncation(llama_dir: Path, tmp_path: Path) -> None:
    p = T.resize_vocab(llama_dir, tmp_path / "t", 200)
    a = _tensors(p)
    assert a["model.embed_tokens.weight"].shape == (200, 32)
    assert a["lm_head.weight"].shape == (200, 32)
    voc = json.loads((p / "tokenizer.json").read_text())["model"]["vocab"]
    assert len(voc) == 200
    ids = IDS % 200
    full = models.forward(models.load(llama_dir), ids)[..., :200]
    np.testing.assert_allclose(models.forward(models.load(p), ids), full, atol=1e-5)


@pytest.mark.parametrize(("method", "tol"), [("int8", 0.01), ("q8_0", 0.01), ("q4_0", 0.2)])
def test_quantize_roundtrip_error(llama_dir: Path, tmp_path: Path, method: str, tol: float) -> None:
    p = T.quantize_roundtrip(llama_dir, tmp_path / method, method)
    b, a = _tensors(llama_dir), _tensors(p)
    name = "model.layers.0.mlp.up_proj.weight"
    err = np.abs(a[name] - b[name]).max() / np.abs(b[name]).max()
    assert 0 < err < tol
    norm = "model.layers.0.input_layernorm.weight"
    np.testing.assert_array_equal(a[norm], b[norm])  # 1-D tensors are kept


def test_compose_chains(llama_dir: Path, tmp_path: Path) -> None:
    p = T.compose(
        llama_dir,
        tmp_path / "c",
        [
            (T.permute, {"seed": 1}),
            (T.select_layers, {"order": [0, 1]}),
            (T.quantize_roundtrip, {"method": "int8"}),
        ],
    )
    assert json.loads((p / "config.json").read_text())["num_hidden_layers"] == 2
    assert not list(tmp_path.glob(".compose-*"))


def test_bad_inputs_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelkinError, match=r"config\.json"):
        T.add_noise(tmp_path, tmp_path / "o", 0.1)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"model_type": "gpt2"}')
    with pytest.raises(ModelkinError, match="not llama or bert"):
        T.permute(tmp_path / "m", tmp_path / "o")
    (tmp_path / "m" / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ModelkinError, match="size field"):
        T.permute(tmp_path / "m", tmp_path / "o")
    with pytest.raises(ModelkinError, match="quantization"):
        T.quantize_roundtrip(tmp_path / "m", tmp_path / "o", "q2")


def test_rotate_preserves_llama_logits(llama_dir: Path, tmp_path: Path) -> None:
    """SliceGPT's computational invariance: norms folded, one orthogonal Q everywhere."""
    r = T.rotate(llama_dir, tmp_path / "r", seed=3)
    before, after = _tensors(llama_dir), _tensors(r)
    e0, e1 = before["model.embed_tokens.weight"], after["model.embed_tokens.weight"]
    assert not np.allclose(e0, e1)
    # a rotation keeps every token's norm and the Gram matrix, not the coordinates
    np.testing.assert_allclose(e1 @ e1.T, e0 @ e0.T, atol=1e-4)
    assert np.all(after["model.layers.0.input_layernorm.weight"] == 1.0)
    np.testing.assert_allclose(_out(r), _out(llama_dir), atol=1e-4)


def test_width_prune_shapes_and_runs(llama_dir: Path, bert_dir: Path, tmp_path: Path) -> None:
    # TINY_LLAMA: hidden 32, 4 heads of 8 in 2 kv groups, 64 MLP units
    p = T.width_prune(llama_dir, tmp_path / "l", hidden=16, intermediate=40, kv_groups=1)
    cfg = json.loads((p / "config.json").read_text())
    assert (cfg["hidden_size"], cfg["intermediate_size"]) == (16, 40)
    assert (cfg["num_attention_heads"], cfg["num_key_value_heads"]) == (2, 1)
    w, w0 = _tensors(p), _tensors(llama_dir)
    up = w["model.layers.0.mlp.up_proj.weight"]
    assert up.shape == (40, 16)
    # survivors are the parent's own rows and columns, in their original order
    e, e0 = w["model.embed_tokens.weight"], w0["model.embed_tokens.weight"]
    cols = [int(np.flatnonzero((e0 == e[:, [j]]).all(axis=0))[0]) for j in range(e.shape[1])]
    assert cols == sorted(cols) and len(set(cols)) == 16
    assert _out(p).shape[-1] == cfg["vocab_size"]
    b = T.width_prune(bert_dir, tmp_path / "b", hidden=24, intermediate=48, kv_groups=3)
    assert _out(b).shape[-1] == 24
    with pytest.raises(ModelkinError, match="head dimension"):
        T.width_prune(llama_dir, tmp_path / "x", hidden=20)
