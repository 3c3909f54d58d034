"""Bounded queries over the registry: every list the API and the web UI show, one page at a
time, at a cost that does not grow with the size of the registry.

Pages are *keyset* pages over the ledger index (unique, increasing, indexed): "the next
``limit`` records after index N" is an index range scan, so page 1000 costs what page 1
costs, and a record appended while a client walks the pages can neither shift nor repeat
what it has seen (offset pagination does both). Identities page by name, their own key.

Text search escapes SQL ``LIKE`` wildcards (``%`` and ``_`` match themselves), and digest
prefixes are index range scans over lowercase hex, never ``LIKE`` patterns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from modelkin.registry import tables as t
from modelkin.registry.core import Registry, hex_prefix
from modelkin.registry.results import Record

MAX_LIMIT = 500
HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class RecordPage:
    """One page of records and where the next one starts (None: this was the last)."""

    items: list[Record]
    next_after: int | None


@dataclass(frozen=True)
class IdentityPage:
    """One page of identities (ordered by name) and the name the next page starts after."""

    items: list[dict[str, Any]]
    next_after: str | None


def _limit(limit: int) -> int:
    return max(1, min(int(limit), MAX_LIMIT))


def is_hex(text: str) -> bool:
    return bool(text) and set(text) <= HEX


def _page(
    registry: Registry, q: Any, after: int | None, limit: int, newest_first: bool
) -> RecordPage:
    n = _limit(limit)
    col = t.records.c.ledger_index
    if after is not None:
        q = q.where(col < after if newest_first else col > after)
    q = q.order_by(col.desc() if newest_first else col).limit(n + 1)
    with registry.engine.connect() as conn:
        rows = conn.execute(q).all()
        more = len(rows) > n
        items = registry._to_records(conn, rows[:n])
    return RecordPage(items, items[-1].ledger_index if more else None)


def records_page(
    registry: Registry,
    kind: str | None = None,
    *,
    after: int | None = None,
    limit: int = 50,
    include_inactive: bool = False,
    newest_first: bool = False,
    exclude_kinds: tuple[str, ...] = (),
) -> RecordPage:
    """Records of ``kind`` (all kinds if None) after ledger index ``after``, in ledger
    order (or newest first); active ones only unless ``include_inactive``."""
    q = select(t.records)
    if kind is not None:
        q = q.where(t.records.c.kind == kind)
    if exclude_kinds:
        q = q.where(t.records.c.kind.not_in(exclude_kinds))
    if not include_inactive:
        q = q.where(t.records.c.status == "active")
    return _page(registry, q, after, limit, newest_first)


def search_page(
    registry: Registry,
    text: str,
    kind: str | None = None,
    *,
    after: int | None = None,
    limit: int = 50,
) -> RecordPage:
    """Active records whose name, organisation or statement mentions ``text`` (taken
    literally: ``%`` and ``_`` are not wildcards), or whose subject digest or record id
    starts with it; in ledger order."""
    needle = text.strip().lower()
    if not needle:
        return RecordPage([], None)
    matches: list[ColumnElement[bool]] = [
        func.lower(t.records.c.name).contains(needle, autoescape=True),
        func.lower(t.records.c.organisation).contains(needle, autoescape=True),
        func.lower(t.records.c.predicate_json).contains(needle, autoescape=True),
    ]
    if is_hex(needle) and len(needle) <= 64:
        subjects = select(t.subjects.c.record_id).where(hex_prefix(t.subjects.c.sha256, needle))
        matches += [t.records.c.id.in_(subjects), hex_prefix(t.records.c.id, needle)]
    q = select(t.records).where(t.records.c.status == "active", or_(*matches))
    if kind:
        q = q.where(t.records.c.kind == kind)
    return _page(registry, q, after, limit, False)


def derivations_page(
    registry: Registry, model: str, *, after: int | None = None, limit: int = 50
) -> RecordPage:
    """Active derivation claims naming ``model`` (ref or digest) as child or parent."""
    digest = registry._digest_of(model)
    key = f"sha256:{digest}"
    ids = select(t.edges.c.record_id).where(or_(t.edges.c.src == key, t.edges.c.dst == key))
    q = select(t.records).where(
        t.records.c.id.in_(ids),
        t.records.c.kind == "derivation",
        t.records.c.status == "active",
    )
    return _page(registry, q, after, limit, False)


def identities_page(
    registry: Registry, *, after: str | None = None, limit: int = 50
) -> IdentityPage:
    """Registered identities ordered by name, after the name ``after``."""
    n = _limit(limit)
    q = select(t.identities)
    if after is not None:
        q = q.where(t.identities.c.name > after)
    with registry.engine.connect() as conn:
        rows = conn.execute(q.order_by(t.identities.c.name).limit(n + 1)).all()
    items = [_identity_dict(r) for r in rows[:n]]
    return IdentityPage(items, items[-1]["name"] if len(rows) > n else None)


def identity(registry: Registry, keyid: str) -> dict[str, Any] | None:
    """The registered identity with ``keyid`` (any status), or None."""
    with registry.engine.connect() as conn:
        row = conn.execute(select(t.identities).where(t.identities.c.keyid == keyid)).first()
    return None if row is None else _identity_dict(row)


def _identity_dict(r: Any) -> dict[str, Any]:
    return {
        "name": r.name,
        "keyid": r.keyid,
        "status": r.status,
        "record_id": r.record_id,
        "public_key_pem": r.public_key_pem,
    }


def kind_counts(registry: Registry) -> dict[str, int]:
    """Active records per kind (one grouped count; callers cache it by ledger size)."""
    with registry.engine.connect() as conn:
        rows = conn.execute(
            select(t.records.c.kind, func.count())
            .where(t.records.c.status == "active")
            .group_by(t.records.c.kind)
        ).all()
    return {str(k): int(n) for k, n in rows}


def records_in_range(registry: Registry, start: int, stop: int) -> dict[int, Record]:
    """Records (any status) logged at ledger indexes ``start <= i < stop``, by index."""
    if stop - start > MAX_LIMIT:
        stop = start + MAX_LIMIT
    col = t.records.c.ledger_index
    with registry.engine.connect() as conn:
        rows = conn.execute(select(t.records).where(col >= start, col < stop)).all()
        return {r.ledger_index: r for r in registry._to_records(conn, rows)}


def by_subject(registry: Registry, digest: str, kind: str) -> list[Record]:
    """Active records of ``kind`` whose subject is ``digest`` (indexed), in ledger order."""
    ids = select(t.subjects.c.record_id).where(t.subjects.c.sha256 == digest)
    q = select(t.records).where(
        t.records.c.id.in_(ids), t.records.c.kind == kind, t.records.c.status == "active"
    )
    with registry.engine.connect() as conn:
        rows = conn.execute(q.order_by(t.records.c.ledger_index)).all()
        return registry._to_records(conn, rows)


def claims_page(
    registry: Registry,
    verdict: str | None = None,
    *,
    after: int | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> RecordPage:
    """Active lineage claims (derivations), newest first, optionally only those with a
    stored forensic ``verdict`` (``verified``, ``contradicted``, ``unverifiable``), or
    ``unchecked`` for claims with none."""
    q = select(t.records).where(t.records.c.kind == "derivation", t.records.c.status == "active")
    if verdict == "unchecked":
        q = q.where(t.records.c.id.not_in(select(t.verifications.c.record_id)))
    elif verdict:
        ids = select(t.verifications.c.record_id).where(t.verifications.c.verdict == verdict)
        q = q.where(t.records.c.id.in_(ids))
    return _page(registry, q, after, limit, newest_first)
