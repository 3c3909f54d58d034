"""Format conversions hold the same weights: GGUF read back, ONNX run with onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin_dev.synth import convert, hfdir, models


def _undo_rope_interleave(w: np.ndarray, n_head: int) -> np.ndarray:
    # inverse of llama.cpp's permute, written independently: rows (h, i, 2) -> (h, 2, i)
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, -1).swapaxes(1, 2).reshape(w.shape)


@pytest.mark.parametrize(
    ("qtype", "tol"), [("F32", 0.0), ("F16", 1e-3), ("Q8_0", 0.01), ("Q4_0", 0.2)]
)
def test_gguf_roundtrip(llama_dir: Path, tmp_path: Path, qtype: str, tol: float) -> None:
    import gguf

    out = convert.to_gguf(llama_dir, tmp_path / "m.gguf", qtype)
    r = gguf.GGUFReader(out)
    assert r.fields["general.architecture"].contents() == "llama"
    assert r.fields["llama.block_count"].contents() == 3
    assert r.fields["llama.attention.head_count_kv"].contents() == 2
    assert len(r.fields["tokenizer.ggml.tokens"].contents()) == 259
    t = {x.name: x for x in r.tensors}
    assert len(t) == 2 + 1 + 3 * 9
    hf = dict(hfdir.iter_tensors(llama_dir))
    for gname, hname, heads in [
        ("blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight", 4),
        ("blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", 2),
        ("blk.2.ffn_down.weight", "model.layers.2.mlp.down_proj.weight", 0),
        ("token_embd.weight", "model.embed_tokens.weight", 0),
    ]:
        ti = t[gname]
        w = gguf.quants.dequantize(ti.data, ti.tensor_type).reshape(hf[hname].shape)
        if heads:
            w = _undo_rope_interleave(w, heads)
        err = np.abs(w - hf[hname]).max() / np.abs(hf[hname]).max()
        assert err <= tol, (gname, err)
    assert t["blk.0.attn_norm.weight"].tensor_type.name == "F32"


def test_gguf_rejects_bert(bert_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelkinError, match="llama"):
        convert.to_gguf(bert_dir, tmp_path / "x.gguf")


def test_onnx_export_matches_torch(bert_dir: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    out = convert.to_onnx(bert_dir, tmp_path / "m.onnx")
    ids = np.random.default_rng(0).integers(5, 250, size=(3, 20))
    sess = ort.InferenceSession(str(out))
    got = sess.run(
        None,
        {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        },
    )[0]
    np.testing.assert_allclose(got, models.forward(models.load(bert_dir), ids), atol=1e-5)
