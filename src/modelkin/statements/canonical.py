"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme).

Signatures and digests are computed over bytes, so every party must serialise the same
object to the same bytes. RFC 8785 fixes key order (UTF-16 code units), number formatting
(ECMAScript) and string escaping; the ``rfc8785`` package implements it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from modelkin.errors import StatementError


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` per RFC 8785; raises :class:`StatementError` for non-JSON values."""
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise StatementError("statement", f"not canonicalisable as JSON (RFC 8785): {exc}") from exc


def json_digest(obj: Any) -> str:
    """Hex sha256 of the canonical JSON of ``obj`` (how records are named by content)."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()
