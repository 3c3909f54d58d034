"""Three tiers, reasons, IPTC mapping both ways, and contradictions flagged."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from modelkin.works import (
    IPTC_PREFIX,
    TIERS,
    classify,
    term_for_tier,
    term_uri,
    tier_for_term,
    work_from_dict,
)
from modelkin.works.record import Disclosure

TODAY = dt.date(2026, 6, 1)


def work(ai_use: dict[str, Any] | None, authors: list[dict[str, Any]] | None = None) -> Any:
    return work_from_dict(
        {
            "title": "T",
            "kind": "text",
            "created": "2025-01-01",
            "authors": authors if authors is not None else [{"name": "Ada"}],
            "ai_use": ai_use,
        },
        "w",
        TODAY,
    )


def test_three_tiers_with_reasons() -> None:
    human = classify(work(None))
    assert (human.tier, human.digital_source_type) == ("human", "digitalCreation")
    assert human.reasons and not human.contradictions
    assisted = classify(work({"systems": [{"name": "LLM", "role": "assisted"}], "ai_share": 0.2}))
    assert assisted.tier == "ai-assisted"
    assert assisted.digital_source_type == "compositeWithTrainedAlgorithmicMedia"
    assert any("LLM" in r for r in assisted.reasons)
    generated = classify(work({"systems": [{"name": "Gen", "role": "generated"}], "ai_share": 1}))
    assert generated.tier == "ai-generated"
    assert generated.digital_source_type_uri == IPTC_PREFIX + "trainedAlgorithmicMedia"
    # a system with role "none" is not AI use
    assert classify(work({"systems": [{"name": "Spell", "role": "none"}]})).tier == "human"


def test_iptc_mapping_both_directions() -> None:
    for tier in TIERS:
        assert tier_for_term(term_for_tier(tier)) == tier
        assert tier_for_term(term_uri(term_for_tier(tier))) == tier
    assert tier_for_term("digitalCapture") == "human"
    assert tier_for_term("humanEdits") == "human"
    assert tier_for_term("algorithmicMedia") == "ai-generated"
    assert tier_for_term("noSuchTerm") is None


def test_declared_precise_term_is_kept() -> None:
    c = classify(work({"systems": [], "digital_source_type": "digitalCapture"}))
    assert (c.tier, c.digital_source_type, c.contradictions) == ("human", "digitalCapture", [])


@pytest.mark.parametrize(
    ("ai_use", "needle"),
    [
        ({"systems": [{"name": "G", "role": "generated"}], "ai_share": 0}, "ai_share is 0"),
        ({"systems": [{"name": "G", "role": "edited"}], "ai_share": 1}, "no system has role"),
        (
            {
                "systems": [{"name": "G", "role": "generated"}],
                "ai_share": 1,
                "human_contribution": "I wrote it",
            },
            "human contribution",
        ),
        (
            {
                "systems": [{"name": "Painter", "role": "edited"}],
                "digital_source_type": "trainedAlgorithmicMedia",
            },
            "means ai-generated",
        ),
        ({"systems": [], "digital_source_type": "madeUpTerm"}, "not a known IPTC"),
    ],
)
def test_self_contradictions_are_flagged(ai_use: dict[str, Any], needle: str) -> None:
    c = classify(work(ai_use))
    assert any(needle in f for f in c.contradictions), c.contradictions


def test_manifest_contradiction_is_flagged_not_resolved() -> None:
    declared_none = work({"systems": [], "ai_share": 0})
    c = classify(declared_none, Disclosure(source="c2pa"), ["trainedAlgorithmicMedia"])
    assert c.tier == "human"  # the declaration stands ...
    assert c.manifest_tier == "ai-generated"  # ... next to what the manifest says
    assert any("C2PA manifest says ai-generated" in f for f in c.contradictions)


def test_no_declaration_uses_manifest() -> None:
    m = Disclosure(systems=(), ai_share=1.0, source="c2pa")
    from modelkin.works.record import AISystem

    m = Disclosure(systems=(AISystem("Gen", "generated"),), ai_share=1.0, source="c2pa")
    c = classify(work(None), m, ["trainedAlgorithmicMedia"])
    assert c.tier == "ai-generated"
    assert "C2PA manifest" in c.reasons[0]


def test_unnamed_system_is_inferred_from_a_share() -> None:
    # a share with no system named is incomplete, not contradictory: the inference is shown
    c = classify(work({"systems": [], "ai_share": 0.5}))
    assert c.tier == "ai-assisted" and not c.contradictions
    assert any(i.fact == "generator" and i.source == "ai_use.ai_share" for i in c.inferences)
