"""Write guards: request-size limit (ASGI middleware), read-only mode, per-organisation
tokens, rate limits.

The size limit is enforced while the body streams in, not only from ``Content-Length``,
so a client that lies about (or omits) the length still cannot make the server buffer more
than the limit.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException, Request

from modelkin.server.problems import PROBLEM_JSON
from modelkin.server.settings import ServerSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse request bodies above the limit with 413 problem+json.

    ``upload_limit`` applies to paths under ``upload_prefixes`` (fingerprint and work-content
    uploads, which are larger than statements); ``limit`` to everything else."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        upload_limit: int | None = None,
        upload_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.default = limit
        self.upload_limit = upload_limit if upload_limit is not None else limit
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = self.upload_limit if path.startswith(self.upload_prefixes) else self.default
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._refuse(scope, send, limit)
                    return
        seen = 0
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit and not refused:
                    # Answer now: the app may catch the exception below and try to answer
                    # 400 itself; whatever it sends after this is dropped.
                    refused = True
                    await self._refuse(scope, send, limit)
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            if not refused:
                await send(msg)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, guarded_send)

    async def _refuse(self, scope: Scope, send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "type": "urn:modelkin:problem:too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"request body exceeds {limit} bytes",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """Sliding one-minute window of write timestamps per client key (thread-safe)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float | None:
        """None if allowed (and counted), else seconds until the next write may pass."""
        now = self.clock()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and now - q[0] >= 60.0:
                q.popleft()
            if len(q) >= self.per_minute:
                return max(0.0, 60.0 - (now - q[0]))
            q.append(now)
            if len(self._hits) > 10_000:  # bound memory: forget idle clients
                for k in [k for k, v in self._hits.items() if not v][:5_000]:
                    del self._hits[k]
            return None


def client_key(request: Request, settings: ServerSettings) -> str:
    """Who a request counts against: the organisation of a valid API token, else the
    client's address (the socket peer, or the proxy-reported one only when the operator
    trusts that proxy with ``--forwarded-allow-ips``)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    org = settings.organisation_for(token.strip()) if scheme.lower() == "bearer" else None
    if org is not None:
        return f"org:{org}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


def check_write(request: Request, settings: ServerSettings, limiter: RateLimiter) -> str | None:
    """Admit a write or raise 403/401/429; returns the token's organisation (None if open)."""
    org: str | None = None
    token: str | None = None
    if settings.read_only:
        raise HTTPException(
            403, "this registry is read-only: it accepts no writes (the operator runs it "
            "with --read-only)"
        )  # fmt: skip
    if settings.tokens:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        org = settings.organisation_for(token.strip()) if scheme.lower() == "bearer" else None
        if org is None:
            raise HTTPException(
                401,
                "this registry requires an API token for writes (Authorization: Bearer <token>)",
                headers={"WWW-Authenticate": 'Bearer realm="modelkin"'},
            )
    client = request.client.host if request.client else "unknown"
    wait = limiter.allow(f"org:{org}" if org else f"ip:{client}")
    if wait is not None:
        raise HTTPException(
            429, "write rate limit exceeded", headers={"Retry-After": str(int(wait) + 1)}
        )
    return org


def require_organisation(token_org: str, signer_org: str | None) -> None:
    """403 unless the write's signer belongs to the token's organisation (see :mod:`.orgs`)."""
    if signer_org != token_org:
        raise HTTPException(
            403,
            f"the API token is for {token_org!r} but the statement is signed by an identity "
            f"of {signer_org!r}" if signer_org else
            f"the API token is for {token_org!r} but the signer has no registered organisation",
        )  # fmt: skip
