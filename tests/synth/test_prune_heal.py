"""Width pruning by importance and the healing fine-tune (lineage bench near-threshold
positives): the survivors are the parent's own units, the pruned model loads and runs,
and healing continues from the pruned weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir, models, prune

IDS = np.random.default_rng(0).integers(5, 250, size=(2, 12))


def test_prune_keeps_the_most_important_units(llama_dir: Path, tmp_path: Path) -> None:
    out = prune.prune_mlp(llama_dir, tmp_path / "p", 0.5)
    before, after = dict(hfdir.iter_tensors(llama_dir)), dict(hfdir.iter_tensors(out))
    width = before["model.layers.0.mlp.up_proj.weight"].shape[0]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["intermediate_size"] == width // 2
    up, gate = (
        before["model.layers.0.mlp.up_proj.weight"],
        before["model.layers.0.mlp.gate_proj.weight"],
    )
    down = before["model.layers.0.mlp.down_proj.weight"]
    score = np.linalg.norm(up, axis=1) * np.linalg.norm(gate, axis=1) * np.linalg.norm(down, axis=0)
    kept = np.sort(np.argsort(-score)[: width // 2])
    np.testing.assert_array_equal(after["model.layers.0.mlp.up_proj.weight"], up[kept])
    np.testing.assert_array_equal(after["model.layers.0.mlp.down_proj.weight"], down[:, kept])
    np.testing.assert_array_equal(
        after["model.layers.0.self_attn.q_proj.weight"],
        before["model.layers.0.self_attn.q_proj.weight"],
    )
    assert np.isfinite(models.forward(models.load(out), IDS)).all()


def test_heal_continues_from_the_pruned_weights(llama_dir: Path, tmp_path: Path) -> None:
    pruned = prune.prune_mlp(llama_dir, tmp_path / "p", 0.5)
    run = prune.heal(pruned, steps=3, seed=4001)
    assert run.recipe.parent is not None and run.recipe.parent.startswith("dir-sha256:")
    a = dict(hfdir.iter_tensors(pruned))["model.layers.0.mlp.up_proj.weight"]
    b = dict(hfdir.iter_tensors(run.model))["model.layers.0.mlp.up_proj.weight"]
    assert a.shape == b.shape and not np.array_equal(a, b)
    # three small steps move the weights only a little: healing starts from the parent
    assert np.linalg.norm(a - b) < 0.2 * np.linalg.norm(a)
    assert prune.heal(pruned, steps=3, seed=4001).dir == run.dir  # cached


def test_prune_rejects_bad_fraction(llama_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelkinError, match="keep_fraction"):
        prune.prune_mlp(llama_dir, tmp_path / "p", 1.0)
