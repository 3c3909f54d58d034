"""Distilled students: ground truth for "behaviour copied, weights not".

A student (its own initialisation, possibly another width or depth) is trained on the
*teacher's* next-token distributions (KL divergence to the teacher's softened outputs,
Hinton et al. 2015) over the same text the teacher saw, and never on the labels. Beside it,
:func:`independent_twin` is the same student architecture, initialisation seed and data
stream trained on the labels alone: the two differ only in what they learned from. Weight
tests must not call either related to the teacher (no weights were copied); a behavioural
statistic should separate the distilled student from its twin.

Runs are cached like :mod:`.train` runs, under their own recipe hash (kind ``distill``),
so adding distillation leaves every existing training cache key unchanged.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.errors import ModelkinError
from modelkin_dev.synth import models
from modelkin_dev.synth.data import corpus
from modelkin_dev.synth.specs import LlamaSpec, spec_from_config
from modelkin_dev.synth.train import TRAIN_VERSION, Run, _batch, _lr, _publish, cache_root

#: Bump when distillation code changes in a way that changes results.
DISTILL_VERSION = 1


@dataclass(frozen=True)
class DistillRecipe:
    """Everything that determines a distilled student; hashed into its cache key."""

    teacher: str
    student_config: dict[str, Any]
    seed: int
    data: str
    data_sha256: str
    data_seed: int
    steps: int
    temperature: float = 2.0
    batch: int = 16
    seq: int = 64
    lr: float = 3e-3

    def key(self) -> str:
        blob = json.dumps(
            {"kind": "distill", "v": DISTILL_VERSION, "train_v": TRAIN_VERSION, **asdict(self)},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class Student:
    """A finished distillation run (``model`` is the HF directory)."""

    key: str
    dir: Path
    recipe: DistillRecipe

    @property
    def model(self) -> Path:
        return self.dir / "model"


def distill(
    teacher: Run,
    student: LlamaSpec,
    seed: int,
    data: str = "stdlib-a",
    steps: int = 300,
    *,
    temperature: float = 2.0,
    data_seed: int | None = None,
) -> Student:
    """Train ``student`` (seeded init ``seed``) on ``teacher``'s soft next-token outputs
    over corpus ``data``: loss ``T² KL(softmax(t/T) || softmax(s/T))`` at every position."""
    import torch
    from torch.nn import functional as F

    t_spec = spec_from_config(teacher.recipe.config)
    if not isinstance(t_spec, LlamaSpec):
        raise ModelkinError(teacher.dir, "distillation needs a decoder (llama) teacher")
    if student.vocab_size != t_spec.vocab_size:
        raise ModelkinError("student", "student and teacher must share the vocabulary")
    recipe = DistillRecipe(
        teacher=teacher.key,
        student_config=student.config(),
        seed=seed,
        data=data,
        data_sha256=corpus(data).sha256,
        data_seed=seed if data_seed is None else data_seed,
        steps=steps,
        temperature=temperature,
    )
    key = recipe.key()
    final = cache_root() / key[:24]
    if (final / ".complete").exists():
        return Student(key, final, recipe)
    tokens = corpus(data).tokens("llama")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tnet = models.load(teacher.model)
        net = models.build(student, seed)
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=0.01)
        rows = ["step,tokens,loss"]
        temp = recipe.temperature
        for step in range(steps):
            chunk = _batch(tokens, recipe.data_seed, step, recipe.batch, recipe.seq)
            x = torch.as_tensor(chunk[:, :-1])
            with torch.no_grad():
                target = F.log_softmax(tnet(x) / temp, dim=-1)
            for g in opt.param_groups:
                g["lr"] = _lr(step, recipe.lr)
            logp = F.log_softmax(net(x) / temp, dim=-1)
            loss = F.kl_div(
                logp.reshape(-1, logp.shape[-1]),
                target.reshape(-1, target.shape[-1]),
                log_target=True,
                reduction="batchmean",
            ) * (temp * temp)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            rows.append(f"{step},{(step + 1) * recipe.batch * recipe.seq},{loss.item():.6f}")
    finally:
        torch.set_num_threads(threads)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    try:
        models.save(net.eval(), student, tmp / "model", extra={"distill_recipe_sha256": key})
        (tmp / "loss.csv").write_text("\n".join(rows) + "\n")
        (tmp / "recipe.json").write_text(json.dumps(asdict(recipe), indent=2, sort_keys=True))
        (tmp / ".complete").write_text(key)
        _publish(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return Student(key, final, recipe)


def independent_twin(student: Student) -> Run:
    """The student's architecture, initialisation seed and data stream trained on the
    labels alone (:func:`modelkin_dev.synth.train.train`): independent of the teacher."""
    from modelkin_dev.synth.train import train

    r = student.recipe
    spec = spec_from_config(r.student_config)
    return train(spec, r.seed, r.data, r.steps, data_seed=r.data_seed)


def next_token_agreement(a: Path, b: Path, n: int = 2048, seed: int = 0) -> float:
    """Mean KL(a || b) of next-token distributions on ``n`` positions of held-out text
    (corpus stdlib-b): a torch-side check used by tests, independent of modelkin."""
    import torch
    from torch.nn import functional as F

    tokens = corpus("stdlib-b").tokens("llama")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(tokens) - 65, size=max(1, n // 64))
    x = torch.as_tensor(np.stack([tokens[s : s + 64] for s in starts]))
    with torch.no_grad():
        la = F.log_softmax(models.load(a)(x), dim=-1)
        lb = F.log_softmax(models.load(b)(x), dim=-1)
    return float((la.exp() * (la - lb)).sum(-1).mean())
