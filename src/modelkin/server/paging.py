"""Cursor pagination for every list the API serves.

A list answers ``{"count": <items on this page>, "items": [...], "next_cursor": <str|null>}``
and, when there is more, a ``Link: <...>; rel="next"`` header (RFC 8288) with the same
cursor. Clients pass ``cursor`` back unchanged; it is opaque (today it encodes the last
ledger index or identity name seen, see :mod:`modelkin.registry.pages`), and a cursor the
server did not issue is a 400. ``limit`` is bounded (:data:`MAX_LIMIT`), so no request
returns more than a page however large the registry grows.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from modelkin.errors import ModelkinError

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None,
    Query(max_length=400, description="next_cursor of the previous page (opaque)"),
]


def encode_index(index: int) -> str:
    return _enc(f"i:{index}")


def encode_name(name: str) -> str:
    return _enc(f"n:{name}")


def _enc(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


def _dec(cursor: str, tag: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        text = ""
    prefix = f"{tag}:"
    if not text.startswith(prefix):
        raise ModelkinError(
            "cursor", "not a cursor this list issued; start again from the first page"
        )
    return text[len(prefix) :]


def decode_index(cursor: str | None) -> int | None:
    """The ledger index a record list continues after (None: from the start)."""
    if cursor is None:
        return None
    value = _dec(cursor, "i")
    if not value.isdigit() or len(value) > 18:
        raise ModelkinError(
            "cursor", "not a cursor this list issued; start again from the first page"
        )
    return int(value)


def decode_name(cursor: str | None) -> str | None:
    """The identity name a list continues after (None: from the start)."""
    return None if cursor is None else _dec(cursor, "n")


def page_response(request: Request, items: list[Any], next_cursor: str | None) -> JSONResponse:
    """The list body, with a ``Link: rel="next"`` header when there is a next page."""
    headers = {}
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    body = {"count": len(items), "items": items, "next_cursor": next_cursor}
    return JSONResponse(body, headers=headers)
