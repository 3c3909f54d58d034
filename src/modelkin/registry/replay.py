"""Rebuilding the tables from the ledger, the source of truth.

Every logged entry is re-admitted with the submission checks (:func:`.submission.prepare`:
signature, schema, digests) and stored with :func:`.store.apply`; verdicts on lineage claims
are logged statements too (``verification``), stored as they are: replay runs no forensics, in batches of
:data:`REPLAY_BATCH` entries, each batch in one transaction with its ``applied_size`` mark:
a crash mid-replay resumes where the mark says.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from modelkin.errors import LedgerError, ModelkinError
from modelkin.registry.blobs import BlobStore
from modelkin.registry.database import set_applied
from modelkin.registry.leaf import decode_leaf
from modelkin.registry.store import apply
from modelkin.registry.submission import prepare

REPLAY_BATCH = 256


def replay_range(
    engine: Engine,
    ledger: Any,
    blobs: BlobStore,
    start: int,
    end: int,
) -> None:
    """Apply ledger entries ``[start, end)`` to the tables."""
    for lo in range(start, end, REPLAY_BATCH):
        hi = min(end, lo + REPLAY_BATCH)
        entries = ledger.entries(lo, hi)
        with engine.begin() as conn:  # one transaction per batch, with its mark
            for index, data in zip(range(lo, hi), entries, strict=True):
                replay_one(conn, blobs, index, data)
            set_applied(conn, hi)


def replay_one(
    conn: Connection,
    blobs: BlobStore,
    index: int,
    data: bytes,
) -> None:
    """Re-admit and store the statement logged at ``index`` (other leaves are skipped)."""
    leaf = decode_leaf(data, index, blobs)
    if leaf is None:  # not a registry statement: nothing to index
        return
    try:
        prepared = prepare(conn, blobs, leaf.envelope, leaf.received_at, admitting=False)
    except ModelkinError as exc:
        raise LedgerError(
            f"ledger entry {index}", f"logged statement no longer verifies: {exc}"
        ) from exc
    apply(conn, prepared, index)
