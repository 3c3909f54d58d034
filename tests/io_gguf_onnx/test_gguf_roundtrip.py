"""GGUF files this test writes itself (gguf writer + quantizer) read back to their source."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkin.arch import read_role, role_map
from modelkin.arch.roles import Role
from modelkin.errors import ModelFormatError
from modelkin.io import open_model
from modelkin.io.gguf import GGUFSource, permute_like_converter

from .gguf_writer_helpers import (
    HEADS,
    HIDDEN,
    KV_HEADS,
    LAYER_TENSORS,
    LAYERS,
    VOCAB,
    Q,
    make_weights,
    write_gguf,
)

#: Worst-case error of one value, as a fraction of its 32-value block's max |x|.
_BLOCK_TOL = {Q.Q8_0: 1 / 127, Q.Q4_0: 1 / 8 + 1e-3, Q.Q5_0: 1 / 16 + 1e-3, Q.BF16: 2**-8}


def _within_quant_error(src: np.ndarray, got: np.ndarray, qtype: Q) -> bool:
    if qtype == Q.F32:
        return bool(np.array_equal(src, got))
    blocks = src.reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    err = np.abs(got.reshape(-1, 32) - blocks)
    return bool((err <= _BLOCK_TOL[qtype] * amax * 1.01 + 1e-7).all())


@pytest.fixture(scope="module")
def llama_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    w = make_weights(seed=1)
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf", w), w


def test_values_match_source_within_quantization_error(
    llama_file: tuple[Path, dict[str, np.ndarray]],
) -> None:
    path, w = llama_file
    with open_model(path) as src:
        assert isinstance(src, GGUFSource)
        for i in range(LAYERS):
            for kind, (_, qtype) in LAYER_TENSORS.items():
                name = f"blk.{i}.{kind}.weight"
                got = src.read(name)
                assert got.shape == w[name].shape and got.dtype == np.float32
                assert _within_quant_error(w[name], got, qtype), name
                # quantization is lossy: a quantized tensor must not be bit-identical
                if qtype not in (Q.F32,):
                    assert not np.array_equal(got, w[name])
        assert _within_quant_error(w["token_embd.weight"], src.read("token_embd.weight"), Q.Q8_0)
        np.testing.assert_allclose(src.read("output.weight"), w["output.weight"], atol=1e-4)


def test_qk_rows_realign_with_hf(llama_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, w = llama_file
    with GGUFSource(path) as src:
        for kind, heads in (("attn_q", HEADS), ("attn_k", KV_HEADS)):
            name = f"blk.0.{kind}.weight"
            got = src.read(name)
            hf = w[name]
            as_stored = permute_like_converter(hf, heads)
            assert not np.allclose(as_stored, hf)
            err_hf = np.abs(got - hf).max()
            err_stored = np.abs(got - as_stored).max()
            assert err_hf < 0.02 < err_stored
            # a row slice of a permuted tensor equals the same rows of the whole
            np.testing.assert_array_equal(src.read(name, slice(3, 9)), got[3:9])


def test_row_slices_read_only_requested_rows(
    llama_file: tuple[Path, dict[str, np.ndarray]],
) -> None:
    path, _ = llama_file
    with GGUFSource(path) as src:
        full = src.read("token_embd.weight")
        np.testing.assert_array_equal(src.read("token_embd.weight", slice(10, 20)), full[10:20])
        np.testing.assert_array_equal(
            src.read("token_embd.weight", slice(None, None, 7)), full[::7]
        )
        np.testing.assert_array_equal(
            src.read("blk.1.ffn_down.weight", slice(-4, None)),
            src.read("blk.1.ffn_down.weight")[-4:],
        )


def test_metadata_config_tokenizer_and_roles(
    llama_file: tuple[Path, dict[str, np.ndarray]],
) -> None:
    path, _ = llama_file
    with GGUFSource(path) as src:
        cfg = src.config()
        assert cfg["model_type"] == "llama"
        assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["vocab_size"]) == (
            LAYERS,
            HIDDEN,
            VOCAB,
        )
        assert (cfg["num_attention_heads"], cfg["num_key_value_heads"]) == (HEADS, KV_HEADS)
        tok = src.tokenizer()
        assert tok is not None and tok.kind == "bpe" and tok.vocab_size == VOCAB
        assert tok.special_tokens["<s>"] == 1 and tok.scores is not None
        info = {t.name: t for t in src.tensors()}
        assert info["blk.0.attn_k.weight"].dtype == "Q4_0" and info["blk.0.attn_k.weight"].quantized
        rm = role_map(src)
        assert rm.unmapped == [] and rm.num_layers == LAYERS
        for kind in (
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_o",
            "mlp_up",
            "mlp_gate",
            "mlp_down",
            "attn_norm",
            "mlp_norm",
        ):
            for i in range(LAYERS):
                assert Role(kind, i) in rm.roles, (kind, i)
        assert {Role("embed_tokens"), Role("final_norm"), Role("lm_head")} <= set(rm.roles)
        q = read_role(src, rm.roles[Role("attn_q", 1)])
        assert q.shape == (HEADS * 16, HIDDEN)


def test_gemma_norms_are_stored_plus_one_and_read_back(tmp_path: Path) -> None:
    w = make_weights(seed=2)
    path = write_gguf(tmp_path / "tiny-gemma.gguf", w, arch="gemma3")
    with GGUFSource(path) as src:
        np.testing.assert_allclose(
            src.read("blk.0.attn_norm.weight"), w["blk.0.attn_norm.weight"], atol=1e-6
        )
        np.testing.assert_allclose(
            src.read("output_norm.weight"), w["output_norm.weight"], atol=1e-6
        )
        # gemma does not permute q/k
        assert _within_quant_error(
            w["blk.0.attn_q.weight"], src.read("blk.0.attn_q.weight"), Q.Q8_0
        )


def test_truncated_file_keeps_metadata_and_names_missing_tensors(
    llama_file: tuple[Path, dict[str, np.ndarray]], tmp_path: Path
) -> None:
    path, w = llama_file
    data = path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) - 5000])
    with GGUFSource(cut) as src:
        assert src.config()["num_hidden_layers"] == LAYERS
        tok = src.tokenizer()
        assert tok is not None and tok.vocab_size == VOCAB
        missing = [t.name for t in src.tensors() if t.extra["missing"]]
        assert missing and "blk.1.ffn_norm.weight" in missing
        assert any("truncated" in p and "blk.1.ffn_norm.weight" in p for p in src.problems())
        with pytest.raises(ModelFormatError, match=r"blk\.1\.ffn_norm\.weight") as ei:
            src.read("blk.1.ffn_norm.weight")
        assert ei.value.where == str(cut)
        np.testing.assert_array_equal(
            src.read("blk.0.attn_norm.weight"), w["blk.0.attn_norm.weight"]
        )
