"""Issue 15's "Wrong" table, one test per row, and alternative encodings of one set of facts.

Each row was answered wrongly before normalisation (the old answer is in the comment); the
expected answers come from the statutes and guidance cited, not from modelkin's rules.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelkin.cli import main
from modelkin.errors import ModelkinError
from modelkin.works import classify, compute_term, load_pack, work_from_dict
from modelkin.works.record import Disclosure
from modelkin.works.terms import compare_terms

TODAY = dt.date(2026, 6, 1)
D = dt.date


def mk(authors: list[dict[str, Any]], ai_use: dict[str, Any] | None, **over: Any) -> Any:
    d: dict[str, Any] = {
        "title": "T",
        "kind": "image",
        "created": "2024-03-01",
        "authors": authors,
        "ai_use": ai_use,
    }
    d.update(over)
    return work_from_dict(d, "w", TODAY)


def terms_of(w: Any, *packs: str, manifest: tuple[Any, ...] = ()) -> dict[str, Any]:
    c = classify(w, *manifest)
    return {p: compute_term(w, c.tier, load_pack(p), TODAY, None, c.contribution) for p in packs}


def test_row1_no_human_author_system_generated_no_share() -> None:
    # was: AI-assisted; UK s.12(3) to 2094; US "partially protected" to 2144; UK bill 25 years
    for authors in ([], [{"name": "ImageGen", "human": False}]):
        w = mk(authors, {"systems": [{"name": "ImageGen", "role": "generated"}]})
        c = classify(w)
        assert c.tier == "ai-generated", authors
        assert any(i.fact == "ai_share" and i.value == "100%" for i in c.inferences)
        t = terms_of(w, "uk-cdpa", "us", "uk-bill")
        # CDPA s.9(3), s.12(7): 50 years from the end of the calendar year made
        assert t["uk-cdpa"].rule_id.startswith("uk-cdpa-s12-7")
        assert t["uk-cdpa"].protected_until == D(2074, 12, 31)
        assert t["us"].status == "public domain"  # no human authorship
        assert t["uk-bill"].status == "public domain"  # tier 3


def test_row2_only_trained_algorithmic_media() -> None:
    # was: human-authored, s.12(3)
    w = mk([{"name": "Ada"}], {"digital_source_type": "trainedAlgorithmicMedia"})
    c = classify(w)
    assert (c.tier, c.contradictions) == ("ai-generated", [])
    role = next(i for i in c.inferences if i.fact == "role")
    assert role.value == "arrangements" and "s.9(3)" in role.citation
    t = terms_of(w, "uk-cdpa")["uk-cdpa"]
    assert (t.rule_id, t.protected_until) == ("uk-cdpa-s12-7", D(2074, 12, 31))
    # the full IPTC URI is the same fact
    uri = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert classify(mk([{"name": "Ada"}], {"digital_source_type": uri})).tier == "ai-generated"


def test_row3_prompt_only_person() -> None:
    # was: AI-assisted, US life+70
    w = mk(
        [{"name": "Ada", "role": "prompt", "birth_year": 1980}],
        {"systems": [{"name": "ImageGen", "role": "generated"}]},
    )
    c = classify(w)
    assert (c.tier, c.contribution) == ("ai-generated", "prompt")
    t = terms_of(w, "us", "uk-cdpa", "uk-bill")
    assert (t["us"].status, t["us"].rule_id) == ("public domain", "us-prompt-not-authorship")
    assert "Part 2" in t["us"].citation
    assert t["uk-cdpa"].protected_until == D(2074, 12, 31)  # s.9(3): arrangements
    assert t["uk-bill"].status == "public domain"


def test_row4_human_declared_but_manifest_says_generated() -> None:
    # was: tier silently taken from the manifest, no flag
    w = mk([{"name": "Ada"}], {"systems": []})
    c = classify(w, Disclosure(source="c2pa"), ["trainedAlgorithmicMedia"], "trusted")
    assert c.tier == "human" and c.manifest_tier == "ai-generated"
    conflict = next(x for x in c.conflicts if x.fact == "tier")
    assert {s for s, _ in conflict.claims} == {"C2PA manifest", "ai_use"}


def test_row4_cli_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from modelkin.works.c2pa_io import ManifestReading

    assert ManifestReading  # the end-to-end manifest variant is in test_c2pa_trust.py
    path = tmp_path / "w.json"
    path.write_text(
        json.dumps(
            {
                "title": "T",
                "kind": "image",
                "created": "2024-03-01",
                "authors": [{"name": "Ada", "role": "author"}],
                "ai_use": {"systems": [], "digital_source_type": "trainedAlgorithmicMedia"},
            }
        )
    )
    code = main(["works", "classify", str(path)])
    err = capsys.readouterr().err
    assert code == 5 and "CONFLICT" in err and "trainedAlgorithmicMedia" in err


def test_row5_author_marked_not_human() -> None:
    # was: AI-assisted (flagged)
    w = mk([{"name": "Bot", "human": False}], None)
    c = classify(w)
    assert (c.tier, c.contradictions) == ("ai-generated", [])
    assert any(i.fact == "generator" and i.value == "Bot" for i in c.inferences)
    assert terms_of(w, "us")["us"].status == "public domain"


def test_row6_as_of_before_creation_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # was: "protected"
    w = mk([{"name": "Ada", "death_year": 1960}], None, created="1930-05-01")
    with pytest.raises(ModelkinError, match="before the work was created"):
        compute_term(w, "human", load_pack("uk-cdpa"), D(1900, 1, 1))
    path = tmp_path / "w.json"
    path.write_text(json.dumps(w.to_dict()))
    code = main(["works", "term", str(path), "-j", "uk-cdpa", "--as-of", "1900-01-01"])
    assert code == 2 and "before the work was created" in capsys.readouterr().err
    assert main(["works", "compare", str(path), "--as-of", "1900-01-01"]) == 2


# One set of facts, many encodings: the same legal answer every time.
PROMPT_ONLY = [
    ([{"name": "Ada", "role": "prompt"}], {"systems": [{"name": "G", "role": "generated"}]}),
    ([{"name": "Ada", "roles": ["prompter"]}], {"systems": [{"name": "G", "role": "generated"}]}),
    ([{"name": "Ada", "role": "Prompt Engineer"}], None),
    ([{"name": "Ada", "role": "prompt"}], {"ai_share": 1}),
    ([{"name": "Ada", "role": "prompt"}], {"ai_share": "100%"}),
    ([{"name": "Ada", "role": "prompt"}], {"digital_source_type": "trainedAlgorithmicMedia"}),
    (
        [{"name": "Ada", "role": "prompting"}, {"name": "G", "human": False}],
        {"systems": []},
    ),
]
WHOLLY_GENERATED = [
    ([], {"systems": [{"name": "G", "role": "generated"}]}),
    ([{"name": "G", "human": False}], None),
    ([{"name": "G", "human": False}], {"systems": [{"name": "G", "role": "generated"}]}),
    ([], {"digital_source_type": "trainedAlgorithmicMedia"}),
    ([], {"ai_share": 1.0, "systems": [{"name": "G", "role": "generated", "version": "2"}]}),
]
ASSISTED_BY_MODIFICATION = [
    (
        [{"name": "Ada", "role": "modification", "death_year": 2025}],
        {"systems": [{"name": "G", "role": "generated"}]},
    ),
    (
        [{"name": "Ada", "roles": ["prompt", "editor"], "death_year": 2025}],
        {"systems": [{"name": "G", "role": "generated"}], "ai_share": 0.6},
    ),
    (
        [{"name": "Ada", "role": "retouching", "death_year": 2025}],
        {"digital_source_type": "compositeWithTrainedAlgorithmicMedia"},
    ),
]


def _answers(authors: list[dict[str, Any]], ai_use: dict[str, Any] | None) -> Any:
    w = mk(authors, ai_use)
    c = classify(w)
    assert not c.contradictions, (authors, ai_use, c.contradictions)
    return (
        c.tier,
        c.contribution,
        [(r.pack, r.status, r.protected_until) for r in compare_terms(w, c, TODAY)],
    )


@pytest.mark.parametrize("group", [PROMPT_ONLY, WHOLLY_GENERATED, ASSISTED_BY_MODIFICATION])
def test_alternative_encodings_give_the_same_answer(group: list[Any]) -> None:
    answers = {json.dumps(_answers(a, u), default=str) for a, u in group}
    assert len(answers) == 1, answers


def test_modification_is_protected_only_partly_in_the_us() -> None:
    w = mk(*ASSISTED_BY_MODIFICATION[0])
    r = terms_of(w, "us")["us"]
    assert (r.rule_id, r.status) == ("us-302a-modification", "partially protected")
    assert r.protected_until == D(2095, 12, 31)


ROLE_SPELLINGS = {
    "prompt": ["prompt", "prompter", "Prompting", "prompt_engineer", "PROMPTS"],
    "modification": ["modification", "editor", "Edited", "retouching"],
    "selection": ["selection", "curator", "selected"],
}


@settings(max_examples=60, deadline=None)
@given(
    canon=st.sampled_from(sorted(ROLE_SPELLINGS)),
    pick=st.integers(min_value=0, max_value=10),
    as_list=st.booleans(),
    share=st.sampled_from([None, 1.0, "100%"]),
)
def test_property_role_spelling_never_changes_the_law(
    canon: str, pick: int, as_list: bool, share: object
) -> None:
    spellings = ROLE_SPELLINGS[canon]
    written = spellings[pick % len(spellings)]
    author: dict[str, Any] = {"name": "Ada"}
    author["roles" if as_list else "role"] = [written] if as_list else written
    ai_use: dict[str, Any] = {"systems": [{"name": "G", "role": "generated"}]}
    if share is not None and canon != "modification":
        ai_use["ai_share"] = share
    got = classify(mk([author], ai_use))
    ref = classify(
        mk([{"name": "Ada", "role": canon}], {"systems": [{"name": "G", "role": "generated"}]})
    )
    assert (got.tier, got.contribution) == (ref.tier, ref.contribution)


def test_unknown_role_is_bad_input() -> None:
    with pytest.raises(ModelkinError, match=r"authors\[0\].*unknown role 'dreamer'"):
        mk([{"name": "Ada", "role": "dreamer"}], None)


def test_declared_author_contradicting_wholly_generated_share_is_flagged() -> None:
    w = mk(
        [{"name": "Ada", "role": "author"}],
        {"ai_share": 1, "systems": [{"name": "G", "role": "generated"}]},
    )
    c = classify(w)
    assert any(x.fact == "roles" for x in c.conflicts)


def test_inferences_are_never_stored() -> None:
    w = mk([], {"systems": [{"name": "G", "role": "generated"}]})
    assert classify(w).facts is not None
    assert w.to_dict()["ai_use"]["ai_share"] is None  # the inferred 100% stays out
