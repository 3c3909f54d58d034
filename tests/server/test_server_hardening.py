"""Web and HTTP hardening, each finding against a real ``modelkin serve`` process.

CSRF on form posts, security headers, proxy headers, LIKE wildcards, a DNS-rebinding Host,
the tokens file's permissions, what ``serve`` says about writes, ``--read-only``, and the
local API docs. (Pagination and the forensic work budget have their own modules.)
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from server_live import Seeded, ServeProcess, serve_process
from test_server_api import PROBLEM, identity_envelope

from modelkin.statements import Identity


@dataclass
class FormServer:
    url: str
    home: Path


@pytest.fixture(scope="module")
def form_server(tmp_path_factory: pytest.TempPathFactory, seeded: Seeded) -> Iterator[FormServer]:
    """The seeded registry served as the demo is: the works form signs with alice's key."""
    root = tmp_path_factory.mktemp("hardening")
    home = root / "home"
    shutil.copytree(seeded.home, home)
    key = seeded.alice.save(root / "alice.key")
    with serve_process(home, "--ui-signer", str(key)) as srv:
        yield FormServer(srv.url, home)


def work_fields() -> dict[str, str]:
    return {"title": "Forged poem", "kind": "text", "created": "2024-05-01", "author": "Mallory"}


def works_count(url: str) -> int:
    n, cursor = 0, None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(f"{url}/api/v1/works", params=params).json()
        n += page["count"]
        cursor = page["next_cursor"]
        if cursor is None:
            return n


def form_token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the form carries no CSRF token"
    return m.group(1)


def test_cross_origin_and_tokenless_form_posts_are_refused(form_server: FormServer) -> None:
    """Finding: `POST /works` accepted a cross-origin form post, signed with the operator's
    key. Now a post must carry the token of this browser's session and come from here."""
    u = form_server.url
    before = works_count(u)
    files = {"content": ("poem.txt", b"roses are red\n")}
    attempts = [
        {"Origin": "http://evil.example"},  # a form on another site
        {"Referer": "http://evil.example/page.html"},  # older browsers: Referer only
        {},  # no browser headers at all, no token
        {"Origin": u, "Sec-Fetch-Site": "cross-site"},
    ]
    for headers in attempts:
        r = httpx.post(f"{u}/works", data=work_fields(), files=files, headers=headers)
        assert r.status_code == 403, (headers, r.status_code, r.text[:200])
        assert "text/html" in r.headers["content-type"]
    # the compare upload form is a form post too
    r = httpx.post(
        f"{u}/compare",
        files={"suspect": b"x", "candidate": b"y"},
        headers={"Origin": "http://evil.example"},
    )
    assert r.status_code == 403
    assert works_count(u) == before


def test_a_session_token_works_only_with_its_own_cookie(form_server: FormServer) -> None:
    u = form_server.url
    before = works_count(u)
    files = {"content": ("poem.txt", b"a poem written here\n")}
    with httpx.Client(base_url=u) as victim, httpx.Client(base_url=u) as attacker:
        page = victim.get("/works")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        token = form_token(page.text)
        theirs = form_token(attacker.get("/works").text)
        # the attacker's own token does not go with the victim's cookie
        r = victim.post(
            "/works", data={**work_fields(), "csrf_token": theirs}, files=files,
            headers={"Origin": u},
        )  # fmt: skip
        assert r.status_code == 403
        # a token alone, without the cookie it is bound to, is refused
        r = httpx.post(
            f"{u}/works", data={**work_fields(), "csrf_token": token}, files=files,
            headers={"Origin": u},
        )  # fmt: skip
        assert r.status_code == 403
        # the right token and cookie, from the right origin: registered
        r = victim.post(
            "/works", data={**work_fields(), "csrf_token": token}, files=files,
            headers={"Origin": u},
        )  # fmt: skip
        assert r.status_code == 303, r.text[:300]
        assert r.headers["location"].startswith("/works?registered=")
    assert works_count(u) == before + 1


def test_security_headers_on_pages_documents_and_data(
    form_server: FormServer, seeded: Seeded
) -> None:
    """Finding: no CSP, X-Content-Type-Options or frame-ancestors headers."""
    u = form_server.url
    label = f"/api/v1/models/{seeded.model_id}/label?format=html"
    for path in ("/", "/works", "/compare", "/docs", "/ledger", "/models/tiny-one", "/nope"):
        r = httpx.get(u + path)
        csp = r.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
        assert directives["default-src"] == "'none'", path
        assert directives["script-src"] == "'self'", path  # same-origin files, never inline
        assert directives["frame-ancestors"] == "'none'" and r.headers["x-frame-options"] == "DENY"
        assert directives["style-src"] == "'self'" and directives["form-action"] == "'self'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", r.text, re.S)
        assert all(re.search(r'src="/static/[\w.-]+\.js"', a) and not body.strip()
                   for a, body in scripts), path  # fmt: skip
        assert " style=" not in r.text and not re.search(r'\son[a-z]+="', r.text), path
    # the label is framed by the model page: same origin only, and it runs nothing
    r = httpx.get(u + label)
    assert "frame-ancestors 'self'" in r.headers["content-security-policy"]
    assert "script" not in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    for path in ("/api/v1/models", "/static/style.css", "/checkpoint", "/openapi.json"):
        r = httpx.get(u + path)
        assert "default-src 'none'" in r.headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff", path
    # refusals made before the app (body limit) carry them too
    r = httpx.post(f"{u}/api/v1/statements", content=b"x" * (2 << 20))
    assert r.status_code == 413 and r.headers["x-content-type-options"] == "nosniff"


def test_like_wildcards_match_themselves(form_server: FormServer, seeded: Seeded) -> None:
    """Finding: `/api/v1/search?q=%` returned every record (unescaped LIKE)."""
    u = form_server.url
    for q in ("%", "%%", "tiny%", "_iny-one%"):
        found = httpx.get(f"{u}/api/v1/search", params={"q": q}).json()
        assert found["items"] == [], (q, [i["name"] for i in found["items"]])
    names = {
        i["name"] for i in httpx.get(f"{u}/api/v1/search", params={"q": "tiny-"}).json()["items"]
    }
    assert {"tiny-one", "tiny-two"} <= names
    hits = httpx.get(f"{u}/api/v1/search", params={"q": seeded.model_digest[:10]}).json()
    assert seeded.model_id in [i["id"] for i in hits["items"]]
    page = httpx.get(f"{u}/search", params={"q": "%"}).text
    assert "tiny-one" not in page


def test_a_foreign_host_name_is_refused(form_server: FormServer) -> None:
    """DNS rebinding: a page on evil.example whose name resolves to 127.0.0.1 reaches the
    server as same-origin; the Host header still says evil.example."""
    u = form_server.url
    port = u.rsplit(":", 1)[1]
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.evil.example:{port}"):
        r = httpx.get(f"{u}/works", headers={"Host": host})
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM, host
        assert "host name" in r.json()["detail"]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert httpx.get(f"{u}/works", headers={"Host": host}).status_code == 200


def test_docs_are_served_from_this_server(form_server: FormServer) -> None:
    """Finding: `/docs` loaded Swagger UI from a CDN (blank offline)."""
    r = httpx.get(f"{form_server.url}/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/api/v1/statements" in r.text and "/api/v1/forensics/candidates" in r.text
    assert "next_cursor" in r.text
    external = [
        m for m in re.findall(r'(?:src|href)="([^"]+)"', r.text) if not m.startswith(("/", "#"))
    ]
    assert external == []
    assert httpx.get(f"{form_server.url}/redoc").status_code == 404


def _post_junk(u: str, xff: str) -> httpx.Response:
    return httpx.post(
        f"{u}/api/v1/statements", json={"payload": "x"}, headers={"X-Forwarded-For": xff}
    )


def test_forwarded_for_is_ignored_without_a_trusted_proxy(tmp_path: Path) -> None:
    """Finding: X-Forwarded-For was trusted from loopback, so rotating it escaped the
    per-client write limit."""
    with serve_process(tmp_path / "home", "--writes-per-minute", "2") as srv:
        codes = [_post_junk(srv.url, f"203.0.113.{i}").status_code for i in range(4)]
    assert codes[:2] == [422, 422] and codes[2:] == [429, 429], codes


def test_forwarded_for_is_believed_from_a_named_proxy(tmp_path: Path) -> None:
    opts = ("--writes-per-minute", "2", "--forwarded-allow-ips", "127.0.0.1")
    with serve_process(tmp_path / "home", *opts) as srv:
        assert any("X-Forwarded-For trusted from 127.0.0.1" in x for x in srv.banner)
        codes = [_post_junk(srv.url, "198.51.100.7").status_code for _ in range(3)]
        other = _post_junk(srv.url, "198.51.100.8").status_code
    assert codes == [422, 422, 429] and other == 422


def _banner(srv: ServeProcess, start: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in srv.banner:
            if line.startswith(start):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no {start!r} line in {srv.banner}")


def test_serve_says_who_can_write(tmp_path: Path) -> None:
    """Finding: `serve` did not say whether writes are open to anyone."""
    from modelkin.cli.serve import banner
    from modelkin.server import ServerSettings

    with serve_process(tmp_path / "home") as srv:
        assert "OPEN to anyone" in _banner(srv, "writes:")
        assert "not trusted" in _banner(srv, "proxy headers:")
        assert "127.0.0.1, localhost, [::1]" in _banner(srv, "answers to:")
    gated = banner(ServerSettings(tokens={"t" * 20: "A", "u" * 20: "A"}), "127.0.0.1", None)
    assert gated[0].startswith("writes: token-gated: 2 API token(s) for 1 organisation(s)")
    closed = banner(ServerSettings(read_only=True, tokens={"t" * 20: "A"}), "127.0.0.1", None)
    assert closed[0].startswith("writes: closed")
    public = banner(ServerSettings(allowed_hosts=("*",)), "0.0.0.0", None)
    assert public[-1].startswith("warning: listening on 0.0.0.0 with writes open to anyone")


def test_read_only_refuses_every_write(tmp_path: Path, seeded: Seeded) -> None:
    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)
    key = seeded.alice.save(tmp_path / "alice.key")
    with serve_process(home, "--read-only", "--ui-signer", str(key)) as srv:
        u = srv.url
        assert "closed" in _banner(srv, "writes:")
        assert "web form: off" in _banner(srv, "web form:")
        size = httpx.get(f"{u}/api/v1/ledger").json()["size"]
        env = identity_envelope(Identity.generate("newcomer"), "New Org")
        r = httpx.post(f"{u}/api/v1/statements", json=env)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
        assert "read-only" in r.json()["detail"]
        with httpx.Client(base_url=u) as c:
            page = c.get("/works")
            assert 'method="post" action="/works"' not in page.text  # no form offered
            r = c.post(
                "/works", data={**work_fields(), "csrf_token": form_token(c.get("/compare").text)},
                files={"content": ("p.txt", b"p")}, headers={"Origin": u},
            )  # fmt: skip
            assert r.status_code == 403
        assert httpx.get(f"{u}/api/v1/ledger").json()["size"] == size
        assert httpx.get(f"{u}/api/v1/models").status_code == 200


def test_a_readable_tokens_file_is_refused(tmp_path: Path) -> None:
    """Finding: a world-readable tokens file was accepted silently."""
    import subprocess
    import sys

    from modelkin.errors import ModelkinError
    from modelkin.server.tokens import load_tokens

    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"token-for-alice-labs-000000": "Alice Labs"}')
    tokens.chmod(0o644)
    proc = subprocess.run(
        [sys.executable, "-m", "modelkin", "serve", "--home", str(tmp_path / "h"),
         "--port", "1", "--tokens", str(tokens)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert str(tokens) in out and f"chmod 600 {tokens}" in out and "Traceback" not in out
    for mode in (0o640, 0o604, 0o660, 0o602):
        tokens.chmod(mode)
        with pytest.raises(ModelkinError, match=f"mode {mode:04o}.*chmod 600"):
            load_tokens(tokens)
    tokens.chmod(0o600)
    assert load_tokens(tokens) == {"token-for-alice-labs-000000": "Alice Labs"}
