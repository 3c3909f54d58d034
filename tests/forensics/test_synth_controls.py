"""Tiny llama models from part B's :mod:`modelkin_dev.synth`: independent random inits
(controls) and cross-format copies (safetensors vs GGUF, HF orientation restored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.forensics import compare
from modelkin_dev.synth import convert, specs, train
from modelkin_dev.synth import models as synth


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fingerprint]:
    base = tmp_path_factory.mktemp("tiny")
    spec = specs.LlamaSpec(hidden_size=128, intermediate_size=256, num_hidden_layers=4)
    out: dict[str, Path] = {}
    for seed in (1, 2):
        out[f"seed{seed}"] = synth.save(synth.build(spec, seed), spec, base / f"seed{seed}")
    out["q8"] = convert.to_gguf(out["seed1"], base / "seed1-q8.gguf", qtype="Q8_0")
    out["f32"] = convert.to_gguf(out["seed1"], base / "seed1-f32.gguf", qtype="F32")
    return {k: fingerprint_model(v) for k, v in out.items()}


def test_independent_inits_not_related(tiny: dict[str, Fingerprint]) -> None:
    r = compare(tiny["seed1"], tiny["seed2"])
    assert r.related is False and r.p_value is not None and r.p_value > 1e-3


@pytest.mark.parametrize("copy", ["q8", "f32"])
def test_gguf_copy_is_converted(tiny: dict[str, Fingerprint], copy: str) -> None:
    r = compare(tiny[copy], tiny["seed1"])
    assert r.verdict == "converted", (r.verdict, r.get("identity").details)  # type: ignore[union-attr]
    ident = r.get("identity")
    assert ident is not None and ident.details["worst_relative_rmse"] < 0.05


@pytest.fixture(scope="module")
def trained() -> dict[str, Fingerprint]:
    """Real CPU training (cached by recipe in part B's cache): two from-scratch runs with
    different seeds (independent controls) and a fine-tune of the first (derived)."""
    spec = specs.LlamaSpec(hidden_size=128, intermediate_size=256, num_hidden_layers=4)
    a = train.train(spec, 1, steps=60)
    b = train.train(spec, 2, steps=60)
    ft = train.finetune(a, steps=40)
    return {n: fingerprint_model(r.dir) for n, r in (("a", a), ("b", b), ("ft", ft))}


def test_trained_from_scratch_not_related(trained: dict[str, Fingerprint]) -> None:
    r = compare(trained["a"], trained["b"])
    assert r.related is False, (r.verdict, r.p_value)


def test_finetune_is_derived(trained: dict[str, Fingerprint]) -> None:
    r = compare(trained["ft"], trained["a"])
    assert r.related is True and r.verdict == "derived", r.verdict
