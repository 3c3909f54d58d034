"""Cursor pagination on every list endpoint, and bounded pages, against ``modelkin serve``.

Finding: `/api/v1/models` had no pagination (500 KB at 536 models) and the home page
loaded every record. Lists now come in pages of at most 200, chained by an opaque cursor;
the home page shows counts and the newest records only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from server_live import serve_process, tiny_model
from test_server_api import PROBLEM, identity_envelope

from modelkin.registry import Registry, register_derivation, register_identity, register_model
from modelkin.statements import Identity

MODELS = 12


@pytest.fixture(scope="module")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("pages")
    home = root / "home"
    alice, bob = Identity.generate("alice"), Identity.generate("bob")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        register_identity(reg, bob, "Bob Corp")
        for i in range(MODELS):
            register_model(
                reg, tiny_model(root / f"m{i}", i), alice, name=f"pm-{i:02d}", version="1",
                organisation="Alice Labs", license="mit", fingerprint=False,
            )  # fmt: skip
        for i in range(1, 5):
            register_derivation(
                reg, alice, child=f"pm-{i:02d}", parents=["pm-00"], relation="finetune"
            )
    with serve_process(home) as srv:
        yield srv.url


def walk(url: str, path: str, limit: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following next_cursor; also checks the Link header."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        q = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = httpx.get(url + path, params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in r.headers
            return items, pages
        link = r.headers["link"]
        assert link.endswith('; rel="next"') and f"cursor={cursor}" in link
        assert pages < 100


def test_models_come_in_cursor_pages(many: str) -> None:
    items, pages = walk(many, "/api/v1/models", 5)
    names = [i["name"] for i in items]
    assert names == [f"pm-{i:02d}" for i in range(MODELS)] and pages == 3
    indexes = [i["ledger_index"] for i in items]
    assert indexes == sorted(indexes) and len(set(indexes)) == MODELS
    # one call never returns more than a page, whatever is asked
    assert httpx.get(f"{many}/api/v1/models").json()["count"] == MODELS  # default 50
    r = httpx.get(f"{many}/api/v1/models", params={"limit": 201})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_a_write_between_pages_neither_shifts_nor_repeats(many: str) -> None:
    first = httpx.get(f"{many}/api/v1/identities", params={"limit": 1}).json()
    assert [i["name"] for i in first["items"]] == ["alice"]
    env = identity_envelope(Identity.generate("aaron"), "Aaron Org")  # sorts before bob
    assert httpx.post(f"{many}/api/v1/statements", json=env).status_code == 201
    rest, _ = walk(many, "/api/v1/identities", 1, cursor=first["next_cursor"])
    # the registry's own verifier (it signed the claims' checks) sorts last
    (verifier,) = [i["name"] for i in rest if i["name"].startswith("verifier-")]
    assert [i["name"] for i in rest] == ["bob", verifier]  # "aaron" sorts before the cursor
    everyone, _ = walk(many, "/api/v1/identities", 2)
    assert [i["name"] for i in everyone] == ["aaron", "alice", "bob", verifier]


def test_search_and_derivations_are_paged(many: str) -> None:
    found, pages = walk(many, "/api/v1/search", 4, q="pm-", kind="model")
    assert [i["name"] for i in found] == [f"pm-{i:02d}" for i in range(MODELS)] and pages == 3
    claims, pages = walk(many, "/api/v1/models/pm-00/derivations", 3)
    assert len(claims) == 4 and pages == 2
    assert all(c["kind"] == "derivation" for c in claims)
    for path in ("/api/v1/datasets", "/api/v1/training-runs", "/api/v1/products", "/api/v1/works"):
        body = httpx.get(many + path, params={"limit": 1}).json()
        assert body == {"count": 0, "items": [], "next_cursor": None}, path


@pytest.mark.parametrize("cursor", ["not-a-cursor", "bjpib2I", "aTotMQ", "aTox" * 100])
def test_a_cursor_the_server_did_not_issue_is_a_400(many: str, cursor: str) -> None:
    r = httpx.get(f"{many}/api/v1/models", params={"cursor": cursor})
    assert r.status_code in (400, 422) and r.headers["content-type"] == PROBLEM
    assert r.json()["detail"]


def test_home_page_shows_counts_and_the_newest_records_only(many: str) -> None:
    html = httpx.get(f"{many}/").text
    numbers = dict(re.findall(r'<a href="(/\w+)"><strong>(\d+)</strong>', html))
    assert numbers["/models"] == str(MODELS) and numbers["/claims"] == "4"
    table = html.split("The latest records of every kind, newest first", 1)[1]
    shown = re.findall(r">(pm-\d\d)</a>", table)
    assert shown == [f"pm-{i:02d}" for i in range(MODELS - 1, 5, -1)]  # 4 claims + 6 models


def test_ledger_page_shows_one_window(many: str) -> None:
    html = httpx.get(f"{many}/ledger", params={"start": 3}).text
    rows = re.findall(r"<tr>\s*<td>(\d+)</td>", html)
    assert rows and int(rows[0]) < 3 + 50 and int(rows[-1]) == 3
    assert ">pm-01<" in html  # entry 3 is the second model


def test_checkpoint_history_is_paged(many: str) -> None:
    """Finding: ``/api/v1/ledger/checkpoints`` returned every checkpoint the log ever signed
    (one per append group: it grows with every write). Now keyset pages by tree size."""
    items, pages = walk(many, "/api/v1/ledger/checkpoints", 5)
    sizes = [c["size"] for c in items]
    assert pages >= 4 and sizes == sorted(set(sizes)) and sizes[0] == 0
    assert all(c["checkpoint"].split("\n")[1] == str(c["size"]) for c in items)
    newest, _ = walk(many, "/api/v1/ledger/checkpoints", 7, newest_first="true")
    assert [c["size"] for c in newest] == sizes[::-1]
    html = httpx.get(f"{many}/ledger").text  # the page shows the newest 20, newest first
    shown = [int(n) for n in re.findall(r"<summary>size (\d+)</summary>", html)]
    assert shown == sizes[::-1][:20]
