"""Pages for every record kind, the lists and the rendered inclusion proofs (no JavaScript
here: tests/browser runs the same pages in Chromium). Nothing a user reaches from the home
page is raw JSON; the proof a page shows recomputes, from its own numbers, to the root the
log signed."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import re
from collections.abc import Iterator

import httpx
import pytest
from server_live import checkpoint_root, live_server, tiny_model

from modelkin.registry import (
    Registry,
    dataset_predicate,
    manifest_from_directory,
    register_dataset,
    register_derivation,
    register_identity,
    register_model,
    register_training_run,
)
from modelkin.statements import Identity

MODELS = 55  # more than one page of 50


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("pages")
    home = root / "home"
    alice = Identity.generate("alice")
    data = root / "data"
    data.mkdir()
    (data / "train.txt").write_text("a cat\n")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        for i in range(MODELS):
            register_model(
                reg, tiny_model(root / f"m{i}", i), alice, name=f"pm-{i:02d}", version="1",
                organisation="Alice Labs" if i % 2 else "Bob Works", license="mit",
                fingerprint=False,
            )  # fmt: skip
        register_dataset(reg, alice, dataset_predicate(
            name="pairs", manifest=manifest_from_directory(data), version="1",
            organisation="Alice Labs", description="Sentence pairs.", licenses=["CC-BY-4.0"],
        ))  # fmt: skip
        register_training_run(
            reg, alice, name="tune-run", hardware_kind="cpu", hardware_count=1,
            started_at="2026-11-01T10:00:00Z", ended_at="2026-11-01T10:20:00Z",
            output="pm-01", input_models=["pm-00"], datasets=["pairs"], organisation="Alice Labs",
        )  # fmt: skip
        register_derivation(reg, alice, child="pm-01", parents=["pm-00"], relation="finetune")
    with live_server(home) as url:
        yield url


def _links(page: str) -> list[str]:
    return [html_lib.unescape(h) for h in re.findall(r'href="(/[^"]*)"', page)]


def _no_raw_json(page: str, where: str) -> None:
    assert "&#34;:" not in page and '{"' not in page and "&#123;" not in page, where


def test_home_links_lead_to_pages_never_raw_json(site: str) -> None:
    home = httpx.get(f"{site}/").text
    for number in ("/models", "/claims", "/datasets", "/runs", "/ledger"):
        assert f'href="{number}"' in home, number
    assert "pm-01 ← pm-00" in home  # the claim, as child ← parent
    followed = 0
    for link in sorted(set(_links(home))):
        if link.startswith(("/api/", "/openapi", "/checkpoint", "/static/", "/docs")):
            continue  # the machine-readable API (and its documentation) is JSON by design
        r = httpx.get(site + link, timeout=60, follow_redirects=True)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), link
        _no_raw_json(r.text, link)
        followed += 1
    assert followed >= 15


def test_models_list_is_paged_and_filtered(site: str) -> None:
    first = httpx.get(f"{site}/models").text
    names = re.findall(r">(pm-\d\d)</a>", first)
    assert len(names) == 50 and names[0] == f"pm-{MODELS - 1:02d}"  # newest first
    older = re.search(r'href="/models\?before=(\d+)"', first)
    assert older is not None
    rest = httpx.get(f"{site}/models", params={"before": older.group(1)}).text
    assert re.findall(r">(pm-\d\d)</a>", rest) == [f"pm-{i:02d}" for i in range(4, -1, -1)]
    bob = httpx.get(f"{site}/models", params={"q": "Bob Works"}).text
    shown = re.findall(r">(pm-\d\d)</a>", bob)
    assert shown and all(int(n[3:]) % 2 == 0 for n in shown)
    claims = httpx.get(f"{site}/claims", params={"verdict": "unverifiable"}).text
    assert "pm-01 ← pm-00" in claims
    verified = httpx.get(f"{site}/claims", params={"verdict": "verified"}).text
    assert "pm-01 ← pm-00" not in verified and "No claims match" in verified


def _proof_numbers(page: str) -> tuple[str, list[tuple[str, str, str]], str, str]:
    leaf = re.search(r'data-leaf="([0-9a-f]{64})"', page)
    steps = re.findall(
        r"<td>\d+</td><td>(left|right)</td><td><code class=\"digest\">([0-9a-f]{64})</code></td>"
        r"<td><code class=\"digest\">([0-9a-f]{64})</code></td>",
        page,
    )
    cp = re.search(r'data-checkpoint="([^"]*)"', page)
    signed = re.search(r"Root the log signed</dt><dd><code class=\"digest\">([0-9a-f]{64})", page)
    assert leaf and cp and signed
    return leaf.group(1), steps, html_lib.unescape(cp.group(1)), signed.group(1)


@pytest.mark.parametrize("kind", ["derivation", "dataset", "training-run", "model"])
def test_every_record_page_shows_a_proof_that_adds_up(site: str, kind: str) -> None:
    listing = {"derivation": "claims", "dataset": "datasets", "training-run": "runs",
               "model": "models"}[kind]  # fmt: skip
    page = httpx.get(f"{site}/{listing}").text
    target = next(h for h in _links(page) if h.startswith(("/records/", "/models/")))
    page = httpx.get(site + target, follow_redirects=True).text
    _no_raw_json(page, target)
    assert 'data-server-check="ok"' in page
    leaf, steps, checkpoint, signed = _proof_numbers(page)
    running = bytes.fromhex(leaf)
    for side, sibling, result in steps:
        pair = (
            bytes.fromhex(sibling) + running if side == "left" else running + bytes.fromhex(sibling)
        )
        running = hashlib.sha256(b"\x01" + pair).digest()
        assert running.hex() == result
    _, root = checkpoint_root(checkpoint)
    assert running == root and root.hex() == signed
    index = int(re.search(r'data-index="(\d+)"', page).group(1))  # type: ignore[union-attr]
    entry = httpx.get(f"{site}/api/v1/ledger/entries/{index}").json()
    raw = base64.b64decode(entry["entry"])
    assert hashlib.sha256(b"\x00" + raw).hexdigest() == leaf
    assert 'src="/static/proof.js"' in page
    if kind == "derivation":
        assert "pm-01</a></strong>" in page and "is claimed to be a <em>finetune</em> of" in page


def test_ledger_entry_page_and_explorer_link_to_pages(site: str) -> None:
    ledger = httpx.get(f"{site}/ledger").text
    assert "/api/v1/ledger/proof/inclusion" not in ledger.split("<table", 1)[1].split("</table>")[0]
    page = httpx.get(f"{site}/ledger/0").text
    assert "Ledger entry #0" in page and 'data-server-check="ok"' in page
    _no_raw_json(page, "/ledger/0")
    assert httpx.get(f"{site}/ledger/999999").status_code == 404
