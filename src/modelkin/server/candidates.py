"""Read-only forensic queries over the registry: fingerprints of registered models, 1:N.

The comparison itself is :func:`modelkin.forensics.compare`; 1:N ranking goes through the
search index (:mod:`modelkin.search`): the index picks the ``limit`` most likely relatives
among every registered model and only those are compared in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelkin.fingerprint import Fingerprint
from modelkin.forensics import Report, compare
from modelkin.registry import Record, Registry
from modelkin.search import record_fingerprint, search


@dataclass(frozen=True)
class Candidate:
    """One registered model compared with the query fingerprint."""

    record: Record
    report: Report

    def to_dict(self) -> dict[str, Any]:
        r = self.report
        return {
            "model": {"id": self.record.id, "name": self.record.name,
                      "organisation": self.record.organisation, "digest": self.record.digest},
            "verdict": r.verdict,
            "related": r.related,
            "p_value": r.p_value,
            "summary": r.summary,
            "evidence": [e.to_dict() for e in r.evidence],
        }  # fmt: skip


def model_fingerprint(registry: Registry, rec: Record) -> Fingerprint:
    """The fingerprint a model registered with (from the blob store)."""
    return record_fingerprint(registry, rec)


def compare_models(registry: Registry, a: str, b: str) -> Report:
    """Forensic report: registered model ``a`` (suspect) against ``b`` (candidate)."""
    ra, rb = registry.model(a), registry.model(b)
    return compare(model_fingerprint(registry, ra), model_fingerprint(registry, rb))


def rank(registry: Registry, query: Fingerprint, limit: int = 20) -> list[Candidate]:
    """The ``limit`` registered models the index finds closest to ``query``, each
    compared in full; most related first."""
    if limit < 1:
        return []
    return [Candidate(r.record, r.report) for r in search(registry, query, limit)]
