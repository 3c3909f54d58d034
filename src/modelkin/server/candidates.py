"""Read-only forensic queries over the registry: fingerprints of registered models, 1:N.

The comparison itself is :func:`modelkin.forensics.compare`; 1:N ranking goes through the
search index (:mod:`modelkin.search`): the index picks the ``limit`` most likely relatives
among every registered model and only those are compared in full. Each candidate is a
:class:`modelkin.search.Result`, serialised by its ``to_dict`` (the CLI's ``search --json``
and the API answer with the same object).
"""

from __future__ import annotations

from modelkin.fingerprint import Fingerprint
from modelkin.forensics import Report, compare
from modelkin.registry import Registry
from modelkin.search import Result, record_fingerprint, search


def compare_models(registry: Registry, a: str, b: str) -> Report:
    """Forensic report: registered model ``a`` (suspect) against ``b`` (candidate)."""
    ra, rb = registry.model(a), registry.model(b)
    return compare(record_fingerprint(registry, ra), record_fingerprint(registry, rb))


def rank(registry: Registry, query: Fingerprint, limit: int = 20) -> list[Result]:
    """The ``limit`` registered models the index finds closest to ``query``, each
    compared in full; most related first."""
    if limit < 1:
        return []
    return search(registry, query, limit)
