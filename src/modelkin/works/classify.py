"""Three-tier classification: human-authored, AI-assisted, AI-generated (fully autonomous).

The tier comes from :func:`modelkin.works.normalise.normalise`, the one step that turns
every way of writing the facts into one description. A :class:`Classification` carries that
description: the tier, the strongest human contribution (which some jurisdictions' rules
need: a prompt alone is not authorship in the US), the reasons, every inference made (with
its source and citation) and every conflict between sources. Conflicts are never resolved
silently: the tier stays the one the creator's declaration implies, and both sides are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelkin.works.iptc import term_uri
from modelkin.works.normalise import Conflict, Facts, Inference, manifest_tier, normalise
from modelkin.works.record import Disclosure, Work

__all__ = ["Classification", "classify", "manifest_tier"]


@dataclass(frozen=True)
class Classification:
    """The tier, why, what was inferred and what disagrees."""

    tier: str
    digital_source_type: str
    reasons: list[str]
    contradictions: list[str] = field(default_factory=list)
    manifest_tier: str | None = None
    contribution: str = "none"
    facts: Facts | None = None

    @property
    def digital_source_type_uri(self) -> str:
        return term_uri(self.digital_source_type)

    @property
    def inferences(self) -> tuple[Inference, ...]:
        return self.facts.inferences if self.facts else ()

    @property
    def conflicts(self) -> tuple[Conflict, ...]:
        return self.facts.conflicts if self.facts else ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "digital_source_type": self.digital_source_type,
            "digital_source_type_uri": self.digital_source_type_uri,
            "contribution": self.contribution,
            "reasons": self.reasons,
            "contradictions": self.contradictions,
            "manifest_tier": self.manifest_tier,
            "inferences": [i.to_dict() for i in self.inferences],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "facts": self.facts.to_dict() if self.facts else None,
        }


def classify(
    work: Work,
    manifest: Disclosure | None = None,
    manifest_terms: list[str] | None = None,
    manifest_trust: str | None = None,
) -> Classification:
    """Classify ``work``; ``manifest``/``manifest_terms`` come from its C2PA manifest, if any.

    A work with no AI-use disclosure at all but a manifest is classified from the manifest
    (and that inference is shown)."""
    facts = normalise(work, manifest, manifest_terms, manifest_trust)
    return Classification(
        tier=facts.tier,
        digital_source_type=facts.digital_source_type,
        reasons=list(facts.reasons),
        contradictions=[c.text() for c in facts.conflicts],
        manifest_tier=facts.manifest_tier,
        contribution=facts.contribution,
        facts=facts,
    )
