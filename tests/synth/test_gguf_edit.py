"""GGUF -> GGUF rewrites keep metadata and weights (within Q8_0 error), drop blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin_dev.synth import convert, gguf_edit


def _tensors(path: Path) -> dict[str, np.ndarray]:
    import gguf

    r = gguf.GGUFReader(path)
    return {t.name: gguf.quants.dequantize(t.data, t.tensor_type) for t in r.tensors}


def test_rewrite_requantizes_and_drops_blocks(llama_dir: Path, tmp_path: Path) -> None:
    import gguf

    src = convert.to_gguf(llama_dir, tmp_path / "a.gguf", "Q4_0")
    out = gguf_edit.rewrite(src, tmp_path / "b.gguf", layers=[0, 2])
    r = gguf.GGUFReader(out)
    assert r.fields["llama.block_count"].contents() == 2
    assert r.fields["general.file_type"].contents() == 7
    assert r.fields["tokenizer.ggml.tokens"].contents()[:2] == ["Ā", "ā"]
    a, b = _tensors(src), _tensors(out)
    assert set(b) == {n for n in a if not n.startswith("blk.2.")}
    np.testing.assert_allclose(b["blk.1.ffn_up.weight"], a["blk.2.ffn_up.weight"], atol=2e-3)
    types = {t.name: t.tensor_type.name for t in r.tensors}
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["output_norm.weight"] == "F32"


def test_rewrite_noise_scale(llama_dir: Path, tmp_path: Path) -> None:
    src = convert.to_gguf(llama_dir, tmp_path / "a.gguf", "F32")
    out = gguf_edit.rewrite(src, tmp_path / "n.gguf", noise=0.1, seed=2)
    a, b = _tensors(src)["blk.0.ffn_down.weight"], _tensors(out)["blk.0.ffn_down.weight"]
    assert abs((b - a).std() / a.std() - 0.1) < 0.02


def test_rewrite_errors(llama_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 8)
    with pytest.raises(ModelkinError):
        gguf_edit.rewrite(bad, tmp_path / "o.gguf")
    src = convert.to_gguf(llama_dir, tmp_path / "a.gguf", "F16")
    with pytest.raises(ModelkinError, match="outside"):
        gguf_edit.rewrite(src, tmp_path / "o.gguf", layers=[5])


def test_rewrite_width_prunes_by_importance(llama_dir: Path, tmp_path: Path) -> None:
    import gguf

    src = convert.to_gguf(llama_dir, tmp_path / "a.gguf", "F32")
    out = gguf_edit.rewrite(src, tmp_path / "w.gguf", hidden=24, ffn=48)
    r = gguf.GGUFReader(out)
    assert r.fields["llama.embedding_length"].contents() == 24
    assert r.fields["llama.feed_forward_length"].contents() == 48
    a, b = _tensors(src), _tensors(out)
    e0, e1 = a["token_embd.weight"], b["token_embd.weight"]
    assert e1.shape == (e0.shape[0], 24)
    # the survivors are the parent's own columns, in their original order (Q8_0 error)
    dist = np.abs(e1[:, :, None] - e0[:, None, :]).max(axis=0)
    cols = dist.argmin(axis=1)
    assert np.all(np.diff(cols) > 0) and float(dist.min(axis=1).max()) < 2e-2
    assert b["blk.0.ffn_up.weight"].shape == (48, 24)
    assert b["blk.0.ffn_down.weight"].shape == (24, 48)
    assert b["blk.0.attn_norm.weight"].shape == (24,)
    with pytest.raises(ModelkinError, match="hidden"):
        gguf_edit.rewrite(src, tmp_path / "x.gguf", hidden=99)
