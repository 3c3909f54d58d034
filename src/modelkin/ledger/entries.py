"""What ``--require-json`` admits into a log: RFC 8785 canonical JSON, nothing else.

An entry is hashed as bytes, so two spellings of one JSON value would be two different
entries that "say" the same thing, and a value a parser reads differently from another
(duplicate keys: first or last wins? ``NaN``: not JSON at all) says different things to
different verifiers. So the entry must be exactly the RFC 8785 (JCS) serialisation of
the value it parses to: UTF-8 without BOM, no duplicate keys, no NaN or Infinity, keys
sorted by UTF-16 code units, ECMAScript number formatting, no insignificant white space.
"""

from __future__ import annotations

import json
from typing import Any

from modelkin.errors import LedgerError, ModelkinError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def require_canonical_json(data: bytes, where: str) -> Any:
    """Return the parsed value, or raise :class:`LedgerError` saying what is wrong."""
    if not data:
        raise LedgerError(where, "empty entry (there is nothing to attest)")
    if data.startswith(b"\xef\xbb\xbf"):
        raise LedgerError(where, "not canonical JSON: starts with a UTF-8 byte order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LedgerError(where, f"not valid JSON: not UTF-8 ({exc.reason})") from exc
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as exc:
        raise LedgerError(where, f"not valid JSON ({exc})") from exc
    from modelkin.statements.canonical import canonical_json

    try:
        canon = canonical_json(value)
    except ModelkinError as exc:
        raise LedgerError(where, f"not canonical JSON: {exc.problem}") from exc
    if canon != data:
        at = next(
            (i for i, (a, b) in enumerate(zip(canon, data, strict=False)) if a != b),
            min(len(canon), len(data)),
        )
        raise LedgerError(
            where,
            f"not RFC 8785 canonical JSON (differs at byte {at}); canonical form: "
            f"{canon[:120].decode('utf-8', 'replace')}",
        )
    return value
