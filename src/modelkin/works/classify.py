"""Three-tier classification: human-authored, AI-assisted, AI-generated (fully autonomous).

The tier follows from the creator's disclosure by the thresholds in
``rules/classification.toml``; every step that decided it is written into ``reasons``.
When the disclosure disagrees with itself or with a C2PA manifest (e.g. "no AI" but the
manifest says trainedAlgorithmicMedia; share 0 but a system "generated" content), the
disagreement goes into ``contradictions``: it is never resolved silently, and the tier
stays the one the declaration implies so the reader can see both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelkin.works.iptc import (
    classification_rules,
    short_term,
    term_for_tier,
    term_uri,
    tier_for_term,
)
from modelkin.works.record import Disclosure, Work

_RANK = {"human": 0, "ai-assisted": 1, "ai-generated": 2}


@dataclass(frozen=True)
class Classification:
    """The tier, why, and what disagrees."""

    tier: str
    digital_source_type: str
    reasons: list[str]
    contradictions: list[str] = field(default_factory=list)
    manifest_tier: str | None = None

    @property
    def digital_source_type_uri(self) -> str:
        return term_uri(self.digital_source_type)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "digital_source_type": self.digital_source_type,
            "digital_source_type_uri": self.digital_source_type_uri,
            "reasons": self.reasons,
            "contradictions": self.contradictions,
            "manifest_tier": self.manifest_tier,
        }


def _disclosure_tier(d: Disclosure, work: Work | None) -> tuple[str, list[str], list[str]]:
    """Tier from a disclosure's systems and share: (tier, reasons, contradictions)."""
    rules = classification_rules()
    reasons: list[str] = []
    flags: list[str] = []
    active = d.active_systems
    generators = [s for s in active if s.role == "generated"]
    share = d.ai_share
    if share is not None and share >= rules.generated_min_share:
        tier = "ai-generated"
        reasons.append(
            f"AI-generated share {share:.0%} >= threshold {rules.generated_min_share:.0%}"
        )
    elif active or (share is not None and share > rules.assisted_min_share):
        tier = "ai-assisted"
        if active:
            used = ", ".join(f"{s.name} ({s.role})" for s in active)
            reasons.append(f"AI systems used: {used}")
        if share is not None and share <= rules.assisted_min_share:
            reasons.append(f"AI-generated share stated as {share:.0%}")
        elif share is not None:
            reasons.append(
                f"AI-generated share {share:.0%} is above {rules.assisted_min_share:.0%} and "
                f"below the AI-generated threshold {rules.generated_min_share:.0%}"
            )
        elif generators:
            reasons.append("a system generated content and no AI share was stated")
    else:
        tier = "human"
        reasons.append("no AI system did anything and no AI-generated share was stated")

    # Self-contradictions of the declaration.
    if share == 0.0 and generators:
        flags.append(
            f"ai_share is 0 but {', '.join(s.name for s in generators)} has role 'generated'"
        )
    if share is not None and share > 0 and not active:
        flags.append(f"ai_share is {share:.0%} but no AI system is listed with a role")
    if share is not None and share >= rules.generated_min_share and not generators:
        flags.append(
            "the work is declared entirely AI-generated but no system has role 'generated'"
        )
    if tier == "ai-generated" and d.human_contribution:
        flags.append(
            "the work is declared entirely AI-generated but a human contribution is described"
        )
    if work is not None and tier != "ai-generated" and work.authors and not work.human_authors:
        flags.append("no author is human, yet the disclosure implies human authorship")
    if d.digital_source_type:
        declared = short_term(d.digital_source_type)
        implied = tier_for_term(declared)
        if implied is None:
            flags.append(f"declared digital source type {declared!r} is not a known IPTC term")
        elif implied != tier:
            flags.append(
                f"declared digital source type {declared} means {implied}, "
                f"but the disclosure's systems and share mean {tier}"
            )
    return tier, reasons, flags


def manifest_tier(terms: list[str]) -> str | None:
    """The most AI-heavy tier among a manifest's digitalSourceType terms (None if none known)."""
    tiers = [t for t in (tier_for_term(x) for x in terms) if t is not None]
    return max(tiers, key=lambda t: _RANK[t]) if tiers else None


def classify(
    work: Work, manifest: Disclosure | None = None, manifest_terms: list[str] | None = None
) -> Classification:
    """Classify ``work``; ``manifest``/``manifest_terms`` come from its C2PA manifest, if any.

    A work with no AI-use disclosure at all but a manifest is classified from the manifest."""
    d = work.disclosure
    declared_nothing = not d.systems and d.ai_share is None and not d.digital_source_type
    if declared_nothing and manifest is not None:
        tier, reasons, flags = _disclosure_tier(manifest, work)
        reasons.insert(0, "no AI use was declared; the disclosure was read from the C2PA manifest")
    else:
        tier, reasons, flags = _disclosure_tier(d, work)
    m_tier = manifest_tier(manifest_terms or [])
    if m_tier is not None and m_tier != tier:
        flags.append(
            f"the C2PA manifest says {m_tier} ({', '.join(manifest_terms or [])}), "
            f"the declaration says {tier}"
        )
    elif m_tier is not None:
        reasons.append(f"the C2PA manifest agrees ({', '.join(manifest_terms or [])})")
    term = term_for_tier(tier)
    if d.digital_source_type and tier_for_term(d.digital_source_type) == tier:
        term = short_term(d.digital_source_type)  # keep the creator's more precise term
    return Classification(tier, term, reasons, flags, m_tier)
