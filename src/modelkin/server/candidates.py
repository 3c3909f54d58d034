"""Read-only forensic queries over the registry: fingerprints of registered models, 1:N.

The comparison itself is :func:`modelkin.forensics.compare`; this module only finds each
registered model's fingerprint in the blob store and orders the reports (most strongly
related first). A linear scan: the indexed search engine is a later piece of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.fingerprint import Fingerprint
from modelkin.forensics import Report, compare
from modelkin.registry import Record, Registry

MAX_CANDIDATES = 500


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
    ref = rec.predicate.get("fingerprint")
    blob = ref.get("blob") if isinstance(ref, dict) else None
    if not isinstance(blob, str) or not registry.blobs.has(blob):
        raise NotFoundError(rec.name or rec.id, "this model was registered without a fingerprint")
    return Fingerprint.load(registry.blobs.path(blob))


def compare_models(registry: Registry, a: str, b: str) -> Report:
    """Forensic report: registered model ``a`` (suspect) against ``b`` (candidate)."""
    ra, rb = registry.model(a), registry.model(b)
    return compare(model_fingerprint(registry, ra), model_fingerprint(registry, rb))


def rank(registry: Registry, query: Fingerprint, limit: int = 20) -> list[Candidate]:
    """Every fingerprinted registered model compared with ``query``, most related first."""
    out: list[Candidate] = []
    for rec in registry.models()[:MAX_CANDIDATES]:
        try:
            fp = model_fingerprint(registry, rec)
        except ModelkinError:
            continue
        out.append(Candidate(rec, compare(query, fp)))

    def key(c: Candidate) -> tuple[int, float]:
        p = c.report.p_value
        return (0 if c.report.related else 1, p if p is not None else 1.0)

    return sorted(out, key=key)[:limit]
