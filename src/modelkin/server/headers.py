"""Response headers that make the browser enforce what the server intends, and the Host check.

Every response gets ``X-Content-Type-Options: nosniff``, a ``Referrer-Policy`` and a
Content-Security-Policy; a route may set its own policy first (label and evidence-report
documents do, through :func:`document_headers`), and the middleware leaves it alone.

* Pages (``text/html`` from our templates): scripts and styles only from ``/static``
  (never inline, never another origin: the proof checks that re-run a page's inclusion
  proof in the browser are same-origin files; the UI works without them), frames only from this origin (the label
  iframe), forms only to this origin, and the page itself may not be framed by anyone
  (``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` for older browsers):
  clickjacking the works form is not possible.
* Documents shown inside our own pages (a model's label, a forensic evidence report): they
  carry inline ``<style>`` and ``style=`` attributes written by the label and report
  renderers, so ``style-src 'unsafe-inline'``, but no script source at all
  (``default-src 'none'``: nothing in them can run, inline or not), no form target, and they
  may be framed by this origin only. (The ``sandbox`` directive would say the same about
  scripts; with it, headless Chromium intermittently stopped following links in the page
  around the frame, so it is left out where framing is the point.)
* Everything else (JSON, SVG, PNG, CSS, text): ``default-src 'none'`` plus ``sandbox``, so a
  response opened directly in a browser can load and run nothing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
OTHER_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; sandbox; frame-ancestors 'none'"
)
REFERRER_POLICY = "same-origin"  # our own links keep the Referer (a CSRF fallback check);
# other sites never see a search query or a record id in it


def document_headers() -> dict[str, str]:
    """Headers for an HTML document that our own pages embed (label, evidence report)."""
    return {"Content-Security-Policy": DOCUMENT_CSP, "X-Frame-Options": "SAMEORIGIN"}


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                present = {bytes(k).lower() for k, _ in headers}
                ctype = next(
                    (bytes(v) for k, v in headers if bytes(k).lower() == b"content-type"), b""
                )
                html = ctype.startswith(b"text/html")
                add = {
                    b"content-security-policy": PAGE_CSP if html else OTHER_CSP,
                    b"x-frame-options": "DENY",
                    b"x-content-type-options": "nosniff",
                    b"referrer-policy": REFERRER_POLICY,
                }
                headers += [(k, v.encode()) for k, v in add.items() if k not in present]
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)


class AllowedHosts:
    """Refuse requests whose ``Host`` header is not one the operator serves (400 problem).

    Why: a server on 127.0.0.1 is reachable from the operator's own browser, and a web page
    on another site can make its own name resolve to 127.0.0.1 (DNS rebinding); the browser
    then treats this server as that site, same-origin, and every cookie- or origin-based
    defence is void. The name the browser asked for still arrives in ``Host``."""

    def __init__(self, app: ASGIApp, hosts: tuple[str, ...]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.hosts = {h.lower() for h in hosts}

    def allowed(self, host: str) -> bool:
        if self.any:
            return True
        host = host.lower()
        if host.startswith("["):  # [v6]:port
            name = host.split("]", 1)[0] + "]"
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        return name in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any:
            await self.app(scope, receive, send)
            return
        host = next(
            (
                bytes(v).decode("latin-1")
                for k, v in scope.get("headers", [])
                if bytes(k) == b"host"
            ),
            "",
        )
        if self.allowed(host):
            await self.app(scope, receive, send)
            return
        body = json.dumps(
            {
                "type": "urn:modelkin:problem:host",
                "title": "Bad Request",
                "status": 400,
                "detail": f"this server does not answer to the host name {host[:100]!r} "
                "(the operator lists the names it serves with --allowed-host)",
                "instance": scope.get("path", ""),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 400,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
