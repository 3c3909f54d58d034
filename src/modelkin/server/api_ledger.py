"""Ledger read endpoints, so any monitor or witness can follow the log over HTTP.

* ``GET /checkpoint``: the latest signed checkpoint as ``text/plain`` (C2SP tlog-checkpoint
  inside a C2SP signed-note), the same path tlog-tiles clients fetch.
* ``GET /api/v1/ledger``: size, checkpoint, log verifier key (C2SP signed-note vkey).
* ``GET /api/v1/ledger/entries/{index}`` and ``/entries?start=&limit=``: raw entries (base64).
* ``GET /api/v1/ledger/proof/inclusion?index=|leaf_hash=&size=``: RFC 6962 §2.1.1 audit path.
* ``GET /api/v1/ledger/proof/consistency?old=&new=``: RFC 6962 §2.1.2 consistency proof.
* ``GET /api/v1/ledger/checkpoints``: checkpoint history (the log's own record), in cursor
  pages (:mod:`.paging`).
* ``POST /api/v1/ledger/cosignatures``: a checkpoint note carrying c2sp.org/tlog-cosignature
  lines of configured witnesses; verified and stored, then served by ``GET /checkpoint``.
Hashes are lowercase hex; the proof algorithms live in :mod:`modelkin.ledger`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.ledger.cosigs import CosignatureRejected, check_cosigned_note
from modelkin.registry.core import checkpoint_size
from modelkin.server.deps import get_state
from modelkin.server.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    decode_index,
    encode_index,
    page_response,
)
from modelkin.server.state import ServerState
from modelkin.server.witnesses import served_checkpoint, witness_rows

router = APIRouter(tags=["ledger"])
State = Annotated[ServerState, Depends(get_state)]
MAX_PAGE = 256


def _hex_list(hashes: Any) -> list[str]:
    return [bytes(h).hex() for h in hashes]


def _entry_json(index: int, raw: bytes) -> dict[str, Any]:
    """One entry: base64 bytes plus the parsed JSON when the leaf is JSON (ours are)."""
    out: dict[str, Any] = {"index": index, "entry": base64.b64encode(raw).decode("ascii")}
    try:
        out["decoded"] = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        out["decoded"] = None
    return out


def _signed_size(state: ServerState) -> tuple[str, int]:
    checkpoint = str(state.ledger.checkpoint())
    return checkpoint, checkpoint_size(checkpoint)


@router.get("/checkpoint", response_class=PlainTextResponse, summary="Latest signed checkpoint")
def get_checkpoint(state: State) -> PlainTextResponse:
    """The C2SP signed note committing to the current tree; when witnesses are configured,
    the newest checkpoint they cosigned, with their cosignature lines appended."""
    text = state.locked(lambda: served_checkpoint(state, str(state.ledger.checkpoint())))
    return PlainTextResponse(text, media_type="text/plain; charset=utf-8")


@router.get("/api/v1/ledger", summary="Ledger status")
def ledger_status(state: State) -> dict[str, Any]:
    """Size, signed checkpoint and verifier key of the log, and its witnesses."""

    def read() -> dict[str, Any]:
        checkpoint, size = _signed_size(state)
        return {
            "size": size,
            "checkpoint": checkpoint,
            "origin": checkpoint.split("\n", 1)[0],
            "verifier_key": str(state.ledger.verifier_key()),
            "witnesses": witness_rows(state, size),
        }

    return state.locked(read)


COSIGNED_EXAMPLE = (
    "modelkin.local/registry\n5\n<base64 root>\n\n"
    "\u2014 modelkin.local/registry <log signature>\n\u2014 witness1 <cosignature>\n"
)


@router.post("/api/v1/ledger/cosignatures", summary="Submit witness cosignatures")
def add_cosignatures(
    state: State,
    note: Annotated[str, Body(media_type="text/plain", examples=[COSIGNED_EXAMPLE])],
) -> dict[str, Any]:
    """Store the cosignatures of configured witnesses on a checkpoint this log signed.

    Signatures by unknown keys are ignored; a bad cosignature by a configured witness, a
    note the log did not sign, or a note with no configured witness's cosignature is 403.
    """

    def accept() -> dict[str, Any]:
        log_size = checkpoint_size(str(state.ledger.checkpoint()))
        try:
            found = check_cosigned_note(
                note, str(state.ledger.verifier_key()), state.ledger.root, log_size,
                state.witnesses,
            )  # fmt: skip
        except CosignatureRejected as exc:
            raise HTTPException(403, f"{exc.where}: {exc.problem}") from None
        if not found:
            raise HTTPException(403, "no cosignature by a witness this log trusts")
        kept = state.cosigs.add(found)
        return {
            "accepted": [c.ref for c in found],
            "stored": [c.ref for c in kept],
            "size": found[0].size,
            "witnesses": witness_rows(state, log_size),
        }

    return state.locked(accept)


@router.get("/api/v1/ledger/entries/{index}", summary="One ledger entry")
def ledger_entry(index: int, state: State) -> dict[str, Any]:
    """Entry ``index`` as base64, with its JSON decoded."""

    def read() -> dict[str, Any]:
        _, size = _signed_size(state)
        if not 0 <= index < size:
            raise NotFoundError(f"ledger index {index}", f"not in the tree of size {size}")
        return _entry_json(index, bytes(state.ledger.entry(index)))

    return state.locked(read)


@router.get("/api/v1/ledger/entries", summary="A page of ledger entries")
def ledger_entries(
    state: State,
    start: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> dict[str, Any]:
    """Entries ``start .. start+limit`` of the signed tree (bounded page)."""

    def read() -> dict[str, Any]:
        _, size = _signed_size(state)
        stop = min(size, start + limit)
        items = [_entry_json(i, bytes(state.ledger.entry(i))) for i in range(start, stop)]
        return {"tree_size": size, "start": start, "entries": items}

    return state.locked(read)


def _parse_hash(value: str, where: str) -> bytes:
    try:
        raw = binascii.unhexlify(value)
    except (binascii.Error, ValueError):
        raise ModelkinError(where, "not a hex SHA-256 hash") from None
    if len(raw) != 32:
        raise ModelkinError(where, "a leaf hash is 32 bytes (64 hex digits)")
    return raw


@router.get("/api/v1/ledger/proof/inclusion", summary="Inclusion proof")
def inclusion_proof(
    state: State,
    index: Annotated[int | None, Query(ge=0)] = None,
    leaf_hash: Annotated[str | None, Query(max_length=128)] = None,
    size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """RFC 6962 audit path for a leaf (by index or by leaf hash) in a tree of ``size``
    (default: the latest signed checkpoint's size, which is returned with it)."""
    if (index is None) == (leaf_hash is None):
        raise ModelkinError("query", "give exactly one of index or leaf_hash")

    def read() -> dict[str, Any]:
        checkpoint, signed = _signed_size(state)
        n = signed if size is None else size
        if n > signed:
            raise NotFoundError(f"size {n}", f"larger than the signed tree ({signed})")
        i = index
        if leaf_hash is not None:
            found = state.ledger.index_of(_parse_hash(leaf_hash, "leaf_hash"))
            if found is None:
                raise NotFoundError("leaf_hash", "no entry with this leaf hash")
            i = int(found)
        assert i is not None
        if not 0 <= i < n:
            raise NotFoundError(f"ledger index {i}", f"not in the tree of size {n}")
        return {
            "index": i,
            "tree_size": n,
            "inclusion_proof": _hex_list(state.ledger.inclusion_proof(i, n)),
            "checkpoint": checkpoint if n == signed else None,
        }

    return state.locked(read)


@router.get("/api/v1/ledger/proof/consistency", summary="Consistency proof")
def consistency_proof(
    state: State,
    old: Annotated[int, Query(ge=1)],
    new: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """RFC 6962 consistency proof from tree size ``old`` to ``new`` (default: latest)."""

    def read() -> dict[str, Any]:
        checkpoint, signed = _signed_size(state)
        n = signed if new is None else new
        if not old <= n <= signed:
            raise NotFoundError(
                f"sizes {old}..{n}", f"need 1 <= old <= new <= signed size ({signed})"
            )
        return {
            "old": old,
            "new": n,
            "consistency_proof": _hex_list(state.ledger.consistency_proof(old, n)),
            "checkpoint": checkpoint if n == signed else None,
        }

    return state.locked(read)


@router.get(
    "/api/v1/ledger/tlog-proof/{index}",
    response_class=PlainTextResponse,
    summary="Offline proof bundle (C2SP tlog-proof)",
)
def tlog_proof(index: int, state: State) -> PlainTextResponse:
    """Entry ``index``'s inclusion proof and checkpoint as a C2SP ``.tlog-proof`` file."""

    def read() -> str:
        _, size = _signed_size(state)
        if not 0 <= index < size:
            raise NotFoundError(f"ledger index {index}", f"not in the tree of size {size}")
        return str(state.ledger.tlog_proof(index))

    return PlainTextResponse(state.locked(read), media_type="text/plain; charset=utf-8")


@router.get("/api/v1/ledger/checkpoints", summary="Checkpoint history (cursor pages)")
def checkpoints(
    request: Request,
    state: State,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    newest_first: bool = False,
) -> JSONResponse:
    """The checkpoints the log has signed, oldest first (or newest first), one page at a
    time: each item is ``{"size": <tree size>, "checkpoint": <signed note>}``."""
    after = decode_index(cursor)
    rows = state.locked(
        lambda: state.ledger.checkpoints_page(after, limit + 1, newest_first=newest_first)
    )
    more = len(rows) > limit
    items = [{"size": size, "checkpoint": note} for size, note in rows[:limit]]
    return page_response(request, items, encode_index(rows[limit - 1][0]) if more else None)
