"""IPTC Digital Source Type terms and the tier mapping (both directions).

Vocabulary: IPTC NewsCodes "digitalsourcetype", http://cv.iptc.org/newscodes/digitalsourcetype/
(2024-10). C2PA actions carry the full URI in ``digitalSourceType``; records and labels use
the short term. The mapping itself is data (``rules/classification.toml``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from modelkin.errors import ModelkinError

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TIERS = ("human", "ai-assisted", "ai-generated")


@dataclass(frozen=True)
class ClassificationRules:
    """Thresholds and the IPTC mapping loaded from ``classification.toml``."""

    generated_min_share: float
    assisted_min_share: float
    tier_terms: dict[str, str]
    term_tiers: dict[str, str]


@cache
def classification_rules() -> ClassificationRules:
    """The shipped thresholds and mapping (package data)."""
    text = (
        resources.files("modelkin.works")
        .joinpath("rules")
        .joinpath("classification.toml")
        .read_text()
    )
    data: dict[str, Any] = tomllib.loads(text)
    th = data["thresholds"]
    return ClassificationRules(
        generated_min_share=float(th["generated_min_share"]),
        assisted_min_share=float(th["assisted_min_share"]),
        tier_terms=dict(data["tier_terms"]),
        term_tiers=dict(data["term_tiers"]),
    )


def term_uri(term: str) -> str:
    """Short term -> full IPTC URI."""
    return IPTC_PREFIX + term


def short_term(value: str, where: str = "digitalSourceType") -> str:
    """Full IPTC URI (or short term) -> short term; other URIs are refused."""
    v = value.strip()
    if v.startswith(IPTC_PREFIX):
        return v[len(IPTC_PREFIX) :]
    if v.startswith("https://cv.iptc.org/newscodes/digitalsourcetype/"):
        return v.rsplit("/", 1)[1]
    if "/" in v or ":" in v:
        raise ModelkinError(where, f"{value!r} is not an IPTC digital source type")
    return v


def tier_for_term(term: str) -> str | None:
    """The tier a term implies, or ``None`` for a term the mapping does not know."""
    return classification_rules().term_tiers.get(short_term(term))


def term_for_tier(tier: str) -> str:
    """The IPTC term written for a tier."""
    if tier not in TIERS:
        raise ModelkinError("tier", f"unknown tier {tier!r} (known: {', '.join(TIERS)})")
    return classification_rules().tier_terms[tier]
