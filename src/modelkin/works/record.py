"""The work record: what a creator registers about one work, and its JSON form.

The JSON form is exactly the predicate of a ``https://modelkin.org/predicate/work/v1``
statement (schema: ``modelkin/statements/schemas/work-v1.schema.json``). Parsing validates
the facts the schema cannot: dates that cannot be true (created in the future, an author
who died before being born, published before created, a human author who died before the
work was made unless it is marked posthumous) and AI shares outside 0..1. Each problem is
a :class:`ModelkinError` naming the field, so a creator can fix the input.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from modelkin.errors import ModelkinError

WORK_KINDS = ("text", "image", "audio", "video", "code", "other")
#: What an AI system did in making the work (C2PA-style verbs, coarse on purpose).
AI_ROLES = ("generated", "edited", "assisted", "none")
#: What a person did in making the work, strongest first. The law asks different questions of
#: each: ``author`` wrote/drew/composed the expression; ``modification`` creatively modified
#: AI output; ``selection-arrangement`` selected and arranged material (AI output included)
#: into a whole; ``selection`` chose among generated outputs (iterating on them);
#: ``prompt`` wrote prompts or set parameters; ``arrangements`` made the arrangements
#: necessary for the work's creation (operated or commissioned the system, CDPA s.9(3)).
HUMAN_ROLES = (
    "author",
    "modification",
    "selection-arrangement",
    "selection",
    "prompt",
    "arrangements",
)
#: Other ways people write those roles; normalisation maps them and says so.
ROLE_ALIASES = {
    "writer": "author", "artist": "author", "creator": "author", "composer": "author",
    "wrote": "author", "drew": "author", "authored": "author",
    "editor": "modification", "edited": "modification", "modified": "modification",
    "edit": "modification", "modifications": "modification", "retouching": "modification",
    "arranger": "selection-arrangement", "compiler": "selection-arrangement",
    "compilation": "selection-arrangement", "selection and arrangement": "selection-arrangement",
    "curator": "selection", "curated": "selection", "selected": "selection",
    "curation": "selection", "chose": "selection",
    "prompter": "prompt", "prompted": "prompt", "prompting": "prompt", "prompts": "prompt",
    "prompt engineer": "prompt", "parameters": "prompt",
    "operator": "arrangements", "commissioner": "arrangements", "producer": "arrangements",
}  # fmt: skip
#: Where an AI-use disclosure came from: the creator, a C2PA manifest, or nobody said anything.
DISCLOSURE_SOURCES = ("declared", "c2pa", "none")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Author:
    """One author; ``human=False`` marks an AI system or organisation named as author."""

    name: str
    human: bool = True
    birth_year: int | None = None
    death_year: int | None = None
    #: the roles as the creator wrote them (canonical or an alias); empty = not stated
    roles: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "human": self.human,
            "birth_year": self.birth_year,
            "death_year": self.death_year,
        }
        if self.roles:
            out["roles"] = list(self.roles)
        return out


@dataclass(frozen=True)
class AISystem:
    """An AI system used in making the work and what it did.

    ``model`` is a registered model record id or sha256 where the system is registered;
    systems outside the registry are named only."""

    name: str
    role: str
    version: str | None = None
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "version": self.version, "model": self.model}


@dataclass(frozen=True)
class Disclosure:
    """The creator's AI-use disclosure.

    ``ai_share`` is the AI-generated fraction of the work (0..1), ``None`` when not stated;
    ``digital_source_type`` is an IPTC DigitalSourceType term the creator declared, if any.
    ``source`` says where it came from: ``declared``, ``c2pa`` (read from a manifest: only what
    the manifest says, never what modelkin inferred from it) or ``none`` (no disclosure made).
    ``c2pa`` is the manifest evidence kept with a registered work: validation state, trust,
    signer, failure codes and the actions' digital source types."""

    systems: tuple[AISystem, ...] = ()
    ai_share: float | None = None
    human_contribution: str | None = None
    digital_source_type: str | None = None
    source: str = "declared"
    c2pa: dict[str, Any] | None = None

    @property
    def stated(self) -> bool:
        """Whether anyone made a disclosure at all (``source`` other than ``none``)."""
        return self.source != "none"

    @property
    def active_systems(self) -> tuple[AISystem, ...]:
        """Systems that did something (role other than ``none``)."""
        return tuple(s for s in self.systems if s.role != "none")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "systems": [s.to_dict() for s in self.systems],
            "ai_share": self.ai_share,
            "human_contribution": self.human_contribution,
            "digital_source_type": self.digital_source_type,
            "source": self.source,
        }
        if self.c2pa is not None:
            out["c2pa"] = self.c2pa
        return out


@dataclass(frozen=True)
class Work:
    """A registered work. ``published`` is the first date it was made available to the public.

    ``anonymous`` covers unknown and pseudonymous authorship (CDPA s.12(3), 17 USC 302(c),
    Directive 2006/116/EC art. 1(3)); ``made_for_hire`` is the US work-made-for-hire case;
    ``posthumous`` allows a human author to have died before the work was completed."""

    title: str
    kind: str
    created: dt.date
    authors: tuple[Author, ...] = ()
    disclosure: Disclosure = field(default_factory=Disclosure)
    sha256: str | None = None
    published: dt.date | None = None
    anonymous: bool = False
    made_for_hire: bool = False
    posthumous: bool = False

    @property
    def human_authors(self) -> tuple[Author, ...]:
        return tuple(a for a in self.authors if a.human)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the work/v1 predicate)."""
        return {
            "title": self.title,
            "kind": self.kind,
            "created": self.created.isoformat(),
            "published": self.published.isoformat() if self.published else None,
            "authors": [a.to_dict() for a in self.authors],
            "anonymous": self.anonymous,
            "made_for_hire": self.made_for_hire,
            "posthumous": self.posthumous,
            "sha256": self.sha256,
            "ai_use": self.disclosure.to_dict(),
        }


def _str(d: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
    v = d.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v.strip():
        raise ModelkinError(where, f"field {key!r} must be a non-empty string")
    return v.strip()


def _bool(d: dict[str, Any], key: str, where: str) -> bool:
    v = d.get(key, False)
    if not isinstance(v, bool):
        raise ModelkinError(where, f"field {key!r} must be true or false")
    return v


def _year(d: dict[str, Any], key: str, where: str) -> int | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 9999:
        raise ModelkinError(where, f"field {key!r} must be a year (integer), got {v!r}")
    return v


def parse_date(value: object, field_name: str, where: str) -> dt.date:
    """An ISO 8601 calendar date (``YYYY-MM-DD``), or a clear error naming the field."""
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ModelkinError(where, f"field {field_name!r} must be a date YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ModelkinError(
            where, f"field {field_name!r}: {value!r} is not a date YYYY-MM-DD"
        ) from exc


def parse_share(value: object, where: str) -> float | None:
    """The AI-generated share: a number in 0..1 or a percentage string such as ``"40%"``."""
    if value is None:
        return None
    if isinstance(value, str):
        m = _PERCENT.match(value)
        if not m:
            raise ModelkinError(
                where, f"ai_use.ai_share {value!r}: give 0..1 or a percentage '40%'"
            )
        share = float(m.group(1)) / 100.0
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelkinError(where, "ai_use.ai_share must be a number 0..1 or a percentage")
    else:
        share = float(value)
    if not 0.0 <= share <= 1.0:
        raise ModelkinError(where, f"ai_use.ai_share {value!r} is out of range (0..1 or 0%..100%)")
    return share


def _system(d: object, i: int, where: str) -> AISystem:
    if not isinstance(d, dict):
        raise ModelkinError(where, f"ai_use.systems[{i}] must be an object")
    w = f"{where}: ai_use.systems[{i}]"
    role = d.get("role")
    if role not in AI_ROLES:
        raise ModelkinError(w, f"role must be one of {', '.join(AI_ROLES)}, got {role!r}")
    model = _str(d, "model", w, required=False)
    return AISystem(
        name=str(_str(d, "name", w)),
        role=role,
        version=_str(d, "version", w, required=False),
        model=model.lower() if model and _SHA256.match(model.lower()) else model,
    )


def disclosure_from_dict(d: object, where: str) -> Disclosure:
    """Parse the ``ai_use`` object."""
    if d is None:
        return Disclosure(source="none")
    if not isinstance(d, dict):
        raise ModelkinError(where, "field 'ai_use' must be an object")
    systems = d.get("systems", [])
    if not isinstance(systems, list):
        raise ModelkinError(where, "ai_use.systems must be a list")
    source = d.get("source", "declared")
    if source not in DISCLOSURE_SOURCES:
        raise ModelkinError(
            where, f"ai_use.source must be one of {', '.join(DISCLOSURE_SOURCES)}, got {source!r}"
        )
    c2pa = d.get("c2pa")
    if c2pa is not None and not isinstance(c2pa, dict):
        raise ModelkinError(where, "ai_use.c2pa must be an object")
    return Disclosure(
        systems=tuple(_system(s, i, where) for i, s in enumerate(systems)),
        ai_share=parse_share(d.get("ai_share"), where),
        human_contribution=_str(d, "human_contribution", f"{where}: ai_use", required=False),
        digital_source_type=_str(d, "digital_source_type", f"{where}: ai_use", required=False),
        source=source,
        c2pa=c2pa,
    )


def _author(d: object, i: int, where: str) -> Author:
    if not isinstance(d, dict):
        raise ModelkinError(where, f"authors[{i}] must be an object")
    w = f"{where}: authors[{i}]"
    human = d.get("human", True)
    if not isinstance(human, bool):
        raise ModelkinError(w, "field 'human' must be true or false")
    return Author(
        name=str(_str(d, "name", w)),
        human=human,
        birth_year=_year(d, "birth_year", w),
        death_year=_year(d, "death_year", w),
        roles=_roles(d, w),
    )


def canonical_role(role: str) -> str | None:
    """The canonical human role for a role as written (case and spacing ignored), or None."""
    key = " ".join(role.strip().lower().replace("_", " ").split())
    if key.replace(" ", "-") in HUMAN_ROLES:
        return key.replace(" ", "-")
    return ROLE_ALIASES.get(key)


def _roles(d: dict[str, Any], w: str) -> tuple[str, ...]:
    """``role`` (one string) and/or ``roles`` (a list): each must name a known contribution."""
    raw: list[object] = []
    if "role" in d and d["role"] is not None:
        raw.append(d["role"])
    many = d.get("roles")
    if many is not None:
        if not isinstance(many, list):
            raise ModelkinError(w, "field 'roles' must be a list of strings")
        raw.extend(many)
    out: list[str] = []
    for r in raw:
        if not isinstance(r, str) or not r.strip() or len(r) > 60:
            raise ModelkinError(w, f"role {r!r} must be a short non-empty string")
        if canonical_role(r) is None:
            raise ModelkinError(
                w, f"unknown role {r!r} (known: {', '.join(HUMAN_ROLES)}, or an alias of one)"
            )
        if r.strip() not in out:
            out.append(r.strip())
    return tuple(out)


def work_from_dict(d: object, where: str, today: dt.date | None = None) -> Work:
    """Parse and validate a work's JSON form; ``today`` bounds "in the future" checks."""
    if not isinstance(d, dict):
        raise ModelkinError(where, "a work must be a JSON object")
    kind = d.get("kind")
    if kind not in WORK_KINDS:
        raise ModelkinError(where, f"field 'kind' must be one of {', '.join(WORK_KINDS)}")
    authors = d.get("authors", [])
    if not isinstance(authors, list):
        raise ModelkinError(where, "field 'authors' must be a list")
    sha = d.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _SHA256.match(sha)):
        raise ModelkinError(where, "field 'sha256' must be 64 lowercase hex digits")
    published = d.get("published")
    work = Work(
        title=str(_str(d, "title", where)),
        kind=kind,
        created=parse_date(d.get("created"), "created", where),
        authors=tuple(_author(a, i, where) for i, a in enumerate(authors)),
        disclosure=disclosure_from_dict(d.get("ai_use"), where),
        sha256=sha,
        published=parse_date(published, "published", where) if published is not None else None,
        anonymous=_bool(d, "anonymous", where),
        made_for_hire=_bool(d, "made_for_hire", where),
        posthumous=_bool(d, "posthumous", where),
    )
    check_dates(work, where, today or dt.date.today())
    return work


def check_dates(work: Work, where: str, today: dt.date) -> None:
    """Reject dates that cannot all be true; each error names the offending field."""
    if work.created > today:
        raise ModelkinError(where, f"created {work.created} is in the future (today {today})")
    if work.published is not None:
        if work.published < work.created:
            raise ModelkinError(
                where, f"published {work.published} is before created {work.created}"
            )
        if work.published > today:
            raise ModelkinError(where, f"published {work.published} is in the future")
    for i, a in enumerate(work.authors):
        w = f"{where}: authors[{i}] ({a.name})"
        if a.death_year is not None and a.death_year > today.year:
            raise ModelkinError(w, f"death_year {a.death_year} is in the future")
        if a.birth_year is not None and a.birth_year > work.created.year:
            raise ModelkinError(
                w, f"birth_year {a.birth_year} is after the work was created ({work.created})"
            )
        if a.birth_year is not None and a.death_year is not None and a.death_year < a.birth_year:
            raise ModelkinError(w, f"death_year {a.death_year} is before birth_year {a.birth_year}")
        if (
            a.human
            and a.death_year is not None
            and a.death_year < work.created.year
            and not work.posthumous
        ):
            raise ModelkinError(
                w,
                f"death_year {a.death_year} is before the work was created ({work.created}); "
                "set posthumous: true if the work was completed after the author's death",
            )
