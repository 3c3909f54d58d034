"""Width pruning of a llama MLP by importance: the "aggressive pruning" half of the
lineage bench's near-threshold positives (followed by a healing fine-tune, :func:`heal`).

Each MLP unit's importance is the product of the norms of its gate row, up row and
down-projection column (the magnitude criterion of LLM-Pruner-style structured pruning);
the most important ``keep`` share of units survives, in its original order, and
``intermediate_size`` shrinks accordingly. The surviving units are bit-for-bit the
parent's: what changes the function is the removal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import hfdir, models, train
from modelkin_dev.synth.data import corpus
from modelkin_dev.synth.specs import LlamaSpec, spec_from_config
from modelkin_dev.synth.transforms import Tensor, _layer_of, _rewrite


def _kept_units(src: Path, n_layers: int, width: int, keep: int) -> dict[int, np.ndarray]:
    """Layer -> sorted indices of the ``keep`` most important MLP units."""
    norms: dict[int, np.ndarray] = {i: np.ones(width) for i in range(n_layers)}
    for name, arr in hfdir.iter_tensors(src):
        layer, rest = _layer_of(name)
        if layer is None:
            continue
        a = np.asarray(arr, dtype=np.float64)
        if rest in ("mlp.gate_proj.weight", "mlp.up_proj.weight"):
            norms[layer] = norms[layer] * np.linalg.norm(a, axis=1)
        elif rest == "mlp.down_proj.weight":
            norms[layer] = norms[layer] * np.linalg.norm(a, axis=0)
    return {i: np.sort(np.argsort(-v, kind="stable")[:keep]) for i, v in norms.items()}


def prune_mlp(src: Path, out: Path, keep_fraction: float) -> Path:
    """Keep the ``keep_fraction`` most important MLP units of every layer of a llama
    directory ``src``; write the pruned model to ``out``."""
    cfg = hfdir.read_config(src)
    spec = spec_from_config(cfg, Path(src) / "config.json")
    if not isinstance(spec, LlamaSpec):
        raise ModelkinError(src, "MLP width pruning is implemented for llama only")
    if not 0.0 < keep_fraction < 1.0:
        raise ModelkinError("keep_fraction", "must lie strictly between 0 and 1")
    keep = max(1, round(spec.intermediate_size * keep_fraction))
    kept = _kept_units(Path(src), spec.num_hidden_layers, spec.intermediate_size, keep)

    def fn(name: str, arr: np.ndarray) -> Iterator[Tensor]:
        layer, rest = _layer_of(name)
        if layer is not None and rest in ("mlp.gate_proj.weight", "mlp.up_proj.weight"):
            yield name, np.ascontiguousarray(arr[kept[layer]])
        elif layer is not None and rest == "mlp.down_proj.weight":
            yield name, np.ascontiguousarray(arr[:, kept[layer]])
        else:
            yield name, arr

    return _rewrite(Path(src), Path(out), fn, {"intermediate_size": keep})


def heal(
    model_dir: Path, data: str = "stdlib-a", steps: int = 150, seed: int = 4000, lr: float = 1e-3
) -> train.Run:
    """Continue training any llama/BERT HF directory (e.g. a pruned copy, which has no
    recipe of its own): the "healing" fine-tune after pruning. Cached by the sha256 of
    the directory's weights plus the continuation recipe."""
    weights = Path(model_dir) / "model.safetensors"
    digest = hashlib.sha256()
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    recipe = train.Recipe(
        config=hfdir.read_config(Path(model_dir)),
        seed=seed,
        data=data,
        data_sha256=corpus(data).sha256,
        data_seed=seed,
        steps=steps,
        lr=lr,
        parent=f"dir-sha256:{digest.hexdigest()}",
    )
    final = train.cache_root() / recipe.key()[:24]
    if (final / ".complete").exists():
        return train.Run(recipe.key(), final, recipe)
    import torch

    torch.manual_seed(seed)
    return train._run(recipe, models.load(Path(model_dir)))
