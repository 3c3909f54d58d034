"""Hugging Face directories: single, sharded, sentence-transformers, pytorch_model.bin."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from io_helpers import llama_tensors, save_tensors, write_hf_dir

from modelkin.arch import role_map
from modelkin.errors import ModelFormatError
from modelkin.io import open_model

CONFIG = {
    "model_type": "llama",
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "hidden_size": 16,
}


def _sharded(d: Path, tensors: dict[str, np.ndarray], shards: int = 3) -> dict[str, str]:
    d.mkdir(parents=True, exist_ok=True)
    names = sorted(tensors)
    weight_map: dict[str, str] = {}
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: tensors[n] for n in names[s::shards]}
        save_tensors(d / fname, part)
        weight_map.update({n: fname for n in part})
    (d / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )
    (d / "config.json").write_text(json.dumps(CONFIG))
    return weight_map


def test_sharded_index(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(0))
    _sharded(tmp_path / "m", t)
    with open_model(tmp_path / "m") as src:
        assert src.format == "hf"
        assert {i.name for i in src.tensors()} == set(t)
        for n, v in t.items():
            np.testing.assert_array_equal(src.read(n), v)
        assert src.problems() == []
        assert src.config()["model_type"] == "llama"
        assert len([f for f in src.files() if f.suffix == ".safetensors"]) == 3
    # The index file itself is accepted as a path too.
    with open_model(tmp_path / "m" / "model.safetensors.index.json") as src:
        assert len(src.tensors()) == len(t)


def test_missing_shard_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(0))
    wm = _sharded(tmp_path / "m", t)
    gone = "model-00002-of-00003.safetensors"
    (tmp_path / "m" / gone).unlink()
    with open_model(tmp_path / "m") as src:
        names = {i.name for i in src.tensors()}
        assert names == {n for n, f in wm.items() if f != gone}
        assert any(gone in p and "missing" in p for p in src.problems())


def test_index_cannot_escape_directory(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    save_tensors(tmp_path / "outside.safetensors", {"a": np.ones(2, np.float32)})
    (d / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "../outside.safetensors"}})
    )
    with pytest.raises(ModelFormatError, match="outside the model directory"):
        open_model(d)


def test_duplicate_tensor_across_shards(tmp_path: Path) -> None:
    d = tmp_path / "m"
    d.mkdir()
    save_tensors(d / "a.safetensors", {"x": np.ones(2, np.float32)})
    save_tensors(d / "b.safetensors", {"x": np.ones(2, np.float32)})
    with pytest.raises(ModelFormatError, match="also appears"):
        open_model(d)


def test_sentence_transformers_module_folder(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    d = tmp_path / "st"
    bert = {
        "embeddings.word_embeddings.weight": rng.standard_normal((30, 8)).astype(np.float32),
        "encoder.layer.0.attention.self.query.weight": rng.standard_normal((8, 8)).astype(
            np.float32
        ),
    }
    write_hf_dir(d / "0_Transformer", bert, {"model_type": "bert", "num_attention_heads": 2})
    (d / "0_Transformer" / "vocab.txt").write_text("[PAD]\n[UNK]\nhello\n")
    (d / "1_Pooling").mkdir()
    (d / "1_Pooling" / "config.json").write_text("{}")
    dense = rng.standard_normal((4, 8)).astype(np.float32)
    (d / "2_Dense").mkdir()
    save_tensors(d / "2_Dense" / "model.safetensors", {"linear.weight": dense})
    (d / "modules.json").write_text(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "0_Transformer",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
                {
                    "idx": 2,
                    "name": "2",
                    "path": "2_Dense",
                    "type": "sentence_transformers.models.Dense",
                },
            ]
        )
    )
    with open_model(d) as src:
        names = {t.name for t in src.tensors()}
        assert names == {*bert, "2_Dense/linear.weight"}
        np.testing.assert_array_equal(src.read("2_Dense/linear.weight"), dense)
        assert src.config()["model_type"] == "bert"
        tok = src.tokenizer()
        assert tok is not None and tok.tokens == ["[PAD]", "[UNK]", "hello"]
        rm = role_map(src)
        assert rm.family == "bert"
        assert rm.get("attn_q", 0) is not None and rm.get("embed_tokens") is not None
        assert rm.unmapped == ["2_Dense/linear.weight"]


def test_modules_json_path_escape(tmp_path: Path) -> None:
    d = tmp_path / "st"
    d.mkdir()
    (d / "modules.json").write_text(
        json.dumps([{"path": "../../etc", "type": "sentence_transformers.models.Transformer"}])
    )
    with pytest.raises(ModelFormatError, match="outside"):
        open_model(d)


def test_pytorch_model_bin_dir(tmp_path: Path) -> None:
    t = llama_tensors(np.random.default_rng(3), layers=1)
    d = tmp_path / "pt"
    d.mkdir()
    torch.save(
        {k: torch.from_numpy(v).to(torch.bfloat16) for k, v in t.items()}, d / "pytorch_model.bin"
    )
    (d / "config.json").write_text(json.dumps(CONFIG))
    with open_model(d) as src:
        assert {i.dtype for i in src.tensors()} == {"BF16"}
        q = "model.layers.0.self_attn.q_proj.weight"
        expected = torch.from_numpy(t[q]).to(torch.bfloat16).float().numpy()
        np.testing.assert_array_equal(src.read(q), expected)
        np.testing.assert_array_equal(src.read(q, slice(1, 3)), expected[1:3])
        assert role_map(src).get("attn_q", 0) is not None


def test_directory_without_weights(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelFormatError, match="no weights"):
        open_model(tmp_path)


def test_bad_config_json(tmp_path: Path) -> None:
    save_tensors(tmp_path / "model.safetensors", {"a": np.ones(2, np.float32)})
    (tmp_path / "config.json").write_text("{oops")
    with pytest.raises(ModelFormatError, match=r"config\.json"):
        open_model(tmp_path)


def test_folder_with_single_gguf_dispatches_to_gguf_reader(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + bytes(20))
    (tmp_path / "README.md").write_text("hi")
    with pytest.raises(ModelFormatError) as exc:
        open_model(tmp_path).close()
    # Whatever the GGUF reader says about this stub, it is the GGUF reader that was asked.
    assert "model.gguf" in str(exc.value)
