"""One description of how a work was made, from every way its facts can be written.

People describe the same work in many ways: authors with or without roles (``prompt``,
``selection``, ``modification`` ...), an author marked ``human: false``, AI systems with
roles, an AI share or none, an IPTC digital source type, or only a C2PA manifest. The law
needs one set of facts: who (if any human) contributed what, whether AI generated material,
and therefore the tier. :func:`normalise` derives exactly that and records

* every **inference** it made (a default role, a share it assumed, a term it read), with the
  source it came from and why, so the output shows its working; and
* every **conflict** between sources (the declaration against itself, against the declared
  IPTC term, or against a C2PA manifest). Conflicts are never resolved silently: the tier
  stays the one the creator's own declaration implies, both sides are shown, and the CLI
  exits with a distinct code.

Nothing inferred here is ever written back into a record: a registered work keeps what was
declared (or what its manifest said), and the inferences are recomputed when it is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from modelkin.works.iptc import classification_rules, short_term, term_for_tier, tier_for_term
from modelkin.works.record import Disclosure, Work, canonical_role

#: Human contributions from weakest to strongest (see ``record.HUMAN_ROLES``).
CONTRIBUTION_ORDER = (
    "none",
    "arrangements",
    "prompt",
    "selection",
    "selection-arrangement",
    "modification",
    "author",
)
#: Contributions that every shipped jurisdiction treats as human creative expression in the
#: work as it stands (packs decide the weaker ones: prompts, selection, arrangements).
CREATIVE = frozenset({"author", "modification", "selection-arrangement"})
_RANK = {"human": 0, "ai-assisted": 1, "ai-generated": 2}

CITE_S178 = "CDPA 1988 s.178 ('computer-generated': no human author); 17 U.S.C. 102(a)"
CITE_S9_3 = "CDPA 1988 s.9(3) (the person by whom the arrangements necessary are undertaken)"
CITE_S9_1 = "CDPA 1988 s.9(1) (the author is the person who creates the work)"
CITE_IPTC = "IPTC NewsCodes digitalsourcetype (2024-10)"
CITE_PROMPT = "USCO, Copyright and AI Part 2: Copyrightability (2025), prompts"


@dataclass(frozen=True)
class Inference:
    """One thing modelkin concluded that nobody stated, and why."""

    fact: str
    value: str
    source: str
    reason: str
    citation: str = ""

    def text(self) -> str:
        cite = f" [{self.citation}]" if self.citation else ""
        return f"{self.fact} = {self.value} (from {self.source}): {self.reason}{cite}"

    def to_dict(self) -> dict[str, str]:
        return {
            "fact": self.fact,
            "value": self.value,
            "source": self.source,
            "reason": self.reason,
            "citation": self.citation,
        }


@dataclass(frozen=True)
class Conflict:
    """Two sources (or two parts of one) that cannot both be true."""

    fact: str
    claims: tuple[tuple[str, str], ...]
    detail: str

    def text(self) -> str:
        return self.detail

    def to_dict(self) -> dict[str, Any]:
        return {
            "fact": self.fact,
            "claims": [{"source": s, "says": v} for s, v in self.claims],
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Person:
    """A human who took part, with canonical roles and whether they were stated or inferred."""

    name: str
    roles: tuple[str, ...]
    inferred: bool

    @property
    def strongest(self) -> str:
        return max(self.roles, key=CONTRIBUTION_ORDER.index)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "roles": list(self.roles), "inferred": self.inferred}


@dataclass(frozen=True)
class Facts:
    """The one internal description of how a work was made."""

    tier: str
    contribution: str
    people: tuple[Person, ...]
    generators: tuple[str, ...]
    tools: tuple[str, ...]
    ai_share: float | None
    ai_share_inferred: bool
    digital_source_type: str
    disclosure_source: str
    manifest_tier: str | None = None
    manifest_trust: str | None = None
    inferences: tuple[Inference, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    reasons: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "contribution": self.contribution,
            "people": [p.to_dict() for p in self.people],
            "generators": list(self.generators),
            "tools": list(self.tools),
            "ai_share": self.ai_share,
            "ai_share_inferred": self.ai_share_inferred,
            "digital_source_type": self.digital_source_type,
            "disclosure_source": self.disclosure_source,
            "manifest_tier": self.manifest_tier,
            "manifest_trust": self.manifest_trust,
            "inferences": [i.to_dict() for i in self.inferences],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "reasons": list(self.reasons),
        }


def manifest_tier(terms: list[str]) -> str | None:
    """The most AI-heavy tier among a manifest's digitalSourceType terms (None if none known)."""
    tiers = [t for t in (tier_for_term(x) for x in terms) if t is not None]
    return max(tiers, key=lambda t: _RANK[t]) if tiers else None


class _Work:
    """Accumulates inferences, conflicts and reasons while one work is normalised."""

    def __init__(self) -> None:
        self.inferences: list[Inference] = []
        self.conflicts: list[Conflict] = []
        self.reasons: list[str] = []

    def infer(self, fact: str, value: str, source: str, reason: str, citation: str = "") -> None:
        self.inferences.append(Inference(fact, value, source, reason, citation))

    def conflict(self, fact: str, detail: str, *claims: tuple[str, str]) -> None:
        self.conflicts.append(Conflict(fact, tuple(claims), detail))


def _term(d: Disclosure, label: str, acc: _Work) -> tuple[str | None, str | None]:
    """(short term, tier) of a disclosure's IPTC term; an unknown term is flagged."""
    if not d.digital_source_type:
        return None, None
    term = short_term(d.digital_source_type, f"{label}: digital_source_type")
    tier = tier_for_term(term)
    if tier is None:
        acc.conflict(
            "digital_source_type",
            f"declared digital source type {term!r} is not a known IPTC term: it cannot be read, "
            "so it was not used",
            (label, term),
        )
    return term, tier


def _people(work: Work, wholly_generated: str | None, acc: _Work) -> list[Person]:
    """Human authors with canonical roles; a missing role is inferred and the inference shown."""
    people = []
    for i, a in enumerate(work.human_authors):
        src = f"authors[{i}] ({a.name})"
        if a.roles:
            roles = []
            for r in a.roles:
                canon = canonical_role(r) or "author"
                if canon != r.strip().lower():
                    acc.infer("role", canon, src, f"role {r!r} is read as {canon!r}")
                roles.append(canon)
            people.append(Person(a.name, tuple(dict.fromkeys(roles)), False))
        elif wholly_generated:
            acc.infer(
                "role",
                "arrangements",
                src,
                f"no role given and {wholly_generated}: {a.name} is taken as the person who made "
                "the arrangements for the work's creation, not as author of its expression",
                CITE_S9_3,
            )
            people.append(Person(a.name, ("arrangements",), True))
        else:
            acc.infer(
                "role",
                "author",
                src,
                f"no role given: {a.name} is taken as author of the expression",
                CITE_S9_1,
            )
            people.append(Person(a.name, ("author",), True))
    return people


def _generators(
    work: Work, d: Disclosure, term_tier: str | None, people: list[Person], acc: _Work
) -> tuple[list[str], list[str]]:
    """Who/what generated material (systems, non-human authors, implied systems) and tools."""
    gen = [s.name for s in d.active_systems if s.role == "generated"]
    tools = [s.name for s in d.active_systems if s.role in ("edited", "assisted")]
    for i, a in enumerate(work.authors):
        if not a.human:
            acc.infer(
                "generator",
                a.name,
                f"authors[{i}] ({a.name})",
                f"{a.name} is marked human: false; only a human can be an author, so what it "
                "contributed is machine-generated material",
                CITE_S178,
            )
            gen.append(a.name)
    if not gen and not tools and term_tier in ("ai-generated", "ai-assisted"):
        acc.infer(
            "generator",
            "an unnamed AI system",
            "ai_use.digital_source_type",
            "the declared IPTC term says a trained model generated material but no system is named",
            CITE_IPTC,
        )
        gen.append("an unnamed AI system")
    if not gen and not tools and d.ai_share is not None and d.ai_share > 0:
        acc.infer(
            "generator",
            "an unnamed AI system",
            "ai_use.ai_share",
            f"an AI-generated share of {d.ai_share:.0%} is stated but no system is named",
        )
        gen.append("an unnamed AI system")
    prompters = [p.name for p in people if p.strongest in ("prompt", "selection")]
    if not gen and not tools and prompters:
        acc.infer(
            "generator",
            "an unnamed AI system",
            ", ".join(f"{n} (role prompt/selection)" for n in prompters),
            "prompting and choosing among outputs presuppose a system that generated them",
        )
        gen.append("an unnamed AI system")
    return gen, tools


def _declared_tier(
    work: Work, d: Disclosure, label: str, acc: _Work
) -> tuple[str, str, list[Person], list[str], list[str], float | None, bool, str | None]:
    """Tier and facts implied by one disclosure (the declaration, or a manifest's)."""
    rules = classification_rules()
    term, term_tier = _term(d, label, acc)
    share = d.ai_share
    wholly = None
    if term_tier == "ai-generated":
        wholly = f"the work is declared {term} (wholly generated by a model)"
    elif share is not None and share >= rules.generated_min_share:
        wholly = f"the AI-generated share is stated as {share:.0%}"
    people = _people(work, wholly, acc)
    gen, tools = _generators(work, d, term_tier, people, acc)
    contribution = (
        max((p.strongest for p in people), key=CONTRIBUTION_ORDER.index) if people else "none"
    )
    unknown_author = not work.authors or work.anonymous
    creative = contribution in CREATIVE
    if not gen and not tools:
        tier = "human"
        acc.reasons.append("no AI system generated, edited or assisted, and no AI share is stated")
    elif share is not None and share >= rules.generated_min_share:
        tier = "ai-generated"
        acc.reasons.append(
            f"AI-generated share {share:.0%} >= threshold {rules.generated_min_share:.0%}"
        )
    elif not gen:
        tier = "ai-assisted"
        acc.reasons.append(f"AI used as a tool: {', '.join(tools)} (edited/assisted)")
    elif creative:
        tier = "ai-assisted"
        who = ", ".join(f"{p.name} ({p.strongest})" for p in people if p.strongest in CREATIVE)
        acc.reasons.append(f"AI generated material ({', '.join(gen)}) and {who} contributed to it")
    elif unknown_author and (
        (share is not None and share > rules.assisted_min_share) or term_tier == "ai-assisted"
    ):
        tier = "ai-assisted"
        acc.reasons.append(
            "AI generated part of the work and the rest is by an author whose identity is unknown"
        )
    else:
        tier = "ai-generated"
        if people:
            names = ", ".join(f"{p.name} ({p.strongest})" for p in people)
            acc.reasons.append(
                f"AI generated the material ({', '.join(gen)}); the human contribution "
                f"({names}) is not authorship of its expression"
            )
        else:
            acc.reasons.append(
                f"AI generated the material ({', '.join(gen)}) and no human contributor is named"
            )
    inferred_share = False
    if share is None and tier == "ai-generated":
        share, inferred_share = 1.0, True
        acc.infer(
            "ai_share",
            "100%",
            label,
            "AI generated the material and no human contributed to its expression "
            "(inferred, never stored)",
        )
    elif share is None and tier == "human":
        share, inferred_share = 0.0, True
        acc.infer("ai_share", "0%", label, "no AI use is disclosed (inferred, never stored)")
    # What the disclosure says about itself.
    generating = [s for s in d.active_systems if s.role == "generated"]
    if d.ai_share == 0.0 and generating:
        acc.conflict(
            "ai_share",
            f"ai_share is 0 but {', '.join(s.name for s in generating)} has role 'generated'",
            (f"{label}.ai_share", "0%"),
            (f"{label}.systems", "role generated"),
        )
    if (
        d.ai_share is not None
        and d.ai_share >= rules.generated_min_share
        and not generating
        and d.active_systems
    ):
        acc.conflict(
            "ai_share",
            "the work is declared entirely AI-generated but no system has role 'generated'",
            (f"{label}.ai_share", f"{d.ai_share:.0%}"),
            (f"{label}.systems", ", ".join(f"{s.name} ({s.role})" for s in d.active_systems)),
        )
    if tier == "ai-generated" and d.human_contribution and d.ai_share is not None:
        acc.conflict(
            "human_contribution",
            "the work is declared entirely AI-generated but a human contribution is described",
            (f"{label}.ai_share", f"{d.ai_share:.0%}"),
            (f"{label}.human_contribution", d.human_contribution[:200]),
        )
    stated_creative = [p for p in people if not p.inferred and p.strongest in CREATIVE]
    if tier == "ai-generated" and stated_creative:
        acc.conflict(
            "roles",
            "the work is declared wholly AI-generated but "
            + ", ".join(f"{p.name} is declared {p.strongest}" for p in stated_creative),
            (label, "AI-generated"),
            *((f"authors ({p.name})", p.strongest) for p in stated_creative),
        )
    if term_tier is not None and term_tier != tier and not stated_creative:
        acc.conflict(
            "digital_source_type",
            f"declared digital source type {term} means {term_tier}, "
            f"but the disclosure's people, systems and share mean {tier}",
            (f"{label}.digital_source_type", f"{term} ({term_tier})"),
            (f"{label} (systems, share, roles)", tier),
        )
    elif term_tier is not None and term_tier != tier:
        acc.conflict(
            "digital_source_type",
            f"declared digital source type {term} means {term_tier}, but "
            + ", ".join(f"{p.name} is declared {p.strongest}" for p in stated_creative),
            (f"{label}.digital_source_type", f"{term} ({term_tier})"),
            *((f"authors ({p.name})", p.strongest) for p in stated_creative),
        )
    keep = term if term_tier == tier else None
    return tier, contribution, people, gen, tools, share, inferred_share, keep


def normalise(
    work: Work,
    manifest: Disclosure | None = None,
    manifest_terms: list[str] | None = None,
    manifest_trust: str | None = None,
) -> Facts:
    """The one description of ``work``; ``manifest``/``manifest_terms`` come from its C2PA
    manifest (if one was read) and ``manifest_trust`` is ``trusted`` or ``unverified``."""
    acc = _Work()
    d = work.disclosure
    stored = d.c2pa or {}
    source = d.source
    if d.stated:
        label = "ai_use" if d.source == "declared" else "ai_use (from a C2PA manifest)"
        use = d
        if d.source == "c2pa":
            trust = "trusted" if stored.get("trusted") else "unverified"
            acc.infer(
                "disclosure",
                f"C2PA manifest ({trust})",
                "ai_use.source",
                "this disclosure was read from the work's C2PA manifest at registration"
                + ("" if stored.get("trusted") else "; its signer is not on a trust list"),
            )
    elif manifest is not None:
        label, use, source = "C2PA manifest", manifest, "c2pa"
        acc.infer(
            "disclosure",
            f"C2PA manifest ({manifest_trust or 'unverified'})",
            "C2PA manifest",
            "no AI use was declared; the disclosure was read from the C2PA manifest",
        )
        acc.reasons.append("no AI use was declared; the disclosure was read from the C2PA manifest")
    else:
        label, use = "ai_use", d
        acc.infer("disclosure", "none", "ai_use", "no AI-use disclosure was made at all")
    terms = list(manifest_terms or [])
    if d.c2pa is not None and not terms:
        terms = [str(t) for t in stored.get("digital_source_types", [])]
    m_tier = manifest_tier(terms)
    if (use is manifest or use.source == "c2pa") and not use.digital_source_type and m_tier:
        heaviest = next(t for t in terms if tier_for_term(t) == m_tier)
        acc.infer(
            "digital_source_type",
            heaviest,
            "C2PA manifest actions",
            "the manifest's actions carry this IPTC term (the most AI-heavy of "
            f"{', '.join(terms)}); it is read as the disclosure's term",
            CITE_IPTC,
        )
        use = replace(use, digital_source_type=heaviest)
    tier, contribution, people, gen, tools, share, inferred, keep = _declared_tier(
        work, use, label, acc
    )
    if terms and m_tier is None:
        acc.conflict(
            "manifest",
            f"the C2PA manifest's digital source types ({', '.join(terms)}) are not known IPTC terms",
            ("C2PA manifest", ", ".join(terms)),
        )
    if m_tier is not None and m_tier != tier:
        acc.conflict(
            "tier",
            f"the C2PA manifest says {m_tier} ({', '.join(terms)}), the declaration says {tier}",
            ("C2PA manifest", f"{m_tier} ({', '.join(terms)})"),
            (label, tier),
        )
    elif m_tier is not None:
        acc.reasons.append(f"the C2PA manifest agrees ({', '.join(terms)})")
    if manifest_trust == "unverified" and manifest is not None:
        acc.infer(
            "manifest trust",
            "unverified",
            "C2PA manifest",
            "the manifest is intact but its signer is not on the trust list: what it says is an "
            "unverified disclosure",
        )
    return Facts(
        tier=tier,
        contribution=contribution,
        people=tuple(people),
        generators=tuple(gen),
        tools=tuple(tools),
        ai_share=share,
        ai_share_inferred=inferred,
        digital_source_type=keep or term_for_tier(tier),
        disclosure_source=source,
        manifest_tier=m_tier,
        manifest_trust=manifest_trust
        if manifest is not None
        else ("trusted" if stored.get("trusted") else "unverified")
        if d.source == "c2pa"
        else None,
        inferences=tuple(acc.inferences),
        conflicts=tuple(acc.conflicts),
        reasons=tuple(acc.reasons),
    )
