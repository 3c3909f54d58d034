"""Activation evidence: CKA's properties, the evidence on trained tiny models, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelkin.cli import main
from modelkin.fingerprint import fingerprint_model
from modelkin.forensics import compare
from modelkin.forensics.activations import activation_test, add_activation_evidence
from modelkin.forensics.cka import cka_arrays, monotone_alignment
from modelkin_dev.synth import specs, train
from modelkin_dev.synth import transforms as T

STEPS = 300


def test_cka_invariances_and_chance_level() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 24)) @ rng.normal(size=(24, 24))
    q, _ = np.linalg.qr(rng.normal(size=(24, 24)))
    assert cka_arrays(x, x) == pytest.approx(1.0)
    assert cka_arrays(x, 3.0 * x @ q) == pytest.approx(1.0, abs=1e-9)  # rotation, scale
    wide = np.concatenate([x @ q, rng.normal(size=(400, 8)) * 1e-3], axis=1)
    assert cka_arrays(x, wide) > 0.999  # another width
    assert abs(cka_arrays(x, rng.normal(size=(400, 64)))) < 0.05  # debiased: ~0


def test_monotone_alignment_maps_a_pruned_depth_in_order() -> None:
    c = np.full((6, 3), 0.1)
    for i, j in ((1, 0), (3, 1), (5, 2)):
        c[i, j] = 0.9
    assert monotone_alignment(c) == [(1, 0), (3, 1), (5, 2)]
    assert monotone_alignment(c.T) == [(0, 1), (1, 3), (2, 5)]


@pytest.fixture(scope="module")
def runs() -> dict[str, Path]:
    a = train.train(specs.TINY_LLAMA, seed=11, steps=STEPS)
    b = train.train(specs.TINY_LLAMA, seed=12, steps=STEPS)
    return {"a": a.model, "b": b.model}


def test_identical_and_permuted_copies_score_one(runs: dict[str, Path], tmp_path: Path) -> None:
    ev = activation_test(runs["a"], runs["a"])
    assert ev.statistic == pytest.approx(1.0)
    assert ev.p_value is None and ev.combine is False
    perm = T.permute(runs["a"], tmp_path / "perm", seed=3)
    ev = activation_test(runs["a"], perm)
    assert ev.statistic == pytest.approx(1.0, abs=1e-4)  # function-preserving permutation
    assert ev.details["outputs"]["js_mean"] < 1e-6


def test_independent_same_data_pair_is_high_but_never_related(runs: dict[str, Path]) -> None:
    """Two seeds, same architecture, data and recipe: representations converge (high CKA),
    yet the activation evidence must not turn the comparison into a related verdict nor
    produce a distillation finding."""
    ev = activation_test(runs["a"], runs["b"])
    assert ev.statistic is not None and 0.3 < ev.statistic < 0.99
    assert ev.details["chance_cka"] < 0.05
    r = compare(fingerprint_model(runs["a"]), fingerprint_model(runs["b"]))
    before = (r.verdict, r.related, r.p_value)
    r = add_activation_evidence(r, runs["a"], runs["b"])
    assert (r.verdict, r.related, r.p_value) == before
    assert r.related is not True
    assert r.findings == []
    assert r.get("activation_cka") is not None


def test_model_without_tokenizer_is_skipped_with_a_reason(
    runs: dict[str, Path], tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("config.json", "model.safetensors"):
        (bare / f).write_bytes((runs["a"] / f).read_bytes())
    ev = activation_test(runs["a"], bare)
    assert ev.statistic is None and "tokenizer" in ev.details["skipped"]


def test_cli_activations_flag(
    runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html = tmp_path / "r.html"
    code = main(
        [
            "compare",
            str(runs["a"]),
            str(runs["b"]),
            "--activations",
            "--json",
            "--report",
            str(html),
        ]
    )
    rep = json.loads(capsys.readouterr().out)
    assert code in (0, 4) and rep["related"] is not True
    assert "activation_cka" in [e["name"] for e in rep["evidence"]]
    assert rep["findings"] == []
    assert "Activation CKA by layer" in html.read_text()
    fp = tmp_path / "a.mkfp"
    assert main(["fingerprint", str(runs["a"]), "-o", str(fp)]) == 0
    capsys.readouterr()
    assert main(["compare", str(fp), str(runs["b"]), "--activations"]) == 2
    assert "--activations needs a model file" in capsys.readouterr().err


def test_cli_runs_activations_when_weights_abstain(
    runs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An `insufficient` weight verdict on two runnable models brings in the activation
    evidence by itself; the verdict and exit code stay the weight tests'."""
    import modelkin.forensics as F

    real = F.compare

    def abstaining(a, b, **kw):  # type: ignore[no-untyped-def]
        r = real(a, b, **kw)
        r.verdict, r.related, r.reason = "insufficient", None, "forced for the test"
        return r

    monkeypatch.setattr(F, "compare", abstaining)
    assert main(["compare", str(runs["a"]), str(runs["b"]), "--json"]) == 4
    rep = json.loads(capsys.readouterr().out)
    assert rep["verdict"] == "insufficient"
    assert "activation_cka" in [e["name"] for e in rep["evidence"]]
    assert "activation evidence (descriptive, no valid null)" in rep["reason"]


def test_byte_level_encoders_read_the_probe_byte_by_byte() -> None:
    """The synthetic BERTs' "WordPiece" vocabulary has no ## pieces: it is read as bytes
    (not as unknown words), and two seeds give a real, sub-1 CKA."""
    a = train.train(specs.TINY_BERT, seed=11, steps=STEPS).model
    b = train.train(specs.TINY_BERT, seed=12, steps=STEPS).model
    ev = activation_test(a, b)
    assert ev.details["probe"]["mode"] == "shared"
    assert ev.details["probe"]["tokens_a"] > 5000  # one token per byte (+ [CLS]/[SEP])
    assert ev.statistic is not None and 0.2 < ev.statistic < 0.99
    assert activation_test(a, a).statistic == pytest.approx(1.0)
