"""Real headless Chromium: every page loads, lineage links work, keyboard and phone layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def follow(control: Any) -> None:
    """Click a link or submit button and wait until the page it leads to has loaded
    (reading the page right after ``click()`` could still see the old one)."""
    with control.page.expect_navigation():
        control.click()


def _page(browser: Any, size: dict[str, int]) -> Any:
    ctx = browser.new_context(viewport=size, java_script_enabled=False)
    return ctx.new_page()


def test_pages_load_and_lineage_link_is_followed(site: str, browser: Any, shots: Path) -> None:
    page = _page(browser, DESKTOP)
    page.goto(site + "/")
    assert page.locator("h1").inner_text() == "Where AI models come from, with the evidence"
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.get_by_role("main").is_visible()
    assert "tiny-tuned" in page.locator("table").first.inner_text()
    page.screenshot(path=str(shots / "home.png"), full_page=True)

    page.get_by_label("Model, dataset, organisation or SHA-256 digest").fill("tiny-tuned")
    follow(page.get_by_role("button", name="Search").last)
    follow(page.get_by_role("link", name="tiny-tuned").first)
    assert page.locator("h1").inner_text().startswith("tiny-tuned")
    evidence = page.get_by_role("table", name="Evidence for each lineage edge")
    assert "finetune" in evidence.inner_text()
    assert "unverifiable" in evidence.inner_text()
    page.screenshot(path=str(shots / "model.png"), full_page=True)

    follow(evidence.get_by_role("link", name="tiny-base"))  # follow the lineage edge
    assert page.locator("h1").inner_text().startswith("tiny-base")
    assert page.locator("iframe.label").count() == 1
    assert page.get_by_role("link", name="cyclonedx").get_attribute("href", timeout=2000)

    page.goto(site + "/ledger")
    assert page.get_by_role("table", name="Logged statements, newest first").is_visible()
    follow(page.get_by_role("button", name="Verify the whole log"))
    assert "Log verified" in page.get_by_role("status").inner_text()
    page.screenshot(path=str(shots / "ledger.png"), full_page=True)

    page.goto(site + "/compare")
    assert page.get_by_label("Suspect model").is_visible()
    page.screenshot(path=str(shots / "compare.png"), full_page=True)

    page.goto(site + "/models/no-such-model")
    assert page.get_by_role("alert").inner_text().startswith("no-such-model")
    page.context.close()


def test_keyboard_and_phone(site: str, browser: Any, shots: Path) -> None:
    page = _page(browser, PHONE)
    page.goto(site + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.screenshot(path=str(shots / "home-phone.png"), full_page=True)
    # no horizontal scrolling on a phone
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    page.goto(site + "/search?q=tiny")
    follow(page.get_by_role("link", name="tiny-tuned").first)
    page.screenshot(path=str(shots / "model-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.context.close()


def test_register_a_work_through_the_form(
    site: str, browser: Any, shots: Path, tmp_path: Path
) -> None:
    content = tmp_path / "song-lyrics.txt"
    content.write_text("la la la, a song written with some help\n")
    page = _page(browser, DESKTOP)
    page.goto(site + "/works")
    page.get_by_label("Title").fill("Song with help")
    page.get_by_label("Kind").select_option("text")
    page.get_by_label("Created").fill("2026-09-01")
    page.get_by_label("Author").fill("Ada Writer")
    page.get_by_label("Content file").set_input_files(str(content))
    page.get_by_label("AI system (empty if none)").fill("tiny-tuned")
    page.get_by_label("Its role").select_option("assisted")
    page.get_by_label("AI-generated share (0–1)").fill("0.2")
    page.get_by_label("Human contribution").fill("melody and most of the words")
    page.screenshot(path=str(shots / "works-form.png"), full_page=True)
    follow(page.get_by_role("button", name="Register work"))
    assert "Registered" in page.get_by_role("status").inner_text()
    table = page.get_by_role("table", name="Registered works: tier and protection under uk-cdpa")
    row = table.get_by_role("row", name="Song with help")
    assert "ai-assisted" in row.inner_text()
    page.screenshot(path=str(shots / "works.png"), full_page=True)
    page.get_by_label("Jurisdiction rule pack").select_option("us")
    follow(page.get_by_role("button", name="Show terms"))
    assert page.get_by_role("table", name="Registered works: tier and protection under us")
    # a bad date comes back as a readable error page, and nothing is registered
    page.goto(site + "/works")
    page.get_by_label("Title").fill("Bad date")
    page.get_by_label("Created").fill("2999-01-01")
    page.get_by_label("Author").fill("Ada Writer")
    page.get_by_label("Content file").set_input_files(str(content))
    follow(page.get_by_role("button", name="Register work"))
    assert page.get_by_role("alert").is_visible()
    page.goto(site + "/works")
    assert page.get_by_role("row", name="Bad date").count() == 0
    page.context.close()
