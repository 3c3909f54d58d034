"""Real Chromium against the hardened UI: the Content-Security-Policy breaks nothing, a form
on another origin cannot register a work in the operator's name, and the API docs render
with the network cut off."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

PAGES = ("/", "/search?q=tiny", "/models/tiny-tuned", "/compare", "/works", "/ledger", "/docs")


def _context(browser: Any, js: bool = True) -> Any:
    return browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=js)


def test_pages_keep_working_under_the_csp(site: str, browser: Any) -> None:
    """Every page loads its stylesheet and frames with scripts enabled and reports no CSP
    violation; the label iframe (same origin, framed) renders."""
    ctx = _context(browser)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    for path in PAGES:
        page.goto(site + path)
        bg = page.evaluate(
            "getComputedStyle(document.querySelector('header.site')).backgroundColor"
        )
        assert bg == "rgb(13, 27, 42)", (path, bg)  # /static/style.css applied
    page.goto(site + "/models/tiny-tuned")
    label = page.frame_locator("iframe.label")
    assert "Model Facts" in label.locator("body").inner_text(timeout=10_000)
    assert problems == []
    ctx.close()


class _EvilSite:
    """Another origin serving a page with a form that posts to the registry."""

    def __init__(self, target: str) -> None:
        form = f"""<!doctype html><html><body><h1>Win a prize</h1>
<form method="post" action="{target}/works" enctype="multipart/form-data">
<input type="hidden" name="title" value="Forged by evil.example">
<input type="hidden" name="kind" value="text">
<input type="hidden" name="created" value="2024-01-01">
<input type="hidden" name="author" value="Mallory">
<input type="hidden" name="csrf_token" value="guessed">
<input type="file" name="content" aria-label="content">
<button type="submit">Claim</button></form></body></html>""".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(form)))
                self.end_headers()
                self.wfile.write(form)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _EvilSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _titles(site: str) -> list[str]:
    items = httpx.get(f"{site}/api/v1/works", params={"limit": 200}).json()["items"]
    return [w["predicate"]["title"] for w in items]


def test_a_form_on_another_origin_cannot_register_a_work(
    site: str, browser: Any, tmp_path: Any
) -> None:
    """The victim has the registry open (so the browser holds its CSRF cookie; the other
    origin is on the same host, so even a SameSite=Strict cookie goes along)."""
    content = tmp_path / "x.txt"
    content.write_text("forged\n")
    ctx = _context(browser, js=False)
    page = ctx.new_page()
    page.goto(site + "/works")
    assert ctx.cookies(site)  # the CSRF cookie is set
    with _EvilSite(site) as evil:
        page.goto(evil.url)
        page.get_by_label("content").set_input_files(str(content))
        with page.expect_navigation():
            page.get_by_role("button", name="Claim").click()
        assert page.url.startswith(site + "/works")
        assert "form post from another origin refused" in page.get_by_role("alert").inner_text()
    assert "Forged by evil.example" not in _titles(site)
    ctx.close()


@pytest.fixture
def offline_page(browser: Any, site: str) -> Iterator[Any]:
    """A page whose every request to another host fails, as if the machine were offline."""
    host = urlsplit(site).netloc
    ctx = _context(browser)
    blocked: list[str] = []

    def route(r: Any) -> None:
        if urlsplit(r.request.url).netloc == host:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    ctx.route("**/*", route)
    page = ctx.new_page()
    yield page, blocked
    ctx.close()


def test_api_docs_render_offline(site: str, offline_page: Any) -> None:
    page, blocked = offline_page
    page.goto(site + "/docs")
    assert page.locator("h1").inner_text().startswith("modelkin registry")
    ops = page.locator("article.op")
    assert ops.count() >= 20
    assert page.get_by_role("heading", name="POST /api/v1/statements", exact=True).is_visible()
    page.get_by_role("link", name="forensics", exact=True).click()
    assert page.get_by_role("heading", name="POST /api/v1/forensics/candidates").is_visible()
    assert blocked == []
