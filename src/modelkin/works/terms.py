"""The term calculator: interprets a rule pack for one work on one date.

Pure: work + classification tier + pack (+ parameter overrides) + ``as_of`` in, a
:class:`TermResult` out. All shipped packs count terms from the end of the calendar year of
the base event (CDPA s.12, 17 U.S.C. 305, Directive 2006/116/EC art. 8), so a term of N years
from an event in year Y ends on 31 December Y+N and the work is free from 1 January Y+N+1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.works.record import Work
from modelkin.works.rulepacks import Rule, RulePack, TermSpec

_STATUS = {"full": "protected", "partial": "partially protected"}


@dataclass(frozen=True)
class TermResult:
    """Protection of one work under one pack on ``as_of``.

    ``protected_until`` is the last day protected and ``public_domain_from`` the first day
    free; both are ``None`` while they cannot be known (an author still alive or with an
    unknown death year)."""

    pack: str
    tier: str
    rule_id: str
    jurisdiction: str
    citation: str
    status: str  # protected | partially protected | public domain
    protected_until: dt.date | None
    public_domain_from: dt.date | None
    basis: str
    as_of: dt.date
    params: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pack": self.pack,
            "jurisdiction": self.jurisdiction,
            "tier": self.tier,
            "rule_id": self.rule_id,
            "citation": self.citation,
            "status": self.status,
            "protected_until": self.protected_until.isoformat() if self.protected_until else None,
            "public_domain_from": (
                self.public_domain_from.isoformat() if self.public_domain_from else None
            ),
            "basis": self.basis,
            "as_of": self.as_of.isoformat(),
            "params": self.params,
            "notes": self.notes,
        }


def author_state(work: Work) -> str:
    """``known`` (a named human author), ``unknown`` (anonymous, pseudonymous or unnamed) or
    ``none`` (only non-human authors named: no human author, CDPA s.178)."""
    if work.anonymous:
        return "unknown"
    if work.human_authors:
        return "known"
    return "none" if work.authors else "unknown"


def default_contribution(work: Work, tier: str) -> str:
    """The strongest human contribution when the caller has no normalised facts: a named
    human author of a human or AI-assisted work authored it; nobody is known otherwise."""
    if work.human_authors and tier != "ai-generated":
        return "author"
    return "none"


def _matches(rule: Rule, work: Work, tier: str, contribution: str) -> bool:
    if rule.tier is not None and tier not in rule.tier:
        return False
    if rule.author is not None and rule.author != author_state(work):
        return False
    if rule.contribution is not None and contribution not in rule.contribution:
        return False
    return rule.hire is None or rule.hire == work.made_for_hire


def _years(spec: TermSpec, params: dict[str, int]) -> int:
    if isinstance(spec.years, int):
        return spec.years
    return params[spec.years[1:]]


def _one_term(
    spec: TermSpec, work: Work, params: dict[str, int], notes: list[str]
) -> tuple[int, str] | str | None:
    """(last protected year, basis) | None (base absent) | "unknown" (base not yet known)."""
    years = _years(spec, params)
    if spec.base == "creation":
        y = work.created.year
        return y + years, f"{years} years from the end of {y}, the year the work was made"
    if spec.base == "publication":
        if work.published is None:
            return None
        y = work.published.year
        if spec.within_years is not None and y > work.created.year + spec.within_years:
            notes.append(
                f"first made available in {y}, after the {spec.within_years}-year period "
                "from making: publication does not restart the term"
            )
            return None
        return y + years, f"{years} years from the end of {y}, the year first made available"
    humans = work.human_authors
    if not humans:
        return None
    alive = [a.name for a in humans if a.death_year is None]
    if alive:
        notes.append(
            f"death year not known for {', '.join(alive)} (alive or unrecorded): the term ends "
            f"{years} years after the end of the year the last author dies"
        )
        return "unknown"
    last = max(humans, key=lambda a: a.death_year or 0)
    y = int(last.death_year or 0)
    who = "the last surviving author" if len(humans) > 1 else "the author"
    return y + years, f"{years} years from the end of {y}, when {who} ({last.name}) died"


def _presumption(rule: Rule, work: Work, params: dict[str, int], notes: list[str]) -> None:
    """Note when a statutory presumption about an unknown death date becomes available."""
    if rule.unknown_death is None:
        return
    citation, note, pick, specs = rule.unknown_death
    ends = [
        got
        for spec in specs
        if not isinstance(got := _one_term(spec, work, params, []), str) and got is not None
    ]
    if not ends:
        return
    year = ends[0][0] if pick == "priority" else min(ends)[0] if pick == "first" else max(ends)[0]
    notes.append(f"{citation}: from {year + 1}-01-01, {note}".rstrip(", "))


def _open_reason(spec: TermSpec, work: Work, params: dict[str, int]) -> str:
    """Why a death-based term cannot end yet, in words a reader can check."""
    years = _years(spec, params)
    alive = [a.name for a in work.human_authors if a.death_year is None]
    who = "the last surviving author" if len(work.human_authors) > 1 else "the author"
    return f"life of {who} + {years} years: death year unknown ({', '.join(alive)})"


def _pick(
    rule: Rule, work: Work, params: dict[str, int], notes: list[str]
) -> tuple[int, str] | str:
    """Apply the rule's alternatives; a reason (str) while the end cannot be known yet."""
    found: list[tuple[int, str]] = []
    for spec in rule.terms:
        got = _one_term(spec, work, params, notes)
        if got == "unknown":
            _presumption(rule, work, params, notes)
            return _open_reason(spec, work, params)
        if got is None:
            if spec.base == "publication" and work.published is None:
                notes.append("not yet published (made available): no publication-based term")
            continue
        assert not isinstance(got, str)
        if rule.pick == "priority":
            return got
        found.append(got)
    if not found:
        if work.published is None and all(s.base == "publication" for s in rule.terms):
            notes.append(
                "the term runs from first making available to the public, which has not happened "
                "yet: protected, end not yet known"
            )
            return "runs from first making available to the public: not yet made available"
        raise ModelkinError(work.title, f"rule {rule.id} has no term that applies to this work")
    if rule.pick == "first":
        end = min(found)
        if len(found) > 1:
            notes.append("whichever expires first: " + "; ".join(b for _, b in found))
        return end
    return max(found)


def compute_term(
    work: Work,
    tier: str,
    pack: RulePack,
    as_of: dt.date | None = None,
    params: dict[str, int] | None = None,
    contribution: str | None = None,
) -> TermResult:
    """Protection of ``work`` (classified ``tier``) under ``pack`` on ``as_of`` (default today).

    ``params`` overrides the pack's parameters (e.g. ``{"ai_assisted_years": 10}``);
    ``contribution`` is the strongest human contribution from the normalised facts
    (``Classification.contribution``), which rules about prompts and arrangements need.
    A date before the work was made is refused: nothing can be said of a work that does not
    exist yet."""
    day = as_of or dt.date.today()
    if day < work.created:
        raise ModelkinError(
            "--as-of", f"{day} is before the work was created ({work.created}): refused"
        )
    who = contribution or default_contribution(work, tier)
    merged = dict(pack.params)
    for k, v in (params or {}).items():
        if k not in pack.params:
            known = ", ".join(pack.params) or "none"
            raise ModelkinError(f"--param {k}", f"pack {pack.id} has no such parameter ({known})")
        if not 0 <= v <= 500:
            raise ModelkinError(f"--param {k}", f"{v} years is out of range 0..500")
        merged[k] = v
    rule = next((r for r in pack.rules if _matches(r, work, tier, who)), None)
    if rule is None:
        raise ModelkinError(pack.source, f"no rule of pack {pack.id} covers this work ({tier})")
    notes = [rule.note] if rule.note else []
    if pack.covers_from is not None and work.created < pack.covers_from:
        notes.append(
            f"the work was made before {pack.covers_from}, which this pack does not cover: "
            "transitional rules may give a different term"
        )
    base = TermResult(
        pack=pack.id,
        tier=tier,
        rule_id=rule.id,
        jurisdiction=pack.jurisdiction,
        citation=rule.citation,
        status="public domain",
        protected_until=None,
        public_domain_from=work.created,
        basis="no protection",
        as_of=day,
        params=merged,
        notes=notes,
    )
    if rule.protection == "none":
        return base
    picked = _pick(rule, work, merged, notes)
    status = _STATUS[rule.protection]
    if isinstance(picked, str):
        return replace(base, status=status, public_domain_from=None, basis=picked)
    year, basis = picked
    until = dt.date(year, 12, 31)
    free = dt.date(year + 1, 1, 1)
    return replace(
        base,
        status="public domain" if day >= free else status,
        protected_until=until,
        public_domain_from=free,
        basis=basis,
    )


def compare_terms(
    work: Work,
    classification: Any,
    as_of: dt.date | None = None,
    params: dict[str, int] | None = None,
    packs: list[str] | None = None,
) -> list[TermResult]:
    """One result per shipped jurisdiction pack (or ``packs``), for ``modelkin works compare``
    and the work's page. ``params`` apply to the packs that have them; others ignore them."""
    from modelkin.works.rulepacks import builtin_pack_ids, load_pack

    out = []
    for pid in packs or builtin_pack_ids():
        pack = load_pack(pid)
        mine = {k: v for k, v in (params or {}).items() if k in pack.params}
        out.append(
            compute_term(work, classification.tier, pack, as_of, mine, classification.contribution)
        )
    return out
