"""Works: three-tier protection and AI-use disclosure for creative works.

* :mod:`.record`: the work record (title, kind, dates, authors, content digest, AI use) and
  its validated JSON form, the ``work/v1`` predicate.
* :mod:`.classify`: human-authored / AI-assisted / AI-generated with reasons and flagged
  contradictions; :mod:`.iptc` maps tiers to IPTC DigitalSourceType terms and back
  (thresholds and mapping are data: ``rules/classification.toml``).
* :mod:`.rulepacks` and :mod:`.terms`: per-jurisdiction rule packs (``rules/*.toml``:
  ``uk-bill``, ``uk-cdpa``, ``us``, ``eu``) and the engine computing protection status,
  last protected day and first public-domain day.
* :mod:`.c2pa_io`: read a disclosure from a C2PA manifest; build, sign and embed one.
* :mod:`.disclosure`: text/Markdown/HTML disclosure labels.
* :mod:`.register`: sign and submit a work to the registry; load works by file or id.
"""

from __future__ import annotations

from modelkin.works.classify import Classification, classify
from modelkin.works.disclosure import label_html, label_markdown, label_text
from modelkin.works.iptc import IPTC_PREFIX, TIERS, term_for_tier, term_uri, tier_for_term
from modelkin.works.record import (
    AI_ROLES,
    WORK_KINDS,
    AISystem,
    Author,
    Disclosure,
    Work,
    work_from_dict,
)
from modelkin.works.rulepacks import RulePack, builtin_pack_ids, load_pack
from modelkin.works.terms import TermResult, compute_term

__all__ = [
    "AI_ROLES",
    "IPTC_PREFIX",
    "TIERS",
    "WORK_KINDS",
    "AISystem",
    "Author",
    "Classification",
    "Disclosure",
    "RulePack",
    "TermResult",
    "Work",
    "builtin_pack_ids",
    "classify",
    "compute_term",
    "label_html",
    "label_markdown",
    "label_text",
    "load_pack",
    "term_for_tier",
    "term_uri",
    "tier_for_term",
    "work_from_dict",
]
