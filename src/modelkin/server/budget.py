"""A bounded work queue with a per-client budget for the CPU-heavy forensic endpoints.

Why not a token: forensics on public records is a public service (anyone may ask whether a
model derives from a registered one), so these endpoints stay open; what must not happen
is that a few clients posting 32 MB uploads in parallel take every CPU and every worker
thread, so that nobody can read the registry. So:

* **admission** happens when the request's headers arrive, before its body is read
  (:class:`HeavyAdmission`, ASGI middleware): at most ``queue`` heavy requests are in the
  server at once, at most ``per_client`` of them from one client, and one client starts at
  most ``per_minute`` a minute. Anything over is answered at once, 429 (that client is over
  its budget) or 503 (the server is full), with ``Retry-After``, and its body is never
  read;
* **computation** happens in at most ``slots`` jobs at a time (:meth:`WorkGate.slot`);
  admitted jobs wait for a slot at most ``wait_s`` seconds, then get 503.

Reads never pass through the gate, and heavy requests can occupy at most ``queue`` of the
server's worker threads, so reads always have threads left. A client is its address
(``--forwarded-allow-ips`` decides whether a proxy's ``X-Forwarded-For`` counts) or, with a
valid API token, its organisation.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import HTTPException
from starlette.requests import Request

from modelkin.server.guards import RateLimiter, client_key
from modelkin.server.problems import PROBLEM_JSON
from modelkin.server.settings import ServerSettings, WorkBudget

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refused(Exception):
    """Admission refused: HTTP status, a sentence, seconds until a retry may pass."""

    def __init__(self, status: int, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.status, self.detail, self.retry_after = status, detail, retry_after


class WorkGate:
    """Admission counts and computation slots for heavy requests (thread-safe)."""

    def __init__(self, budget: WorkBudget) -> None:
        if min(budget.slots, budget.queue, budget.per_client, budget.per_minute) < 1:
            raise ValueError("every work budget limit must be at least 1")
        self.budget = budget
        self._lock = threading.Lock()
        self._admitted = 0
        self._by_client: dict[str, int] = {}
        self._rate = RateLimiter(budget.per_minute)
        self._slots = threading.BoundedSemaphore(budget.slots)

    def admit(self, key: str) -> None:
        """Count one heavy request for ``key`` or raise :class:`Refused`."""
        b = self.budget
        with self._lock:
            mine = self._by_client.get(key, 0)
            if mine >= b.per_client:
                raise Refused(
                    429,
                    f"you already have {mine} forensic request(s) in progress on this server "
                    f"(at most {b.per_client} at a time); wait for it to finish",
                    5,
                )
            if self._admitted >= b.queue:
                raise Refused(
                    503,
                    f"the server is busy with forensic work ({self._admitted} requests in "
                    "progress); try again shortly",
                    10,
                )
            wait = self._rate.allow(key)
            if wait is not None:
                raise Refused(
                    429,
                    f"forensic request rate limit: at most {b.per_minute} a minute per client",
                    int(wait) + 1,
                )
            self._admitted += 1
            self._by_client[key] = mine + 1

    def release(self, key: str) -> None:
        with self._lock:
            self._admitted -= 1
            left = self._by_client.get(key, 1) - 1
            if left > 0:
                self._by_client[key] = left
            else:
                self._by_client.pop(key, None)

    @property
    def in_progress(self) -> int:
        with self._lock:
            return self._admitted

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one computation slot (503 if none frees up within ``wait_s``)."""
        if not self._slots.acquire(timeout=self.budget.wait_s):
            raise HTTPException(
                503,
                "the server's forensic workers stayed busy; try again shortly",
                headers={"Retry-After": "10"},
            )
        try:
            yield
        finally:
            self._slots.release()


def is_heavy(method: str, path: str, query: str) -> bool:
    """Whether a request asks for forensic computation (see the module docstring)."""
    if path.startswith("/api/v1/forensics/"):
        return method in ("GET", "POST")
    if path == "/api/v1/federation/candidates":  # a local 1:N search, then the peers'
        return method == "POST"
    if path == "/compare":
        if method == "POST":
            return True
        q = parse_qs(query)
        return method == "GET" and bool(q.get("suspect")) and bool(q.get("candidate"))
    if path == "/ledger" and method == "GET":
        return "verify" in parse_qs(query)
    return False


class HeavyAdmission:
    """ASGI middleware: admit heavy requests through the gate before reading their body."""

    def __init__(self, app: ASGIApp, gate: WorkGate, settings: ServerSettings) -> None:
        self.app, self.gate, self.settings = app, gate, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_heavy(
            str(scope.get("method", "")),
            str(scope.get("path", "")),
            bytes(scope.get("query_string", b"")).decode("latin-1"),
        ):
            await self.app(scope, receive, send)
            return
        key = client_key(Request(scope), self.settings)
        try:
            self.gate.admit(key)
        except Refused as exc:
            await _refuse(scope, send, exc)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.release(key)


async def _refuse(scope: Scope, send: Send, exc: Refused) -> None:
    import json

    title = "Too Many Requests" if exc.status == 429 else "Service Unavailable"
    body = json.dumps(
        {
            "type": "urn:modelkin:problem:work-budget",
            "title": title,
            "status": exc.status,
            "detail": exc.detail,
            "instance": scope.get("path", ""),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(exc.retry_after).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
