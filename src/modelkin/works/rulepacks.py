"""Loading and checking jurisdiction rule packs (TOML data files in ``rules/``).

A pack is data: metadata, parameters and an ordered list of rules (see the comment at the
top of ``rules/uk-cdpa.toml`` for the format). Loading validates the structure so that the
engine in :mod:`modelkin.works.terms` can trust it; a user-supplied pack with a mistake gets
a :class:`ModelkinError` naming the file and the rule.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.works.iptc import TIERS

BASES = ("death", "creation", "publication")
PROTECTIONS = ("full", "partial", "none")
AUTHOR_STATES = ("known", "unknown", "none")
PICKS = ("priority", "first", "last")
#: The strongest human contribution (see ``normalise.CONTRIBUTION_ORDER``).
CONTRIBUTIONS = (
    "none",
    "arrangements",
    "prompt",
    "selection",
    "selection-arrangement",
    "modification",
    "author",
)
MAX_PACK_BYTES = 1 << 20


@dataclass(frozen=True)
class TermSpec:
    """``years`` (int or ``$param``) from the end of the calendar year of ``base``."""

    base: str
    years: int | str
    within_years: int | None = None


@dataclass(frozen=True)
class Rule:
    """One rule: conditions, protection, term alternatives and how to pick among them."""

    id: str
    citation: str
    protection: str
    note: str
    terms: tuple[TermSpec, ...] = ()
    tier: tuple[str, ...] | None = None
    author: str | None = None
    hire: bool | None = None
    #: the strongest human contribution must be one of these (``none`` = no human took part)
    contribution: tuple[str, ...] | None = None
    pick: str = "priority"
    #: a statutory presumption for authors whose death is not known (e.g. 17 USC 302(e)):
    #: (citation, note, pick, terms); it only adds a dated note, never shortens the term
    unknown_death: tuple[str, str, str, tuple[TermSpec, ...]] | None = None


@dataclass(frozen=True)
class RulePack:
    """A jurisdiction's rules plus default parameters."""

    id: str
    title: str
    jurisdiction: str
    summary: str
    rules: tuple[Rule, ...]
    params: dict[str, int] = field(default_factory=dict)
    source: str = ""
    #: works created before this date are outside the pack (e.g. US pre-1978 works, 17 USC 303-304)
    covers_from: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "jurisdiction": self.jurisdiction,
            "summary": self.summary,
            "params": self.params,
            "source": self.source,
            "covers_from": self.covers_from.isoformat() if self.covers_from else None,
            "rules": [
                {
                    "id": r.id,
                    "citation": r.citation,
                    "protection": r.protection,
                    "tier": list(r.tier) if r.tier else None,
                    "author": r.author,
                    "hire": r.hire,
                    "contribution": list(r.contribution) if r.contribution else None,
                    "pick": r.pick,
                    "terms": [
                        {"base": t.base, "years": t.years, "within_years": t.within_years}
                        for t in r.terms
                    ],
                    "note": r.note,
                    "unknown_death": (
                        {"citation": r.unknown_death[0], "note": r.unknown_death[1]}
                        if r.unknown_death
                        else None
                    ),
                }
                for r in self.rules
            ],
        }


def _req(d: dict[str, Any], key: str, typ: type, where: str) -> Any:
    v = d.get(key)
    if not isinstance(v, typ) or (isinstance(v, bool) and typ is not bool):
        raise ModelkinError(where, f"{key!r} must be a {typ.__name__}")
    return v


def _years(v: object, params: dict[str, int], where: str) -> int | str:
    if isinstance(v, str) and v.startswith("$"):
        if v[1:] not in params:
            raise ModelkinError(where, f"years {v!r} names no parameter of the pack")
        return v
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 500:
        raise ModelkinError(where, f"years must be 0..500 or '$param', got {v!r}")
    return v


def _terms(raw: object, params: dict[str, int], w: str) -> tuple[TermSpec, ...]:
    if not isinstance(raw, list):
        raise ModelkinError(w, "terms must be a list")
    terms = []
    for t in raw:
        if not isinstance(t, dict) or t.get("base") not in BASES:
            raise ModelkinError(w, f"each term needs base in {BASES}")
        within = t.get("within_years")
        if within is not None and (isinstance(within, bool) or not isinstance(within, int)):
            raise ModelkinError(w, "within_years must be an integer")
        terms.append(TermSpec(t["base"], _years(t.get("years"), params, w), within))
    return tuple(terms)


def _rule(d: object, i: int, params: dict[str, int], where: str) -> Rule:
    if not isinstance(d, dict):
        raise ModelkinError(where, f"rules[{i}] must be a table")
    w = f"{where}: rules[{i}]"
    rid = _req(d, "id", str, w)
    w = f"{where}: rule {rid}"
    prot = d.get("protection")
    if prot not in PROTECTIONS:
        raise ModelkinError(w, f"protection must be one of {PROTECTIONS}")
    tier = d.get("tier")
    if tier is not None and (not isinstance(tier, list) or not set(tier) <= set(TIERS)):
        raise ModelkinError(w, f"tier must be a list of {TIERS}")
    author = d.get("author")
    if author is not None and author not in AUTHOR_STATES:
        raise ModelkinError(w, f"author must be one of {AUTHOR_STATES}")
    hire = d.get("hire")
    if hire is not None and not isinstance(hire, bool):
        raise ModelkinError(w, "hire must be true or false")
    contribution = d.get("contribution")
    if contribution is not None and (
        not isinstance(contribution, list) or not set(contribution) <= set(CONTRIBUTIONS)
    ):
        raise ModelkinError(w, f"contribution must be a list of {CONTRIBUTIONS}")
    pick = d.get("pick", "priority")
    if pick not in PICKS:
        raise ModelkinError(w, f"pick must be one of {PICKS}")
    terms = _terms(d.get("terms", []), params, w)
    unknown_death = None
    ud = d.get("unknown_death")
    if ud is not None:
        if not isinstance(ud, dict):
            raise ModelkinError(w, "unknown_death must be a table")
        ud_pick = ud.get("pick", "first")
        if ud_pick not in PICKS:
            raise ModelkinError(w, f"unknown_death.pick must be one of {PICKS}")
        ud_terms = _terms(ud.get("terms", []), params, f"{w}: unknown_death")
        unknown_death = (
            _req(ud, "citation", str, f"{w}: unknown_death"),
            str(ud.get("note", "")),
            ud_pick,
            ud_terms,
        )
    if prot != "none" and not terms:
        raise ModelkinError(w, "a protecting rule needs at least one term")
    return Rule(
        id=rid,
        citation=_req(d, "citation", str, w),
        protection=prot,
        note=str(d.get("note", "")),
        terms=tuple(terms),
        tier=tuple(tier) if tier is not None else None,
        author=author,
        hire=hire,
        contribution=tuple(contribution) if contribution is not None else None,
        pick=pick,
        unknown_death=unknown_death,
    )


def parse_pack(text: str, where: str) -> RulePack:
    """Parse and check one pack's TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelkinError(where, f"not valid TOML: {exc}") from exc
    meta = data.get("pack")
    if not isinstance(meta, dict):
        raise ModelkinError(where, "missing [pack] table")
    params_raw = data.get("params", {})
    if not isinstance(params_raw, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in params_raw.values()
    ):
        raise ModelkinError(where, "[params] values must be integers")
    params = dict(params_raw)
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ModelkinError(where, "a pack needs at least one [[rules]] entry")
    return RulePack(
        id=_req(meta, "id", str, where),
        title=_req(meta, "title", str, where),
        jurisdiction=_req(meta, "jurisdiction", str, where),
        summary=str(meta.get("summary", "")).strip(),
        rules=tuple(_rule(r, i, params, where) for i, r in enumerate(rules)),
        params=params,
        source=where,
        covers_from=_covers_from(meta.get("covers_from"), where),
    )


def _covers_from(v: object, where: str) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.date):
        return v
    raise ModelkinError(where, "covers_from must be a TOML date (YYYY-MM-DD)")


def builtin_pack_ids() -> list[str]:
    """Ids of the packs shipped with modelkin."""
    root = resources.files("modelkin.works").joinpath("rules")
    return sorted(
        p.name[: -len(".toml")]
        for p in root.iterdir()
        if p.name.endswith(".toml") and p.name != "classification.toml"
    )


def load_pack(name_or_path: str) -> RulePack:
    """A shipped pack by id (see :func:`builtin_pack_ids`) or a pack file path."""
    if name_or_path in builtin_pack_ids():
        res = resources.files("modelkin.works").joinpath("rules").joinpath(f"{name_or_path}.toml")
        return parse_pack(res.read_text("utf-8"), f"rules/{name_or_path}.toml")
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin_pack_ids())
        raise ModelkinError(name_or_path, f"no such rule pack (shipped: {known}) or file")
    if path.stat().st_size > MAX_PACK_BYTES:
        raise ModelkinError(path, "rule pack larger than 1 MiB")
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelkinError(path, "rule pack is not UTF-8 text") from exc
    return parse_pack(text, str(path))
