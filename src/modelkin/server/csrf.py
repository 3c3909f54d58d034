"""Cross-site request forgery protection for the web UI's form posts.

Which requests need it: only the server-rendered forms (``POST /works``, which signs with
the operator's key, and ``POST /compare``). A form post from another site carries whatever
ambient authority the victim's browser has (its cookies, its network position: a registry on
127.0.0.1 or on an intranet), so the server must know the post came from its own page.

The JSON API does not need it, by construction: a write is authorised by the DSSE signature
inside the body, made with a private key the browser does not hold, and by an
``Authorization: Bearer`` token that browsers never attach by themselves; a cross-site page
can make a browser send neither. (Cross-site pages also cannot send ``application/json``
without a CORS preflight, which this server never approves; a ``text/plain`` body is not
parsed as an envelope.) Nothing on the API trusts cookies.

How (two independent checks, both must pass):

1. Origin: a browser names the page that sent a POST in ``Origin`` (or at least in
   ``Referer``) and, in current browsers, says ``Sec-Fetch-Site``; any of them naming
   another origin is refused. A request without them (not from a browser) still needs 2.
2. Double-submit token bound to a server secret: the page sets a random cookie
   (``HttpOnly``, ``SameSite=Strict``) and puts ``HMAC(secret, cookie)`` in a hidden form
   field. Another site can neither read the field nor compute it; a cookie planted from a
   sibling host is useless without the matching HMAC, which only this server can make.
   The secret lives in the home (``csrf.key``, 0600), so servers sharing a home agree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import Response

from modelkin.errors import ModelkinError
from modelkin.fsio import write_atomic

COOKIE = "modelkin_csrf"
FIELD = "csrf_token"
KEY_FILE = "csrf.key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CsrfGuard:
    """Issues and checks form tokens with the home's secret."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    @classmethod
    def for_home(cls, root: Path) -> CsrfGuard:
        """The guard with ``root/csrf.key`` (32 random bytes, 0600, made on first use)."""
        path = Path(root) / KEY_FILE
        try:
            if not path.exists():
                # written in full under a private name, then linked into place: a racing
                # server process either wins or finds the complete key, never a partial one
                tmp = write_atomic(
                    path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"),
                    secrets.token_bytes(32),
                    mode=0o600,
                )
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    pass
                finally:
                    tmp.unlink(missing_ok=True)
            secret = path.read_bytes()
        except OSError as exc:
            raise ModelkinError(path, f"cannot read or create the CSRF secret: {exc}") from None
        if len(secret) < 32:
            raise ModelkinError(path, "the CSRF secret is shorter than 32 bytes; delete it")
        return cls(secret)

    def token_for(self, cookie: str) -> str:
        """The form token that matches ``cookie``."""
        return _b64(
            hmac.new(self.secret, cookie.encode("ascii", "replace"), hashlib.sha256).digest()
        )

    def issue(self, request: Request) -> tuple[str, str | None]:
        """(form token, new cookie value or None if the request's cookie is reused)."""
        cookie = request.cookies.get(COOKIE, "")
        if 20 <= len(cookie) <= 100 and cookie.isascii():
            return self.token_for(cookie), None
        cookie = _b64(secrets.token_bytes(24))
        return self.token_for(cookie), cookie

    @staticmethod
    def set_cookie(request: Request, response: Response, cookie: str) -> None:
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )

    def check(self, request: Request, token: str) -> None:
        """403 unless the post came from one of this server's own pages."""
        refuse_cross_origin(request)
        cookie = request.cookies.get(COOKIE, "")
        if not cookie or not token or not hmac.compare_digest(self.token_for(cookie), token):
            raise HTTPException(
                403,
                "the form's security token is missing or does not match this browser's "
                "session; reload the page and submit the form again",
            )


def own_origin(request: Request) -> str:
    """``scheme://host[:port]`` as this request reached the server."""
    return f"{request.url.scheme}://{request.headers.get('host', '')}".lower()


def refuse_cross_origin(request: Request) -> None:
    """403 when the browser says the request came from another site or origin."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(
            403, f"form post from another origin refused (Sec-Fetch-Site: {site[:40]})"
        )
    origin = request.headers.get("origin")
    source = "Origin"
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return
        parts = urlsplit(referer)
        origin, source = f"{parts.scheme}://{parts.netloc}", "Referer"
    if origin.lower() != own_origin(request):
        raise HTTPException(
            403, f"form post from another origin refused ({source}: {origin[:100]})"
        )
