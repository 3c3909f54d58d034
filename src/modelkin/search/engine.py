"""1:N lineage search over a registry: index candidates, then the full comparison.

The index (:mod:`modelkin.search.index`) is a cache of the registry's fingerprints in
``Home.search_dir``: :func:`sync` adds the models registered since the ledger size it
last reflected and drops withdrawn or superseded ones; a missing, corrupt or outdated
index is rebuilt from the registry. Syncs take an exclusive lock file, and the index file
is replaced atomically, so two processes syncing at once never corrupt it and readers
never see a torn file. :func:`search` then runs :func:`modelkin.forensics.compare` on
the top candidates only and returns the same reports as ``compare``.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.fingerprint import Fingerprint
from modelkin.forensics import Report, compare
from modelkin.registry import Record, Registry
from modelkin.registry.binding import binding_problem
from modelkin.search.features import index_items
from modelkin.search.index import INDEX_FILE, Match, SearchIndex

LOCK_FILE = "sync.lock"
#: Default number of candidates given the full comparison.
DEFAULT_TOP = 10


def record_fingerprint(registry: Registry, rec: Record) -> Fingerprint:
    """The fingerprint a model registered with (from the blob store), only if it names this
    model's own files (:mod:`modelkin.registry.binding`): another model's fingerprint, or
    an unbound one, would make this record look like that model."""
    ref = rec.predicate.get("fingerprint")
    blob = ref.get("blob") if isinstance(ref, dict) else None
    if not isinstance(blob, str) or not registry.blobs.has(blob):
        raise NotFoundError(rec.name or rec.id, "this model was registered without a fingerprint")
    fp = Fingerprint.load(registry.blobs.path(blob))
    problem = binding_problem(fp, ref.get("digest") if isinstance(ref, dict) else None,
                              str(rec.digest))  # fmt: skip
    if problem is not None:
        raise NotFoundError(rec.name or rec.id, f"no usable fingerprint: {problem}")
    return fp


def index_dir(registry: Registry) -> Path:
    return Path(registry.home.search_dir)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Exclusive advisory lock (flock) on ``directory/sync.lock`` for one sync."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@dataclass(frozen=True)
class SyncResult:
    """What a sync did: the index, models added and removed, whether it was rebuilt
    (and why), and registered models that have no usable fingerprint."""

    index: SearchIndex
    added: int
    removed: int
    rebuilt: str | None
    skipped: list[str]


def _info(rec: Record) -> dict[str, Any]:
    return {"name": rec.name, "organisation": rec.organisation, "digest": rec.digest}


def sync(registry: Registry, directory: Path | None = None) -> SyncResult:
    """Bring the index in ``directory`` (default ``Home.search_dir``) up to date."""
    d = Path(directory) if directory is not None else index_dir(registry)
    path = d / INDEX_FILE
    with _locked(d):
        rebuilt: str | None = None
        if path.exists():
            try:
                idx = SearchIndex.load(path)
            except ModelkinError as exc:
                idx, rebuilt = SearchIndex(), exc.problem
        else:
            idx, rebuilt = SearchIndex(), "no index yet"
        size = registry.applied_size()
        if rebuilt is None and idx.applied_size == size:
            return SyncResult(idx, 0, 0, None, [])
        records = registry.models()
        live = {r.id for r in records}
        have = set(idx.keys)
        gone = have - live
        idx.remove(gone)
        added, skipped = 0, []
        for rec in records:
            if rec.id in have:
                continue
            try:
                fp = record_fingerprint(registry, rec)
                items = index_items(fp, rec.name or rec.id)
            except ModelkinError:
                skipped.append(rec.name or rec.id)
                continue
            idx.add(rec.id, items, _info(rec))
            added += 1
        idx.applied_size = size
        idx.save(path)
        return SyncResult(idx, added, len(gone), rebuilt, skipped)


@dataclass(frozen=True)
class Result:
    """One candidate: the registered model, its index match and the full report."""

    record: Record
    match: Match
    report: Report

    def to_dict(self) -> dict[str, Any]:
        r = self.report
        return {
            "model": {"id": self.record.id, "name": self.record.name,
                      "organisation": self.record.organisation, "digest": self.record.digest},
            "index": {"score": self.match.score, "channels": self.match.channels},
            "verdict": r.verdict,
            "related": r.related,
            "p_value": r.p_value,
            "summary": r.summary,
            "evidence": [e.to_dict() for e in r.evidence],
        }  # fmt: skip


def rank_key(res: Result) -> tuple[int, float]:
    """Related first, then by combined p-value (index order breaks ties)."""
    p = res.report.p_value
    return (0 if res.report.related else 1, p if p is not None else 1.0)


def search(
    registry: Registry, query: Fingerprint, top: int = DEFAULT_TOP, *, synced: bool = True
) -> list[Result]:
    """Rank every registered model against ``query`` with the index, then compare the
    ``top`` candidates in full; results ordered related first, then by p-value.
    ``synced=False`` uses the index as it is on disk (no sync)."""
    if top < 1:
        raise ModelkinError("--top", "must be at least 1")
    path = index_dir(registry) / INDEX_FILE
    idx = sync(registry).index if synced else SearchIndex.load(path)
    matches = idx.query(index_items(query, query.name or "query"), top)
    out: list[Result] = []
    for m in matches:
        try:
            rec = registry.model(m.key)
            fp = record_fingerprint(registry, rec)
        except ModelkinError:
            continue  # withdrawn or unreadable since the last sync
        out.append(Result(rec, m, compare(query, fp)))
    return sorted(out, key=rank_key)
