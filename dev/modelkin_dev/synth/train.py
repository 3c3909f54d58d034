"""Seeded CPU training runs with recorded loss curves, cached by their recipe.

Three kinds of run give the real-training half of the ground truth:

* :func:`train` — from scratch: ``(spec, seed, corpus, steps)``. Two seeds on the same
  spec and corpus are *independent* models (the negatives);
* :func:`finetune` — continued training of a trained run on another corpus (derived);
* :func:`resume` — restart a run from its step-``k`` state with perturbed weights and a
  fresh optimizer, same data stream: a "resumed copy" whose loss curve shares the
  parent's batch-to-batch structure (for the loss-curve test).

Batches depend only on ``(data_seed, step)`` and the learning-rate schedule only on the
step, so the first ``k`` steps of a long run equal a ``k``-step run — which is what makes
:func:`resume` cheap and exact. Every run is stored under
``modelkin_dev.fixtures.cache_dir()/"synth"/<sha256 of the recipe>`` with ``loss.csv``
(``step,tokens,loss``), ``recipe.json`` and the HF model directory, and reused when present.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import models
from modelkin_dev.synth.data import corpus
from modelkin_dev.synth.specs import BertSpec, Spec, spec_from_config
from modelkin_dev.synth.tokenizers import BERT_MASK_ID, byte_offset

if TYPE_CHECKING:
    from torch import nn

#: Bump when training code changes in a way that changes results (invalidates caches).
TRAIN_VERSION = 1
WARMUP_STEPS = 20


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a run's weights; hashed into the cache key."""

    config: dict[str, Any]
    seed: int
    data: str
    data_sha256: str
    data_seed: int
    steps: int
    start_step: int = 0
    batch: int = 16
    seq: int = 64
    lr: float = 3e-3
    parent: str | None = None
    parent_step: int | None = None
    noise: float = 0.0
    schedule: str = "constant"

    def key(self) -> str:
        fields = asdict(self)
        if fields["schedule"] == "constant":  # recipes from before schedules keep their key
            del fields["schedule"]
        blob = json.dumps({"v": TRAIN_VERSION, **fields}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Run:
    """A finished run: ``model`` is the HF directory, ``curve`` the loss CSV."""

    key: str
    dir: Path
    recipe: Recipe

    @property
    def model(self) -> Path:
        return self.dir / "model"

    @property
    def curve(self) -> Path:
        return self.dir / "loss.csv"


def cache_root() -> Path:
    """Where runs are cached (outside the repository)."""
    from modelkin_dev.fixtures import cache_dir

    return cache_dir() / "synth"


def _batch(tokens: np.ndarray, data_seed: int, step: int, batch: int, seq: int) -> np.ndarray:
    rng = np.random.default_rng([data_seed, step])
    starts = rng.integers(0, len(tokens) - seq - 1, size=batch)
    return np.stack([tokens[s : s + seq + 1] for s in starts])


#: Learning-rate schedules after the linear warm-up: ``constant``, or ``cosine`` decay to
#: zero at the run's last step (a run then ends on a flat loss: what "trained to
#: convergence" means for the null study's models).
SCHEDULES = ("constant", "cosine")


def _lr(step: int, base: float, schedule: str = "constant", total: int = 0) -> float:
    warm = base * min(1.0, (step + 1) / WARMUP_STEPS)
    if schedule == "cosine" and total > 0:
        return warm * 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))
    return warm


def _loss(net: nn.Module, spec: Spec, chunk: np.ndarray, rng: np.random.Generator) -> Any:
    import torch
    from torch.nn import functional as F

    if isinstance(spec, BertSpec):
        # masked-LM objective (Devlin et al. 2019): 15% of positions, 80/10/10 rule
        ids = torch.as_tensor(chunk[:, :-1])
        pick = rng.random(ids.shape) < 0.15
        pick[:, 0] |= ~pick.any(axis=1)
        roll = rng.random(ids.shape)
        inp = ids.clone()
        m = torch.as_tensor(pick & (roll < 0.8))
        r = torch.as_tensor(pick & (roll >= 0.8) & (roll < 0.9))
        inp[m] = BERT_MASK_ID
        rand_ids = torch.as_tensor(rng.integers(0, 256, size=ids.shape) + byte_offset("bert"))
        inp[r] = rand_ids[r]
        logits = net.mlm_logits(inp)  # type: ignore[operator]
        sel = torch.as_tensor(pick)
        return F.cross_entropy(logits[sel], ids[sel])
    x = torch.as_tensor(chunk)
    logits = net(x[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))


def _publish(tmp: Path, final: Path) -> None:
    """Move a finished run into the cache without disturbing a concurrent reader.

    Parallel test workers may train the same recipe at once; training is deterministic, so
    the first complete copy wins and later ones are discarded rather than replacing a
    directory another process may be reading. Only an incomplete leftover (a crash) is
    removed."""
    if (final / ".complete").exists():
        return
    if final.exists():
        shutil.rmtree(final, ignore_errors=True)
    try:
        os.replace(tmp, final)
    except OSError:
        if not (final / ".complete").exists():
            raise


def _run(recipe: Recipe, init: nn.Module | None) -> Run:
    """Execute ``recipe`` (or return the cached result)."""
    import torch

    key = recipe.key()
    final = cache_root() / key[:24]
    if (final / ".complete").exists():
        return Run(key, final, recipe)
    spec = spec_from_config(recipe.config)
    tokens = corpus(recipe.data).tokens(spec.model_type)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # deterministic and polite on shared machines
    try:
        net = init if init is not None else models.build(spec, recipe.seed)
        if recipe.noise > 0:
            gen = torch.Generator().manual_seed(recipe.seed)
            with torch.no_grad():
                for _, p in sorted(net.named_parameters()):
                    p.add_(torch.randn(p.shape, generator=gen) * recipe.noise * p.std())
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=0.01)
        rows: list[str] = ["step,tokens,loss"]
        per_step = recipe.batch * recipe.seq
        for step in range(recipe.start_step, recipe.start_step + recipe.steps):
            chunk = _batch(tokens, recipe.data_seed, step, recipe.batch, recipe.seq)
            rng = np.random.default_rng([recipe.data_seed, step, 1])
            for g in opt.param_groups:
                g["lr"] = _lr(step, recipe.lr, recipe.schedule, recipe.start_step + recipe.steps)
            loss = _loss(net, spec, chunk, rng)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            rows.append(f"{step},{(step + 1) * per_step},{loss.item():.6f}")
    finally:
        torch.set_num_threads(threads)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        models.save(net.eval(), spec, tmp / "model", extra={"recipe_sha256": key})
        (tmp / "loss.csv").write_text("\n".join(rows) + "\n")
        (tmp / "recipe.json").write_text(json.dumps(asdict(recipe), indent=2, sort_keys=True))
        (tmp / ".complete").write_text(key)
        _publish(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return Run(key, final, recipe)


def train(
    spec: Spec,
    seed: int,
    data: str = "stdlib-a",
    steps: int = 300,
    *,
    data_seed: int | None = None,
    batch: int = 16,
    seq: int = 64,
    lr: float = 3e-3,
    schedule: str = "constant",
) -> Run:
    """Train ``spec`` from scratch. ``data_seed`` defaults to ``seed``: independent runs
    see their batches in independent orders, as separately launched jobs would;
    ``schedule``: one of :data:`SCHEDULES`."""
    if steps < 1:
        raise ModelkinError("steps", "a training run needs at least one step")
    if schedule not in SCHEDULES:
        raise ModelkinError("schedule", f"unknown schedule {schedule!r} ({', '.join(SCHEDULES)})")
    recipe = Recipe(
        config=spec.config(),
        seed=seed,
        data=data,
        data_sha256=corpus(data).sha256,
        data_seed=seed if data_seed is None else data_seed,
        steps=steps,
        batch=batch,
        seq=seq,
        lr=lr,
        schedule=schedule,
    )
    return _run(recipe, None)


def _continue(
    parent: Run,
    init_step: int | None,
    data: str,
    steps: int,
    seed: int,
    data_seed: int,
    start_step: int,
    lr: float,
    noise: float,
) -> Run:
    if init_step is not None and init_step != parent.recipe.start_step + parent.recipe.steps:
        raise ModelkinError(parent.dir, "internal: resume step does not match parent run")
    recipe = Recipe(
        config=parent.recipe.config,
        seed=seed,
        data=data,
        data_sha256=corpus(data).sha256,
        data_seed=data_seed,
        steps=steps,
        start_step=start_step,
        batch=parent.recipe.batch,
        seq=parent.recipe.seq,
        lr=lr,
        parent=parent.key,
        parent_step=parent.recipe.start_step + parent.recipe.steps,
        noise=noise,
    )
    final = cache_root() / recipe.key()[:24]
    if (final / ".complete").exists():
        return Run(recipe.key(), final, recipe)
    import torch

    torch.manual_seed(seed)
    return _run(recipe, models.load(parent.model))


def finetune(
    parent: Run, data: str = "stdlib-b", steps: int = 150, seed: int = 1000, lr: float = 1e-3
) -> Run:
    """Continue training ``parent`` on another corpus (a derived model)."""
    return _continue(parent, None, data, steps, seed, seed, 0, lr, 0.0)


def resume(parent_recipe_run: Run, at_step: int, noise: float = 1e-3, seed: int = 7) -> Run:
    """A resumed copy of ``parent_recipe_run``: its state at ``at_step`` (recomputed as an
    ``at_step``-step run of the same recipe), weights perturbed by relative ``noise``, a
    fresh optimizer, then the same batches as the parent for the remaining steps."""
    r = parent_recipe_run.recipe
    if r.parent is not None or not 0 < at_step < r.steps:
        raise ModelkinError("at_step", f"must be inside a from-scratch run of {r.steps} steps")
    spec = spec_from_config(r.config)
    prefix = train(
        spec, r.seed, r.data, at_step, data_seed=r.data_seed, batch=r.batch, seq=r.seq, lr=r.lr
    )
    return _continue(
        prefix, at_step, r.data, r.steps - at_step, seed, r.data_seed, at_step, r.lr, noise
    )
