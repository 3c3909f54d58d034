"""Work records: JSON round trip and impossible input rejected with the field named."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jsonschema
import pytest

from modelkin.errors import ModelkinError
from modelkin.statements import get_kind
from modelkin.works import work_from_dict

TODAY = dt.date(2026, 6, 1)


def base(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "title": "Harbour at dusk",
        "kind": "image",
        "created": "2024-05-01",
        "published": "2024-06-01",
        "authors": [{"name": "Ada", "birth_year": 1980}],
        "sha256": "ab" * 32,
        "ai_use": {
            "systems": [{"name": "Painter", "role": "edited", "version": "2"}],
            "ai_share": "30%",
            "human_contribution": "composition and colour",
        },
    }
    d.update(over)
    return d


def test_round_trip_and_schema() -> None:
    w = work_from_dict(base(), "w.json", TODAY)
    assert w.disclosure.ai_share == pytest.approx(0.3)
    assert w.authors[0].human
    again = work_from_dict(w.to_dict(), "again", TODAY)
    assert again == w
    get_kind("work").validate(w.to_dict(), "w.json")  # the registry's schema accepts it


def test_schema_rejects_extra_fields() -> None:
    d = work_from_dict(base(), "w", TODAY).to_dict()
    d["surprise"] = 1
    with pytest.raises(ModelkinError, match="surprise"):
        get_kind("work").validate(d, "w")
    assert jsonschema  # schema validated by the registry's validator above


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"created": "2027-01-01"}, "created"),
        ({"published": "2024-04-30"}, "published"),
        ({"published": "2026-07-01"}, "published"),
        ({"authors": [{"name": "Ada", "birth_year": 1990, "death_year": 1950}]}, "death_year"),
        ({"authors": [{"name": "Ada", "death_year": 2001}]}, "posthumous"),
        ({"authors": [{"name": "Ada", "birth_year": 2025}]}, "birth_year"),
        ({"authors": [{"name": "Ada", "death_year": 2030}]}, "death_year"),
        ({"ai_use": {"systems": [], "ai_share": 1.5}}, "ai_share"),
        ({"ai_use": {"systems": [], "ai_share": "140%"}}, "ai_share"),
        ({"ai_use": {"systems": [], "ai_share": -0.1}}, "ai_share"),
        ({"ai_use": {"systems": [{"name": "X", "role": "dreamt"}]}}, "role"),
        ({"kind": "sculpture"}, "kind"),
        ({"created": "2024-13-01"}, "created"),
        ({"title": ""}, "title"),
        ({"sha256": "xyz"}, "sha256"),
    ],
)
def test_impossible_input_names_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(ModelkinError, match=field):
        work_from_dict(base(**over), "w.json", TODAY)


def test_posthumous_work_allows_death_before_creation() -> None:
    w = work_from_dict(
        base(authors=[{"name": "Ada", "death_year": 2001}], posthumous=True), "w", TODAY
    )
    assert w.posthumous
    # a non-human author's "death" is irrelevant to authorship
    work_from_dict(base(authors=[{"name": "Bot", "human": False}]), "w", TODAY)
