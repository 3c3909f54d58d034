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

#: Largest integer an IEEE 754 double holds exactly (I-JSON, RFC 7493 s.2.2).
_SAFE_INT = 2**53 - 1


def _as_json_numbers(obj: Any) -> Any:
    """Map integers beyond the I-JSON safe range to the double they denote.

    RFC 8785 numbers are IEEE 754 doubles and it prints 4e18 as ``4000000000000000000``;
    parsing that back yields a Python int that ``rfc8785`` refuses, so a signed statement
    with, say, training FLOPs of 4e18 could not be re-canonicalised by a verifier. An
    integer that a double holds exactly is the same JSON number, so it is converted; one
    that it does not hold is left for the encoder to refuse (its value would change).
    """
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int):
        if abs(obj) > _SAFE_INT and float(obj) == obj:
            return float(obj)
        return obj
    if isinstance(obj, dict):
        return {k: _as_json_numbers(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_as_json_numbers(v) for v in obj]
    return obj


def canonical_json(obj: Any) -> bytes:
    """Serialise ``obj`` per RFC 8785; raises :class:`StatementError` for non-JSON values."""
    try:
        return rfc8785.dumps(_as_json_numbers(obj))
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise StatementError("statement", f"not canonicalisable as JSON (RFC 8785): {exc}") from exc


def json_digest(obj: Any) -> str:
    """Hex sha256 of the canonical JSON of ``obj`` (how records are named by content)."""
    return hashlib.sha256(canonical_json(obj)).hexdigest()
