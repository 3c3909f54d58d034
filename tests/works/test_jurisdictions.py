"""Ireland, India, Hong Kong, New Zealand, Japan and China: worked examples from each statute's
own words or official guidance (cited per test), and `works compare` across all packs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from modelkin.cli import main
from modelkin.works import classify, compute_term, load_pack, work_from_dict

AS_OF = dt.date(2026, 6, 1)
D = dt.date
GEN = {"systems": [{"name": "Gen", "role": "generated"}]}


def mk(authors: list[dict[str, Any]], ai_use: dict[str, Any] | None = None, **over: Any) -> Any:
    d: dict[str, Any] = {"title": "T", "kind": "text", "created": "2000-07-14", "authors": authors}
    d["ai_use"] = ai_use
    d.update(over)
    return work_from_dict(d, "w", AS_OF)


def term(w: Any, pack: str) -> Any:
    c = classify(w)
    return compute_term(w, c.tier, load_pack(pack), AS_OF, None, c.contribution)


# Ireland, CRRA 2000
def test_ie_s30_computer_generated_from_first_making_available() -> None:
    # s.21(f) + s.30: 70 years after first lawfully made available (s.35: from 1 January next)
    w = mk([{"name": "Ada", "role": "arrangements"}], GEN, published="2001-03-01")
    r = term(w, "ie")
    assert (r.rule_id, r.protected_until) == ("ie-s30-computer-generated", D(2071, 12, 31))


def test_ie_s30_not_yet_made_available_has_no_end() -> None:
    r = term(mk([], GEN), "ie")
    assert r.status == "protected" and r.protected_until is None
    assert "not yet made available" in r.basis


def test_ie_s24_1_life_plus_70_and_s24_2_anonymous() -> None:
    assert term(
        mk([{"name": "A", "death_year": 1950}], created="1940-01-01"), "ie"
    ).protected_until == D(2020, 12, 31)
    anon = mk([], anonymous=True, created="1980-01-01", published="1990-01-01")
    assert (term(anon, "ie").rule_id, term(anon, "ie").protected_until) == (
        "ie-s24-2-anonymous",
        D(2060, 12, 31),
    )


# India, Copyright Act 1957
def test_in_s22_sixty_years_from_year_after_death_and_joint_authors() -> None:
    # s.22: sixty years from the beginning of the calendar year next following the death
    r = term(mk([{"name": "A", "death_year": 2000}], created="1990-01-01"), "in")
    assert (r.rule_id, r.protected_until) == ("in-s22", D(2060, 12, 31))
    joint = mk(
        [{"name": "A", "death_year": 2000}, {"name": "B", "death_year": 2010}], created="1990-01-01"
    )
    assert term(joint, "in").protected_until == D(2070, 12, 31)  # Explanation: dies last


def test_in_s23_anonymous_sixty_years_from_publication() -> None:
    r = term(mk([], anonymous=True, created="1989-01-01", published="1990-05-01"), "in")
    assert (r.rule_id, r.protected_until) == ("in-s23-anonymous", D(2050, 12, 31))


def test_in_s2_d_vi_person_who_causes_it_is_the_author() -> None:
    w = mk([{"name": "Ada", "role": "prompt", "death_year": 2010}], GEN)
    r = term(w, "in")
    assert (r.rule_id, r.protected_until) == ("in-s2-d-vi-computer-generated", D(2070, 12, 31))
    assert "uncertain" in " ".join(r.notes)


# Hong Kong, Copyright Ordinance Cap. 528
def test_hk_s17_6_computer_generated_50_years_from_making() -> None:
    r = term(mk([], GEN), "hk")
    assert (r.rule_id, r.protected_until) == ("hk-s17-6-computer-generated", D(2050, 12, 31))
    assert "s.11(3)" in r.citation


def test_hk_s17_2_life_plus_50() -> None:
    assert term(
        mk([{"name": "A", "death_year": 1970}], created="1960-01-01"), "hk"
    ).protected_until == D(2020, 12, 31)


def test_hk_s17_3_unknown_authorship() -> None:
    made = mk([], anonymous=True, created="1960-01-01")
    assert term(made, "hk").protected_until == D(2010, 12, 31)
    available = mk([], anonymous=True, created="1960-01-01", published="1990-01-01")
    assert term(available, "hk").protected_until == D(2040, 12, 31)


# New Zealand, Copyright Act 1994
def test_nz_computer_generated_50_years_from_end_of_year_made() -> None:
    w = mk([{"name": "Ada", "role": "arrangements"}], GEN, created="2001-02-02")
    r = term(w, "nz")
    assert (r.rule_id, r.protected_until) == ("nz-s22-computer-generated", D(2051, 12, 31))
    assert "s.5(2)(a)" in r.citation


def test_nz_s22_1_life_plus_50_last_joint_author() -> None:
    joint = mk(
        [{"name": "A", "death_year": 1960}, {"name": "B", "death_year": 1965}], created="1950-01-01"
    )
    assert term(joint, "nz").protected_until == D(2015, 12, 31)


def test_nz_unknown_authorship_from_first_made_available() -> None:
    r = term(mk([], anonymous=True, created="2000-01-01", published="2000-06-01"), "nz")
    assert (r.rule_id, r.protected_until) == ("nz-s22-unknown", D(2050, 12, 31))


# Japan, Copyright Act + ACA guidance 2024
def test_jp_prompt_only_is_not_a_creative_contribution() -> None:
    w = mk([{"name": "Ada", "role": "prompt"}], GEN)
    r = term(w, "jp")
    assert (r.rule_id, r.status) == ("jp-prompt-no-creative-contribution", "public domain")
    assert "ACA" in r.citation


def test_jp_modification_is_protected_for_life_plus_70() -> None:
    w = mk([{"name": "Ada", "role": "modification", "death_year": 2020}], GEN)
    r = term(w, "jp")
    assert (r.status, r.protected_until) == ("partially protected", D(2090, 12, 31))


def test_jp_art53_corporate_work_70_years_from_publication() -> None:
    w = mk([{"name": "Studio"}], made_for_hire=True, published="2001-01-01")
    r = term(w, "jp")
    assert (r.rule_id, r.protected_until) == ("jp-art53-corporate", D(2071, 12, 31))


# China, Copyright Law 2020 + Li v Liu (Beijing Internet Court, 2023)
def test_cn_li_v_liu_iterated_prompts_and_selection_are_authorship() -> None:
    # Li chose and ordered prompts, set parameters, iterated and selected the final image
    w = mk(
        [{"name": "Li", "roles": ["prompt", "selection"], "death_year": 2024}],
        {"systems": [{"name": "Stable Diffusion", "role": "generated"}]},
        created="2023-02-24",
    )
    r = term(w, "cn")
    assert (r.rule_id, r.status, r.protected_until) == ("cn-li-v-liu", "protected", D(2074, 12, 31))


def test_cn_no_human_input_is_not_a_work() -> None:
    assert term(mk([], GEN), "cn").status == "public domain"
    assert term(mk([{"name": "Bot", "human": False}]), "cn").status == "public domain"


def test_cn_art23_life_plus_50_and_legal_person() -> None:
    assert term(
        mk([{"name": "A", "death_year": 1990}], created="1980-01-01"), "cn"
    ).protected_until == D(2040, 12, 31)
    corp = mk([{"name": "Co"}], made_for_hire=True, created="1999-01-01", published="2000-01-01")
    assert term(corp, "cn").protected_until == D(2050, 12, 31)


def test_compare_one_row_per_jurisdiction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "w.json"
    w = mk([{"name": "Ada", "role": "prompt", "birth_year": 1980}], GEN, created="2024-03-01")
    path.write_text(json.dumps(w.to_dict()))
    assert main(["works", "compare", str(path), "--as-of", "2026-06-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["pack"]: r for r in out["rows"]}
    assert set(rows) == {"cn", "eu", "hk", "ie", "in", "jp", "nz", "uk-bill", "uk-cdpa", "us"}
    assert rows["us"]["status"] == "public domain"
    assert rows["uk-cdpa"]["protected_until"] == "2074-12-31"
    assert all(r["rule_id"] and r["citation"] for r in rows.values())
    assert main(["works", "compare", str(path), "--as-of", "2026-06-01"]) == 0
    text = capsys.readouterr().out
    assert "us-prompt-not-authorship" in text and "2074-12-31" in text
    assert len([ln for ln in text.splitlines() if ln.split()[:1] and ln.split()[0] in rows]) == 10
