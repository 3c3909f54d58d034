"""Distilled students: weights independent, behaviour close; a finding, never `derived`.

Ground truth by construction (``modelkin_dev.synth.distill``): a student trained only on a
teacher's soft outputs, its independent twin (same architecture, init seed and data, trained
on labels), and an independently trained model of the teacher's own shape. Seeds differ
from those of benchmarks/activation_bench.py, which set the frozen threshold.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.fingerprint import fingerprint_model
from modelkin.forensics import compare
from modelkin.forensics.activations import add_activation_evidence, reference
from modelkin_dev.synth import specs, train
from modelkin_dev.synth.distill import distill, independent_twin, next_token_agreement

STEPS = 300
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def family() -> dict[str, Path]:
    teacher = train.train(specs.TINY_LLAMA, seed=31, steps=STEPS)
    student = distill(teacher, specs.TINY_LLAMA, seed=32, steps=2 * STEPS)
    twin = independent_twin(student)
    other = train.train(specs.TINY_LLAMA, seed=33, steps=STEPS)
    return {
        "teacher": teacher.model,
        "student": student.model,
        "twin": twin.model,
        "other": other.model,
    }


def test_ground_truth_student_is_closer_to_its_teacher(family: dict[str, Path]) -> None:
    """Checked with torch alone, on text outside the probe: distillation worked."""
    kl_student = next_token_agreement(family["teacher"], family["student"])
    kl_twin = next_token_agreement(family["teacher"], family["twin"])
    assert kl_student < 0.5 * kl_twin


def _report(a: Path, b: Path):  # type: ignore[no-untyped-def]
    r = compare(fingerprint_model(a), fingerprint_model(b))
    before = (r.verdict, r.related, r.p_value)
    r = add_activation_evidence(r, a, b)
    assert (r.verdict, r.related, r.p_value) == before  # findings never move the verdict
    return r


def test_distilled_student_is_a_finding_not_a_derivation(family: dict[str, Path]) -> None:
    assert reference().get("thresholds", {}).get("js_mean"), "activation reference missing"
    r = _report(family["student"], family["teacher"])
    assert r.related is not True
    assert r.verdict not in ("identical", "converted", "derived", "derived_surgery")
    kinds = [f["kind"] for f in r.findings]
    assert kinds == ["distillation_suspected"]
    d = r.to_dict()
    assert d["findings"][0]["threshold"] == reference()["thresholds"]["js_mean"]
    # weights independent, behaviour similar, with its statistic and its null
    f = d["findings"][0]
    assert f["weights"].startswith(("independent", "not shown related"))
    assert f["behaviour"].startswith("similar") and f["statistic"]["js_mean"] < f["threshold"]
    assert "independently trained" in f["null"]


@pytest.mark.parametrize("who", ["twin", "other"])
def test_independent_models_get_no_finding(family: dict[str, Path], who: str) -> None:
    r = _report(family[who], family["teacher"])
    assert r.related is not True
    assert r.findings == []
