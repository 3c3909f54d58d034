"""DSSE envelopes: signing the exact bytes of a statement.

Spec: https://github.com/secure-systems-lab/dsse/blob/master/protocol.md — the signature is
over ``PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` (lengths as
ASCII decimal byte counts), so the payload type is authenticated and the payload never needs
re-serialising. The envelope is ``{"payload": b64, "payloadType", "signatures": [{"keyid",
"sig": b64}]}``. We additionally require the payload to be RFC 8785 canonical JSON, so one
statement has exactly one digest.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from modelkin.errors import StatementError
from modelkin.statements.bounds import check_json_text
from modelkin.statements.canonical import canonical_json
from modelkin.statements.identity import Identity, PublicIdentity
from modelkin.statements.statement import Statement, check_statement_shape

PAYLOAD_TYPE = "application/vnd.in-toto+json"
MAX_PAYLOAD = 16 * 1024 * 1024
MAX_SIGNATURES = 16


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE pre-authentication encoding (protocol.md, "Signature definition")."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def sign_envelope(statement: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """Canonicalise ``statement`` and wrap it in a DSSE envelope signed by ``identity``."""
    check_statement_shape(statement, "statement")
    body = canonical_json(statement)
    sig = identity.sign(pae(PAYLOAD_TYPE, body))
    return {
        "payload": base64.b64encode(body).decode("ascii"),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": identity.keyid, "sig": base64.b64encode(sig).decode("ascii")}],
    }


def _b64(value: object, where: str, what: str, limit: int) -> bytes:
    if not isinstance(value, str):
        raise StatementError(where, f"{what} must be a base64 string")
    if len(value) > limit * 4 // 3 + 8:
        raise StatementError(where, f"{what} exceeds {limit} bytes")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise StatementError(where, f"{what} is not valid base64") from exc


def envelope_payload(envelope: object, where: str = "envelope") -> tuple[bytes, dict[str, Any]]:
    """Check the envelope's shape and decode its payload (no signature check)."""
    if not isinstance(envelope, dict):
        raise StatementError(where, "envelope is not a JSON object")
    if envelope.get("payloadType") != PAYLOAD_TYPE:
        raise StatementError(where, f"payloadType must be {PAYLOAD_TYPE}")
    body = _b64(envelope.get("payload"), where, "payload", MAX_PAYLOAD)
    check_json_text(body, where)  # before parsing: a deep payload must not overflow the parser
    try:
        st = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatementError(where, f"payload is not JSON: {exc}") from exc
    check_statement_shape(st, where)
    if canonical_json(st) != body:
        raise StatementError(where, "payload is not RFC 8785 canonical JSON")
    return body, st


def envelope_signatures(envelope: dict[str, Any], where: str) -> list[tuple[str, bytes]]:
    """(keyid, signature) pairs; an envelope without signatures is unsigned and refused."""
    sigs = envelope.get("signatures")
    if not isinstance(sigs, list) or not sigs:
        raise StatementError(where, "envelope is unsigned (no signatures)")
    if len(sigs) > MAX_SIGNATURES:
        raise StatementError(where, f"more than {MAX_SIGNATURES} signatures")
    out = []
    for i, s in enumerate(sigs):
        if not isinstance(s, dict) or not isinstance(s.get("keyid"), str):
            raise StatementError(where, f"signatures[{i}] needs a keyid")
        out.append((s["keyid"], _b64(s.get("sig"), where, f"signatures[{i}].sig", 1024)))
    return out


def verify_envelope(
    envelope: dict[str, Any],
    trusted_keys: Mapping[str, PublicIdentity | Ed25519PublicKey],
    where: str = "envelope",
) -> Statement:
    """Verify a DSSE envelope against ``trusted_keys`` (keyid -> key) and parse its statement.

    Accepted when a signature by a trusted key verifies. A signature that claims a trusted
    keyid but does not verify is a forgery or corruption and rejects the whole envelope;
    signatures by unknown keys are ignored, as DSSE allows."""
    body, st = envelope_payload(envelope, where)
    message = pae(PAYLOAD_TYPE, body)
    signer: str | None = None
    unknown: list[str] = []
    for keyid, sig in envelope_signatures(envelope, where):
        key = trusted_keys.get(keyid)
        if key is None:
            unknown.append(keyid)
            continue
        pub = key if isinstance(key, PublicIdentity) else PublicIdentity(keyid, key)
        if pub.keyid != keyid:
            raise StatementError(where, f"trusted key registered under {keyid} has another keyid")
        if not pub.verify(sig, message):
            raise StatementError(where, f"signature by key {keyid[:16]} does not verify")
        signer = signer or keyid
    if signer is None:
        names = ", ".join(k[:16] for k in unknown)
        raise StatementError(where, f"no signature by a known identity (unknown signer: {names})")
    return Statement.from_dict(st, signer, where)
