"""Training is deterministic per seed, cached, and records real loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin_dev.synth import data, hfdir, train
from modelkin_dev.synth.specs import TINY_BERT, TINY_LLAMA


def _weights(run: train.Run) -> dict[str, np.ndarray]:
    return dict(hfdir.iter_tensors(run.model))


def test_same_seed_same_weights_different_seed_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELKIN_CACHE", str(tmp_path / "a"))
    a = train.train(TINY_LLAMA, 3, steps=8, batch=4, seq=16)
    monkeypatch.setenv("MODELKIN_CACHE", str(tmp_path / "b"))
    b = train.train(TINY_LLAMA, 3, steps=8, batch=4, seq=16)  # recomputed, not cached
    c = train.train(TINY_LLAMA, 4, steps=8, batch=4, seq=16)
    assert a.dir != b.dir and a.key == b.key
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    for k in wa:
        np.testing.assert_array_equal(wa[k], wb[k])
    assert not np.allclose(wa["lm_head.weight"], wc["lm_head.weight"])
    assert a.curve.read_text() == b.curve.read_text()


def test_run_is_reused_from_cache(llama_dir: Path) -> None:
    again = train.train(TINY_LLAMA, 0, steps=60, batch=8, seq=32)
    assert again.model == llama_dir
    rows = again.curve.read_text().splitlines()
    assert rows[0] == "step,tokens,loss" and len(rows) == 61
    losses = [float(r.split(",")[2]) for r in rows[1:]]
    assert losses[-1] < losses[0]  # it learned something
    assert rows[1].split(",")[1] == str(8 * 32)


def test_finetune_and_bert_training(bert_dir: Path) -> None:
    parent = train.train(TINY_BERT, 0, steps=60, batch=8, seq=32)
    ft = train.finetune(parent, steps=10)
    assert ft.recipe.parent == parent.key and ft.recipe.data == "stdlib-b"
    wp, wf = _weights(parent), _weights(ft)
    name = "encoder.layer.0.attention.self.query.weight"
    delta = np.abs(wf[name] - wp[name]).max()
    assert 0 < delta < np.abs(wp[name]).max()


def test_resume_needs_a_step_inside_the_run(llama_dir: Path) -> None:
    run = train.train(TINY_LLAMA, 0, steps=60, batch=8, seq=32)
    with pytest.raises(ModelkinError):
        train.resume(run, 60)


def test_corpus_is_deterministic() -> None:
    a = data.corpus("stdlib-a")
    assert a == data.corpus("stdlib-a") and a.sha256 != data.corpus("stdlib-b").sha256
    assert len(a.text) > 100_000 and "def " in a.text
    assert a.tokens("bert").min() >= 5
    with pytest.raises(ModelkinError, match="unknown corpus"):
        data.corpus("wikipedia")
