"""The real bundled models load with correct role maps, and ``modelkin inspect`` shows them."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from modelkin.arch import read_role, role_map, structure
from modelkin.cli import main
from modelkin.io import open_model

pytestmark = pytest.mark.models


def test_minilm_l6_bert_roles(real_models: dict[str, Path]) -> None:
    d = real_models["minilm-l6"]
    with open_model(d) as src:
        assert src.format == "hf"
        rm = role_map(src)
        assert rm.family == "bert" and rm.unmapped == [] and rm.num_layers == 6
        for i in range(6):
            for kind in (
                "attn_q",
                "attn_k",
                "attn_v",
                "attn_o",
                "attn_norm",
                "mlp_up",
                "mlp_down",
                "mlp_norm",
            ):
                assert rm.get(kind, i) is not None and rm.get(kind, i, "bias") is not None
        for kind in ("embed_tokens", "embed_positions", "embed_token_type", "embed_norm", "pooler"):
            assert rm.get(kind) is not None
        sig = structure(src, rm)
        assert (sig.num_layers, sig.hidden_size, sig.vocab_size) == (6, 384, 30522)
        assert (sig.intermediate_size, sig.num_heads, sig.head_dim) == (1536, 12, 32)
        assert sig.norm_type == "layernorm" and sig.num_parameters == 22_713_216
        # Values agree with the reference safetensors loader.
        ref = load_file(str(d / "model.safetensors"))
        q3 = read_role(src, rm.get("attn_q", 3))
        np.testing.assert_array_equal(q3, ref["encoder.layer.3.attention.self.query.weight"])
        rows = src.read("embeddings.word_embeddings.weight", slice(1000, 1010))
        np.testing.assert_array_equal(rows, ref["embeddings.word_embeddings.weight"][1000:1010])
        tok = src.tokenizer()
        assert tok is not None and tok.kind == "wordpiece" and tok.vocab_size == 30522
        assert tok.special_tokens["[CLS]"] == 101


def test_inspect_cli_json(real_models: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(real_models["minilm-l6"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "hf" and out["family"] == "bert"
    assert out["structure"]["num_layers"] == 6 and out["structure"]["vocab_size"] == 30522
    assert out["tokenizer"]["vocab_size"] == 30522
    assert {
        "role": "L0.attn_q.weight",
        "tensor": "encoder.layer.0.attention.self.query.weight",
        "shape": [384, 384],
        "dtype": "F32",
    } in out["roles"]
    assert out["unmapped"] == [] and out["problems"] == []
    # Stable: a second run prints the same JSON.
    assert main(["inspect", str(real_models["minilm-l6"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == out


def test_inspect_cli_human(
    real_models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(real_models["minilm-l6"])]) == 0
    out = capsys.readouterr().out
    assert "bert" in out and "30,522" in out and "L0.attn_q.weight" in out


def test_inspect_cli_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\x05")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(bad) in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("mid", "module", "fmt"), [("minilm-l3", "onnx", "onnx"), ("gemma-270m", "gguf", "gguf")]
)
def test_inspect_other_formats(
    real_models: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    mid: str,
    module: str,
    fmt: str,
) -> None:
    if importlib.util.find_spec(f"modelkin.io.{module}") is None:
        pytest.skip(f"modelkin.io.{module} (issue 2 part B) is not in this tree")
    assert main(["inspect", str(real_models[mid]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == fmt and out["roles"]
