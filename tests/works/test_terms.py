"""Protection terms: worked examples from the statutes' text, three tiers under every pack."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from modelkin.errors import ModelkinError
from modelkin.works import builtin_pack_ids, compute_term, load_pack, work_from_dict
from modelkin.works.rulepacks import parse_pack

AS_OF = dt.date(2026, 6, 1)
D = dt.date


def mk(**over: Any) -> Any:
    d: dict[str, Any] = {"title": "T", "kind": "text", "created": "1940-01-01", "authors": []}
    d.update(over)
    return work_from_dict(d, "w", AS_OF)


def term(w: Any, pack: str, tier: str = "human", **kw: Any) -> Any:
    return compute_term(w, tier, load_pack(pack), kw.pop("as_of", AS_OF), kw.pop("params", None))


def test_shipped_packs() -> None:
    assert builtin_pack_ids() == [
        "cn", "eu", "hk", "ie", "in", "jp", "nz", "uk-bill", "uk-cdpa", "us"
    ]  # fmt: skip
    for p in builtin_pack_ids():
        pack = load_pack(p)
        assert all(r.citation for r in pack.rules)


@pytest.mark.parametrize("pack", ["uk-cdpa", "uk-bill", "us", "eu"])
def test_author_died_1950(pack: str) -> None:
    # CDPA s.12(2): 70 years from the end of the calendar year in which the author dies.
    r = term(mk(authors=[{"name": "A", "death_year": 1950}]), pack)
    assert (r.protected_until, r.public_domain_from) == (D(2020, 12, 31), D(2021, 1, 1))
    assert r.status == "public domain"
    # the day before: still protected
    assert (
        term(mk(authors=[{"name": "A", "death_year": 1950}]), pack, as_of=D(2020, 12, 31)).status
        == "protected"
    )


def test_us_pre_1978_work_is_noted() -> None:
    r = term(mk(authors=[{"name": "A", "death_year": 1950}]), "us")
    assert any("transitional" in n for n in r.notes)
    r = term(mk(created="1990-01-01", authors=[{"name": "A", "death_year": 2000}]), "us")
    assert not any("transitional" in n for n in r.notes)


def test_computer_generated_made_2000_uk_cdpa() -> None:
    # s.9(3), s.12(7): 50 years from the end of the calendar year in which it was made.
    w = mk(created="2000-07-14", authors=[{"name": "Gen", "human": False}])
    for tier in ("ai-generated", "human"):  # no human author -> s.178 computer-generated
        r = term(w, "uk-cdpa", tier)
        assert r.protected_until == D(2050, 12, 31)
        assert r.public_domain_from == D(2051, 1, 1)
        assert r.rule_id.startswith("uk-cdpa-s12-7")


@pytest.mark.parametrize("pack", ["uk-cdpa", "uk-bill", "us", "eu"])
def test_joint_authors_last_to_die(pack: str) -> None:
    # CDPA s.12(8), 17 USC 302(b), Directive art. 1(2): the last surviving author.
    w = mk(authors=[{"name": "A", "death_year": 1960}, {"name": "B", "death_year": 1985}])
    r = term(w, pack)
    assert r.protected_until == D(2055, 12, 31)
    assert "B" in r.basis and r.status == "protected"


def test_joint_author_alive_means_term_not_known() -> None:
    w = mk(created="2000-01-01", authors=[{"name": "A", "death_year": 2010}, {"name": "B"}])
    r = term(w, "uk-cdpa")
    assert r.status == "protected" and r.protected_until is None and r.public_domain_from is None
    assert any("B" in n for n in r.notes)


def test_us_anonymous_whichever_first() -> None:
    # 302(c): 95 years from first publication or 120 from creation, whichever expires first.
    w = mk(created="1975-03-01", published="1980-06-01", anonymous=True)
    r = term(w, "us")
    assert r.protected_until == D(2075, 12, 31)  # min(1980+95, 1975+120) = 2075
    assert r.rule_id == "us-302c-anonymous"
    late = mk(created="1975-03-01", published="2010-01-01", anonymous=True)
    assert term(late, "us").protected_until == D(2095, 12, 31)  # 1975+120 < 2010+95
    unpublished = mk(created="1975-03-01", anonymous=True)
    r = term(unpublished, "us")
    assert r.protected_until == D(2095, 12, 31)
    assert any("not yet published" in n for n in r.notes)


def test_us_work_made_for_hire() -> None:
    w = mk(
        created="1990-01-01",
        published="1991-01-01",
        made_for_hire=True,
        authors=[{"name": "Employee"}],
    )
    r = term(w, "us")
    assert (r.rule_id, r.protected_until) == ("us-302c-hire", D(2086, 12, 31))


def test_uk_unknown_author() -> None:
    # s.12(3): 70 years from the end of the year made, or if made available within that period,
    # 70 years from the end of the year first made available.
    never = mk(created="1930-01-01", anonymous=True)
    r = term(never, "uk-cdpa")
    assert r.protected_until == D(2000, 12, 31) and r.status == "public domain"
    made_available = mk(created="1930-01-01", published="1990-01-01", anonymous=True)
    assert term(made_available, "uk-cdpa").protected_until == D(2060, 12, 31)
    too_late = mk(created="1930-01-01", published="2005-01-01", anonymous=True)
    r = term(too_late, "uk-cdpa")
    assert r.protected_until == D(2000, 12, 31)  # made available after the period: no restart
    assert any("does not restart" in n for n in r.notes)
    # unpublished recent anonymous work: from making
    assert term(mk(created="2020-01-01", anonymous=True), "eu").protected_until == D(2090, 12, 31)


def test_three_tiers_uk_bill_and_parameter() -> None:
    w = mk(created="2024-03-01", authors=[{"name": "Ada", "birth_year": 1980}])
    human = term(w, "uk-bill", "human")
    assert human.status == "protected" and human.protected_until is None  # author alive
    assisted = term(w, "uk-bill", "ai-assisted")
    assert assisted.protected_until == D(2049, 12, 31)  # default 25 years
    assert assisted.rule_id == "uk-bill-tier2"
    shorter = term(w, "uk-bill", "ai-assisted", params={"ai_assisted_years": 10})
    assert shorter.protected_until == D(2034, 12, 31)
    assert shorter.params == {"ai_assisted_years": 10}
    generated = term(w, "uk-bill", "ai-generated")
    assert generated.status == "public domain"
    assert generated.public_domain_from == D(2024, 3, 1) and generated.protected_until is None
    with pytest.raises(ModelkinError, match="no such parameter"):
        term(w, "uk-bill", "ai-assisted", params={"years": 3})


def test_three_tiers_other_packs() -> None:
    w = mk(created="2024-03-01", authors=[{"name": "Ada", "death_year": 2025}])
    cdpa = {t: term(w, "uk-cdpa", t) for t in ("human", "ai-assisted", "ai-generated")}
    assert cdpa["human"].protected_until == D(2095, 12, 31)
    assert cdpa["ai-assisted"].protected_until == D(2095, 12, 31)  # human author, s.9(1)
    assert cdpa["ai-generated"].protected_until == D(2074, 12, 31)  # s.12(7)
    us = {t: term(w, "us", t) for t in ("human", "ai-assisted", "ai-generated")}
    assert us["human"].status == "protected"
    assert us["ai-assisted"].status == "partially protected"
    assert any("human contribution" in n for n in us["ai-assisted"].notes)
    assert us["ai-generated"].status == "public domain"
    eu = {t: term(w, "eu", t) for t in ("human", "ai-assisted", "ai-generated")}
    assert eu["ai-assisted"].status == "partially protected"
    assert eu["ai-generated"].status == "public domain"
    assert "Infopaq" in eu["ai-generated"].citation


def test_bad_pack_files(tmp_path: Path) -> None:
    with pytest.raises(ModelkinError, match="not valid TOML"):
        parse_pack("[pack", "x.toml")
    with pytest.raises(ModelkinError, match="names no parameter"):
        parse_pack(
            '[pack]\nid="x"\ntitle="x"\njurisdiction="X"\n[[rules]]\nid="r"\ncitation="c"\n'
            'protection="full"\nterms=[{base="creation", years="$nope"}]\n',
            "x.toml",
        )
    with pytest.raises(ModelkinError, match="no such rule pack"):
        load_pack(str(tmp_path / "missing.toml"))
    custom = tmp_path / "ten.toml"
    custom.write_text(
        '[pack]\nid="ten"\ntitle="Ten"\njurisdiction="X"\n[[rules]]\nid="r"\ncitation="c"\n'
        'protection="full"\nterms=[{base="creation", years=10}]\n'
    )
    r = compute_term(mk(created="2001-01-01"), "human", load_pack(str(custom)), AS_OF)
    assert r.protected_until == D(2011, 12, 31)


def test_us_302e_presumption_for_unknown_death() -> None:
    # 302(e): 95 years from publication or 120 from creation, whichever expires first.
    w = mk(created="1980-01-01", published="1985-01-01", authors=[{"name": "Unrecorded"}])
    r = term(w, "us")
    assert r.protected_until is None
    assert any(n.startswith("17 U.S.C. 302(e): from 2081-01-01") for n in r.notes)
    assert not any("302(e)" in n for n in term(w, "uk-cdpa").notes)
