"""Read-only forensic queries over the registry: fingerprints of registered models, 1:N.

The comparison itself is :func:`modelkin.forensics.compare`; 1:N ranking goes through the
search index (:mod:`modelkin.search`): the index picks the ``limit`` most likely relatives
among every registered model and only those are compared in full. Each candidate is a
:class:`modelkin.search.Result`, serialised by its ``to_dict`` (the CLI's ``search --json``
and the API answer with the same object).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from modelkin.fingerprint import Fingerprint
from modelkin.forensics import Report, compare
from modelkin.registry import Registry
from modelkin.registry.results import Record
from modelkin.search import Result, record_fingerprint, search

#: Reports of recent comparisons by (suspect record, candidate record): the compare page
#: shows a summary and frames the full report, two requests for one computation.
_RECENT: OrderedDict[tuple[str, str], Report] = OrderedDict()
_RECENT_LOCK = threading.Lock()
RECENT_REPORTS = 32


def registered_side(rec: Record) -> dict[str, Any]:
    """What a report says about a registered side: its registered name (not the folder its
    fingerprint was made from), publisher, version and record."""
    return {
        "name": rec.name or rec.id[:12],
        "organisation": rec.organisation,
        "version": rec.version,
        "record_id": rec.id,
        "sha256": rec.digest,
    }


def compare_models(registry: Registry, a: str, b: str) -> Report:
    """Forensic report: registered model ``a`` (suspect) against ``b`` (candidate), each
    side named as registered."""
    ra, rb = registry.model(a), registry.model(b)
    key = (ra.id, rb.id)
    with _RECENT_LOCK:
        if key in _RECENT:
            _RECENT.move_to_end(key)
            return _RECENT[key]
    report = compare(record_fingerprint(registry, ra), record_fingerprint(registry, rb))
    report.suspect.update(registered_side(ra))
    report.candidate.update(registered_side(rb))
    with _RECENT_LOCK:
        _RECENT[key] = report
        while len(_RECENT) > RECENT_REPORTS:
            _RECENT.popitem(last=False)
    return report


def rank(registry: Registry, query: Fingerprint, limit: int = 20) -> list[Result]:
    """The ``limit`` registered models the index finds closest to ``query``, each
    compared in full; most related first."""
    if limit < 1:
        return []
    return search(registry, query, limit)
