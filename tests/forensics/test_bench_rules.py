"""The lineage bench scores what it did not tune (issue 19, finding 5): expected answers
come from how a pair was made, thresholds are frozen before the held-out half is scored,
and margins are signed so that a positive margin is a right answer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "lineage_bench.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    sys.path.insert(0, str(BENCH.parent))
    try:
        spec = importlib.util.spec_from_file_location("lineage_bench", BENCH)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH.parent))


def _case(bench: ModuleType, cid: str, related: bool, expected: str) -> object:
    p = Path("/nonexistent")
    return bench.corpus.Case(cid, p, p, related, expected, "kind", "transform")


def test_engine_thresholds_are_the_frozen_ones(bench: ModuleType) -> None:
    """Changing a decision threshold must edit the freeze record in the same commit."""
    now, frozen = bench.engine_thresholds(), bench.FROZEN_THRESHOLDS
    changed = {k: (frozen[k], now[k]) for k in frozen if now[k] != frozen[k]}
    assert not changed, (
        f"decision thresholds changed {changed}: update FROZEN_THRESHOLDS in "
        "benchmarks/lineage_bench.py in the same commit and say so in its message"
    )


def test_split_is_seeded_stable_and_balanced(bench: ModuleType) -> None:
    ids = [f"case-{i}" for i in range(400)]
    first = [bench.held_out(i) for i in ids]
    assert first == [bench.held_out(i) for i in ids]
    assert 150 < sum(first) < 250


def test_expected_class_comes_from_construction_only(bench: ModuleType) -> None:
    """An unrelated pair expects an independence verdict whatever its tokenizers: the
    engine's own vocabulary rule is never the answer key."""
    neg = _case(bench, "a~b", False, "unrelated")
    assert set(bench.expected_classes(neg)) == {"unrelated", "same_tokenizer_only"}
    pos = _case(bench, "c~d", True, "derived_surgery")
    assert bench.expected_classes(pos) == ("derived_surgery",)


def test_margins_are_signed_by_truth(bench: ModuleType) -> None:
    hit = bench.Outcome("derived", True, 9.0, "p=1e-09")
    assert bench.margin(hit, True, 1e-6) == pytest.approx(3.0)
    assert bench.margin(hit, False, 1e-6) == pytest.approx(-3.0)
    safe = bench.Outcome("unrelated", False, 0.0, "p=1")
    assert bench.margin(safe, False, 1e-6) == pytest.approx(6.0)
    assert bench.margin(bench.Outcome("insufficient", None, 0.0, ""), True, 1e-6) is None
    floored = bench.Outcome("derived", True, 16.0, "p<1e-16")
    assert bench.margin(floored, True, 1e-6) == pytest.approx(10.0)


def test_null_study_gives_every_model_its_own_seeds() -> None:
    """The lost null-study run paired models that shared an initialisation seed as
    "independent"; the plan now has distinct init and data-order seeds everywhere, and
    enough models for >= 200 pairs."""
    path = BENCH.parent / "null_study.py"
    spec = importlib.util.spec_from_file_location("null_study", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["null_study"] = mod  # its dataclasses look their module up
    try:
        spec.loader.exec_module(mod)
    finally:
        del sys.modules["null_study"]
    for quick in (False, True):
        rows = mod.plan(quick)
        seeds = [s for _, _, s, _ in rows]
        data = [d for *_, d in rows]
        assert len(set(seeds)) == len(seeds) and len(set(data)) == len(data)
    n = len(mod.plan()) + len(mod.FINETUNED)
    assert n * (n - 1) // 2 >= 200
