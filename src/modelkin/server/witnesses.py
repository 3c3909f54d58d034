"""The log's witnesses as the API and the home page show them.

Gathers what :mod:`modelkin.ledger.cosigs` stores into one row per configured witness:
who it is, the largest tree it cosigned, when, and how many entries the log has grown
since (a witness far behind is no longer protecting the newest entries).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelkin.ledger.cosigs import cosigned_note, witness_ref
from modelkin.server.state import ServerState


def witness_rows(state: ServerState, log_size: int) -> list[dict[str, Any]]:
    """One dict per configured witness (never-cosigned ones have ``cosigned_size`` None)."""
    stored = state.cosigs.all()
    rows: list[dict[str, Any]] = []
    for v in state.witnesses:
        c = stored.get(witness_ref(v))
        rows.append(
            {
                "name": v.name,
                "key_id": v.key_hash.hex(),
                "verifier_key": str(v),
                "cosigned_size": c.size if c else None,
                "cosigned_at": (
                    datetime.fromtimestamp(c.timestamp, UTC).isoformat().replace("+00:00", "Z")
                    if c
                    else None
                ),
                "behind": log_size - c.size if c else log_size,
            }
        )
    return rows


def served_checkpoint(state: ServerState, latest: str) -> str:
    """What ``GET /checkpoint`` serves: the newest checkpoint the trust policy's quorum
    cosigned (federation), else the newest one a configured ``--witness`` cosigned, with
    their cosignatures, else the log's latest."""
    fed = state.federation
    if fed is not None and (witnessed := fed.served()) is not None:
        return str(witnessed)
    if not state.witnesses:
        return latest
    note = cosigned_note(state.cosigs.all().values(), [witness_ref(v) for v in state.witnesses])
    return note or latest
