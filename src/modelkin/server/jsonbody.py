"""Bounded JSON request bodies: depth and node count checked before the body is parsed.

FastAPI parses a body as JSON when it has no content type or an ``application/json`` (or
``+json``) one; Python's parser raises ``RecursionError`` on a few thousand nested
brackets. This middleware reads such bodies (the size is already bounded by
:class:`~modelkin.server.guards.BodyLimit`, which wraps it), refuses one nested deeper than
:data:`~modelkin.statements.bounds.MAX_DEPTH` or with too many nodes with 422
problem+json, and otherwise hands the same bytes on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from email.message import Message as MimeMessage
from typing import Any

from modelkin.server.problems import PROBLEM_JSON
from modelkin.statements.bounds import JsonBoundsError, check_json_text

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def parsed_as_json(content_type: str | None) -> bool:
    """Whether FastAPI would parse a body of this content type as JSON (its own rule)."""
    if not content_type:
        return True
    msg = MimeMessage()
    msg["content-type"] = content_type
    if msg.get_content_maintype() != "application":
        return False
    sub = msg.get_content_subtype()
    return sub == "json" or sub.endswith("+json")


class JsonBodyBounds:
    """ASGI middleware: 422 for JSON bodies that are too deep or too large in nodes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        ctype = None
        for name, value in scope.get("headers", []):
            if name == b"content-type":
                ctype = value.decode("latin-1")
        if not parsed_as_json(ctype):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            msg = await receive()
            if msg["type"] != "http.request":  # the client went away
                await self.app(scope, _replay(msg, receive), send)
                return
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            check_json_text(body, "request body")
        except JsonBoundsError as exc:
            await _refuse(scope, send, exc.problem)
            return
        whole = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay(whole, receive), send)


def _replay(first: Message, receive: Receive) -> Receive:
    """A ``receive`` that hands over ``first`` (the buffered body), then defers to the
    client's own (so a later wait for disconnect still sees the real one)."""
    pending = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


async def _refuse(scope: Scope, send: Send, detail: str) -> None:
    body = json.dumps(
        {
            "type": "urn:modelkin:problem:json-bounds",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": detail,
            "instance": scope.get("path", ""),
            "where": "request body",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
