"""The newcomer's path through the demo in real Chromium, JavaScript on: the story on the
home page, a verified and a contradicted claim followed to their evidence, two models
compared, a label, a work and a ledger proof (checked again by the browser, and caught by
it when the page's numbers are altered). A screenshot of each page goes to ``shots``
(MODELKIN_SCREENSHOTS=DIR keeps them for review)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_live import live_server

from modelkin.server import ServerSettings
from modelkin_dev.demo import seed_demo
from modelkin_dev.demo.seed import demo_signer

pytestmark = pytest.mark.models
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def demo_site(
    tmp_path_factory: pytest.TempPathFactory, real_models: dict[str, Path]
) -> Iterator[str]:
    home = tmp_path_factory.mktemp("newcomer") / "home"
    seed_demo(home, fetch=real_models.__getitem__)
    with live_server(home, ServerSettings(ui_signer=demo_signer(home))) as url:
        yield url


def _page(browser: Any) -> Any:
    return browser.new_context(viewport=DESKTOP).new_page()


def follow(control: Any) -> None:
    with control.page.expect_navigation():
        control.click()


def _browser_check(page: Any) -> str:
    """The proof's verdict written by /static/proof.js once it has run."""
    page.wait_for_selector("[data-proof][data-browser-check]", timeout=30_000)
    return str(page.locator("[data-proof]").get_attribute("data-browser-check"))


def _fitted(page: Any, selector: str) -> int:
    """The height /static/frames.js gave a framed document (its content's height)."""
    page.wait_for_selector(f"{selector}[data-fitted]", timeout=60_000)
    return int(page.locator(selector).get_attribute("data-fitted"))


def test_the_newcomer_path(demo_site: str, browser: Any, shots: Path) -> None:
    page = _page(browser)
    page.goto(demo_site + "/")
    claims = page.get_by_role("region", name="Lineage claims and what the weights say")
    text = claims.inner_text()
    assert re.search(r"verified\s+minilm-l6-tuned ← all-MiniLM-L6-v2", text), text
    assert re.search(r"contradicted\s+minilm-l6-scratch ← all-MiniLM-L6-v2", text), text
    models = page.get_by_role("table", name=re.compile("The newest registered models"))
    assert "sentence-transformers" in models.inner_text() and "Google" in models.inner_text()
    page.screenshot(path=str(shots / "01-home.png"), full_page=True)

    # a verified claim, followed to its evidence and its proof (checked by this browser)
    follow(claims.get_by_role("link", name="minilm-l6-tuned ← all-MiniLM-L6-v2"))
    assert page.locator("h1").inner_text().startswith("Lineage claim")
    assert "verified" in page.get_by_role("region", name="What the weights say").inner_text()
    assert _browser_check(page) == "ok"
    page.screenshot(path=str(shots / "02-claim-verified.png"), full_page=True)

    # the full evidence report of that claim, inside the site's layout
    follow(page.get_by_role("link", name="Full evidence report with plots"))
    assert page.get_by_role("heading", name=re.compile("^Verdict:")).is_visible()
    assert _fitted(page, "iframe.report") > 1000
    page.screenshot(path=str(shots / "03-compare-report.png"), full_page=True)

    # a contradicted claim
    page.goto(demo_site + "/")
    claims = page.get_by_role("region", name="Lineage claims and what the weights say")
    follow(claims.get_by_role("link", name="minilm-l6-scratch ← all-MiniLM-L6-v2"))
    weights = page.get_by_role("region", name="What the weights say").inner_text()
    assert "contradicted" in weights and "Full evidence report with plots" in weights
    page.screenshot(path=str(shots / "04-claim-contradicted.png"), full_page=True)

    # compare two models: the form starts with two different registered models
    page.goto(demo_site + "/compare")
    suspect = page.get_by_label("Suspect model").input_value()
    candidate = page.get_by_label("Possible parent").input_value()
    assert suspect and candidate and suspect != candidate
    follow(page.get_by_role("button", name="Compare", exact=True))
    assert page.get_by_role("heading", name=re.compile("^Verdict:")).is_visible()
    page.screenshot(path=str(shots / "05-compare.png"), full_page=True)

    # a model's page: its label framed at its full height (never cut off), the graph
    follow(page.get_by_role("link", name="all-MiniLM-L6-v2").first)
    height = _fitted(page, "iframe.label")
    box = page.locator("iframe.label").bounding_box()
    assert box is not None and abs(box["height"] - height) <= 4 and height > 600
    graph = page.locator("img.graph")
    assert graph.evaluate("img => img.complete && img.naturalWidth > 0")
    assert _browser_check(page) == "ok"
    page.screenshot(path=str(shots / "06-model-label.png"), full_page=True)

    # a work
    page.goto(demo_site + "/works")
    follow(page.get_by_role("link", name="Generated caption set"))
    assert "ai-generated" in page.locator("main").inner_text()
    page.screenshot(path=str(shots / "07-work.png"), full_page=True)

    # a ledger entry's proof from the explorer
    page.goto(demo_site + "/ledger")
    follow(page.get_by_role("link", name="inclusion proof").first)
    assert page.locator("h1").inner_text().startswith("Ledger entry #")
    assert _browser_check(page) == "ok"
    result = page.locator("output[data-proof-result]").inner_text()
    assert result.startswith("Your browser checked it too")
    page.screenshot(path=str(shots / "08-ledger-proof.png"), full_page=True)
    page.context.close()


def test_the_browser_catches_a_page_whose_proof_does_not_add_up(
    demo_site: str, browser: Any, shots: Path
) -> None:
    """The page is altered in flight (one sibling hash of the audit path changed): the
    server's own "checked" line is still there, but the browser's check says it fails."""
    page = _page(browser)

    def tamper(route: Any) -> None:
        body = route.fetch().text()
        path = re.search(r'data-path="([0-9a-f]+)', body)
        assert path is not None
        first = path.group(1)
        altered = ("0" if first[0] != "0" else "1") + first[1:]
        route.fulfill(body=body.replace(first, altered, 1), content_type="text/html")

    page.route(re.compile(r".*/ledger/5$"), tamper)
    page.goto(demo_site + "/ledger/5")
    assert _browser_check(page) == "failed"
    result = page.locator("output[data-proof-result]").inner_text()
    assert "does not lead to the signed root" in result
    page.screenshot(path=str(shots / "09-tampered-proof.png"), full_page=True)
    page.context.close()
