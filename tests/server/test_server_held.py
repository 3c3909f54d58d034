"""What held when the server was attacked, kept as tests against ``modelkin serve``:
replayed, re-signed, altered and unknown-key statements are refused; path traversal, 50 MB
bodies, malformed JSON, NUL bytes and invalid UTF-8 get 4xx; stored XSS payloads are escaped
everywhere; the server listens on loopback by default; under an 8-client write load
nothing is lost and every receipt's inclusion proof verifies."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_live import (
    Seeded,
    checkpoint_root,
    leaf_hash,
    root_from_inclusion,
    serve_process,
    tiny_model,
)
from test_server_api import PROBLEM, identity_envelope, product_envelope

from modelkin.registry import Registry, register_identity, register_model
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.statement import make_statement, subject

XSS = '<script>alert("x")</script>"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, seeded: Seeded
) -> Iterator[tuple[str, Seeded, str]]:
    """The seeded registry plus a model whose name, organisation and texts are XSS payloads."""
    root = tmp_path_factory.mktemp("held")
    home = root / "home"
    shutil.copytree(seeded.home, home)
    eve = Identity.generate("eve")
    with Registry.open(home) as reg:
        register_identity(reg, eve, XSS)
        rec = register_model(
            reg, tiny_model(root / "xss", 7), eve, name=XSS, version=XSS, organisation=XSS,
            license=XSS, intended_use=XSS, fingerprint=False,
        )  # fmt: skip
    with serve_process(home) as srv:
        yield srv.url, seeded, rec.record_id


def _size(u: str) -> int:
    return int(httpx.get(f"{u}/api/v1/ledger").json()["size"])


def test_replayed_resigned_altered_and_unknown_key_statements_are_refused(
    served: tuple[str, Seeded, str],
) -> None:
    u, seeded, _ = served
    env = product_envelope(seeded.alice, "held-app", seeded.model_digest)
    assert httpx.post(f"{u}/api/v1/statements", json=env).status_code == 201
    before = _size(u)
    # replayed: the same envelope again
    r = httpx.post(f"{u}/api/v1/statements", json=env)
    assert r.status_code == 422 and "already registered" in r.json()["detail"]
    # re-signed: the same statement under another registered key
    bob = Identity.generate("bob-held")
    assert (
        httpx.post(f"{u}/api/v1/statements", json=identity_envelope(bob, "Bob")).status_code == 201
    )
    before += 1
    payload = json.loads(base64.b64decode(str(env["payload"])))
    st = make_statement(
        [subject(s["name"], s["digest"]["sha256"]) for s in payload["subject"]],
        payload["predicateType"], payload["predicate"],
    )  # fmt: skip
    r = httpx.post(f"{u}/api/v1/statements", json=sign_envelope(st, bob))
    assert 400 <= r.status_code < 500
    # a signature moved onto an altered payload, and a key nobody registered
    altered = dict(env)
    payload["predicate"]["name"] = "held-app-2"
    altered["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    stranger = product_envelope(Identity.generate("stranger"), "x", seeded.model_digest)
    for bad in (altered, stranger):
        r = httpx.post(f"{u}/api/v1/statements", json=bad)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert _size(u) == before


def test_bad_bodies_and_paths_get_4xx(served: tuple[str, Seeded, str]) -> None:
    u, seeded, _ = served
    before = _size(u)
    post = f"{u}/api/v1/statements"
    cases: list[tuple[bytes, str]] = [
        (b"{not json", "application/json"),
        (b'{"payload": "\xff\xfe", "payloadType": "x", "signatures": []}', "application/json"),
        (b"\x00" * 64, "application/json"),
        (b"[]", "application/json"),
        (b"payload=x", "text/plain"),
    ]
    for body, ctype in cases:
        r = httpx.post(post, content=body, headers={"content-type": ctype})
        assert 400 <= r.status_code < 500, (body[:20], r.status_code)
        assert r.headers["content-type"] == PROBLEM
    # NUL inside a validly signed statement
    pred = {"name": "nul\x00app", "organisation": "Alice Labs",
            "models": [{"sha256": seeded.model_digest, "name": "tiny-one", "role": None}]}  # fmt: skip
    st = make_statement([subject("tiny-one", seeded.model_digest)],
                        get_kind("product").predicate_type, pred)  # fmt: skip
    r = httpx.post(post, json=sign_envelope(st, seeded.alice))
    assert r.status_code == 422 and "NUL" in r.json()["detail"]
    # 50 MB, declared and streamed without a length
    r = httpx.post(post, content=b"{" + b" " * (50 << 20) + b"}")
    assert r.status_code == 413

    def stream() -> Iterator[bytes]:
        for _ in range(50):
            yield b" " * (1 << 20)

    assert httpx.post(post, content=stream()).status_code == 413
    assert _size(u) == before
    # path traversal through the static and API routes
    for path in ("/static/../pyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml",
                 "/static/..%2f..%2fpyproject.toml", "/static/%2e%2e%2fcsrf.key",
                 "/api/v1/records/..%2f..%2fcsrf.key", "/models/..%2F..%2Fetc%2Fpasswd"):  # fmt: skip
        r = httpx.get(u + path)
        assert 400 <= r.status_code < 500, (path, r.status_code)
        assert "[project]" not in r.text and "root:" not in r.text


def test_stored_xss_is_escaped_everywhere(served: tuple[str, Seeded, str]) -> None:
    u, _, rid = served
    pages = ["/", f"/models/{rid}", f"/records/{rid}", "/ledger", "/compare",
             f"/search?q={XSS[:20]}", f"/api/v1/models/{rid}/label?format=html",
             f"/api/v1/models/{rid}/label?format=svg", f"/api/v1/models/{rid}/lineage.svg"]  # fmt: skip
    # (exports are downloads in their own formats: the hf-card is Markdown, served as
    # text/markdown with nosniff and a script-free CSP, and the Hub sanitises what it shows)
    for path in pages:
        r = httpx.get(u + path, params=None, follow_redirects=True)
        assert r.status_code == 200, path
        assert "<script>alert" not in r.text and "<img src=x" not in r.text, path
    assert "&lt;script&gt;" in httpx.get(f"{u}/models/{rid}").text


def _local_addresses() -> list[str]:
    found = set()
    for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
        found.add(str(info[4][0]))
    return [a for a in found if not a.startswith("127.")]


def test_loopback_by_default(tmp_path: Path) -> None:
    with serve_process(tmp_path / "home") as srv:
        assert any(line.startswith("modelkin registry at http://127.0.0.1:") for line in srv.banner)
        port = int(srv.url.rsplit(":", 1)[1])
        for addr in _local_addresses():
            with pytest.raises(OSError), socket.create_connection((addr, port), timeout=2):
                pass


def test_eight_writers_lose_nothing_and_every_receipt_verifies(tmp_path: Path) -> None:
    clients, each = 8, 4
    envelopes = [
        identity_envelope(Identity.generate(f"w{i}"), "Load Org") for i in range(clients * each)
    ]
    receipts: list[dict[str, Any]] = []
    errors: list[str] = []
    lock = threading.Lock()
    with serve_process(tmp_path / "home", "--writes-per-minute", "100000") as srv:
        u = srv.url

        def writer(batch: list[dict[str, object]]) -> None:
            with httpx.Client(base_url=u, timeout=60) as c:
                for env in batch:
                    r = c.post("/api/v1/statements", json=env)
                    with lock:
                        (
                            receipts.append(r.json())
                            if r.status_code == 201
                            else errors.append(r.text)
                        )

        threads = [
            threading.Thread(target=writer, args=(envelopes[i::clients],)) for i in range(clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert errors == [] and len(receipts) == clients * each
        assert _size(u) == clients * each
        assert sorted(r["ledger_index"] for r in receipts) == list(range(clients * each))
        for rc in receipts:
            entry = base64.b64decode(
                httpx.get(f"{u}/api/v1/ledger/entries/{rc['ledger_index']}").json()["entry"]
            )
            size, root = checkpoint_root(rc["checkpoint"])
            proof = [bytes.fromhex(h) for h in rc["inclusion_proof"]]
            assert root_from_inclusion(rc["ledger_index"], size, leaf_hash(entry), proof) == root
        listed = {
            i["name"]
            for i in httpx.get(f"{u}/api/v1/identities", params={"limit": 200}).json()["items"]
        }
        assert listed == {f"w{i}" for i in range(clients * each)}
