"""What the registry writes into the ledger for each accepted statement.

A leaf is RFC 8785 canonical JSON. Normally it carries the whole DSSE envelope plus the
time the registry received it — inside the leaf, so it is covered by the Merkle tree (Rekor
v1 kept ``integratedTime`` outside the tree, where it could change undetected).

The ledger caps entries at 65,535 bytes (C2SP tlog-tiles entry bundles use uint16 lengths)
and Rekor v2 learnt not to log unbounded bodies. An envelope too big for a leaf goes to the
content-addressed blob store and the leaf records a bounded summary: the envelope's digest,
its signatures, the signer keyid, the kind and the time. Such entries can only be replayed
(``Registry.rebuild``) when the blob store is present; the leaf still proves what was
signed, by digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from modelkin.errors import LedgerError
from modelkin.registry.blobs import BlobStore
from modelkin.statements.canonical import canonical_json, json_digest

LEAF_FULL = "modelkin/dsse"
LEAF_REF = "modelkin/dsse-ref"
MAX_LEAF = 65535
MAX_ENVELOPE = 16 * 1024 * 1024


@dataclass(frozen=True)
class Leaf:
    """A decoded ledger entry: the envelope and when the registry received it."""

    envelope: dict[str, Any]
    received_at: str
    bounded: bool


def encode_leaf(
    envelope: dict[str, Any], received_at: str, kind: str, keyid: str, blobs: BlobStore
) -> bytes:
    """The leaf bytes for ``envelope``; big envelopes are stored as blobs first."""
    full = canonical_json({"type": LEAF_FULL, "received_at": received_at, "envelope": envelope})
    if len(full) <= MAX_LEAF:
        return full
    body = canonical_json(envelope)
    if len(body) > MAX_ENVELOPE:
        raise LedgerError("envelope", f"larger than {MAX_ENVELOPE} bytes; refused")
    digest = blobs.put_bytes(body)
    leaf = canonical_json(
        {
            "type": LEAF_REF,
            "received_at": received_at,
            "envelope_sha256": digest,
            "signatures": envelope.get("signatures", [])[:16],
            "keyid": keyid,
            "kind": kind,
        }
    )
    if len(leaf) > MAX_LEAF:
        raise LedgerError("envelope", "signatures too large for a bounded ledger leaf")
    return leaf


def decode_leaf(data: bytes, index: int, blobs: BlobStore) -> Leaf | None:
    """Parse a leaf; ``None`` for entries that are not registry statements."""
    where = f"ledger entry {index}"
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict):
        return None
    if obj.get("type") == LEAF_FULL:
        return Leaf(obj["envelope"], str(obj["received_at"]), False)
    if obj.get("type") == LEAF_REF:
        digest = str(obj.get("envelope_sha256"))
        try:
            envelope = json.loads(blobs.get(digest, MAX_ENVELOPE))
        except Exception as exc:
            raise LedgerError(where, f"envelope blob {digest} unavailable: {exc}") from exc
        if json_digest(envelope) != digest:
            raise LedgerError(where, "envelope blob does not match the leaf")
        return Leaf(envelope, str(obj["received_at"]), True)
    return None
