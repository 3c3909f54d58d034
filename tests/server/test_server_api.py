"""The HTTP API over a real uvicorn server on loopback: reads, writes, proofs, refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from server_live import (
    Seeded,
    checkpoint_root,
    leaf_hash,
    live_server,
    root_from_inclusion,
    tiny_model,
)

from modelkin.server import ServerSettings
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.statement import make_statement, subject

PROBLEM = "application/problem+json"


def identity_envelope(ident: Identity, org: str) -> dict[str, object]:
    pred = {
        "name": ident.name,
        "algorithm": "ed25519",
        "public_key": ident.public_key_pem,
        "organisation": org,
        "contact": None,
    }
    st = make_statement(
        [subject(ident.name, ident.keyid)], get_kind("identity").predicate_type, pred
    )
    return sign_envelope(st, ident)


def product_envelope(ident: Identity, name: str, model_digest: str) -> dict[str, object]:
    pred = {
        "name": name,
        "organisation": "Alice Labs",
        "version": None,
        "url": None,
        "description": None,
        "models": [{"sha256": model_digest, "name": "tiny-one", "role": None}],
    }
    st = make_statement(
        [subject("tiny-one", model_digest)], get_kind("product").predicate_type, pred
    )
    return sign_envelope(st, ident)


def state(url: str) -> tuple[int, int, str]:
    led = httpx.get(f"{url}/api/v1/ledger").json()
    prods = httpx.get(f"{url}/api/v1/products").json()["count"]
    return led["size"], prods, led["checkpoint"]


def test_checkpoint_is_a_signed_note(seeded: Seeded) -> None:
    r = httpx.get(f"{seeded.url}/checkpoint")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body, _, sigs = r.text.partition("\n\n")
    origin, size, root = body.split("\n")[:3]
    assert origin == "modelkin.local/registry" and int(size) >= 2
    assert len(base64.b64decode(root)) == 32
    assert sigs.startswith("— modelkin.local/registry ")


def test_signed_write_returns_a_verifiable_receipt(seeded: Seeded) -> None:
    before, products, _ = state(seeded.url)
    env = product_envelope(seeded.alice, "tiny-app", seeded.model_digest)
    r = httpx.post(f"{seeded.url}/api/v1/statements", json=env)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["ledger_index"] == before and rec["tree_size"] == before + 1
    # the proof in the receipt checks out against the checkpoint, by our own verifier
    entry = base64.b64decode(
        httpx.get(f"{seeded.url}/api/v1/ledger/entries/{rec['ledger_index']}").json()["entry"]
    )
    assert leaf_hash(entry).hex() == rec["leaf_hash"]
    size, root = checkpoint_root(rec["checkpoint"])
    proof = [bytes.fromhex(h) for h in rec["inclusion_proof"]]
    assert root_from_inclusion(rec["ledger_index"], size, leaf_hash(entry), proof) == root
    # the same proof by leaf hash; and the record shows up in listings and search
    by_hash = httpx.get(
        f"{seeded.url}/api/v1/ledger/proof/inclusion", params={"leaf_hash": rec["leaf_hash"]}
    ).json()
    assert by_hash["index"] == rec["ledger_index"]
    assert state(seeded.url)[1] == products + 1
    found = httpx.get(f"{seeded.url}/api/v1/search", params={"q": "tiny-app"}).json()
    assert [i["name"] for i in found["items"]] == ["tiny-app"]


def test_wrongly_signed_or_unregistered_writes_change_nothing(seeded: Seeded) -> None:
    before = state(seeded.url)
    env = product_envelope(seeded.alice, "forged-app", seeded.model_digest)
    tampered = dict(env)
    payload = json.loads(base64.b64decode(str(env["payload"])))
    payload["predicate"]["name"] = "renamed-app"
    tampered["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    stranger = Identity.generate("mallory")
    unregistered = product_envelope(stranger, "stranger-app", seeded.model_digest)
    unsigned = {**env, "signatures": []}
    for bad in (tampered, unregistered, unsigned, {"payload": "x"}):
        r = httpx.post(f"{seeded.url}/api/v1/statements", json=bad)
        assert 400 <= r.status_code < 500, r.text
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["status"] == r.status_code and r.json()["detail"]
    r = httpx.post(
        f"{seeded.url}/api/v1/statements",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert state(seeded.url) == before


def test_reads_proofs_and_problems(seeded: Seeded) -> None:
    u = seeded.url
    size = httpx.get(f"{u}/api/v1/ledger").json()["size"]
    cons = httpx.get(f"{u}/api/v1/ledger/proof/consistency", params={"old": 1}).json()
    assert cons["new"] == size and all(len(h) == 64 for h in cons["consistency_proof"])
    page = httpx.get(f"{u}/api/v1/ledger/entries", params={"start": 0, "limit": 2}).json()
    assert [e["index"] for e in page["entries"]] == [0, 1]
    assert httpx.get(f"{u}/api/v1/ledger/checkpoints").json()["items"][0]["size"] == 0
    m = httpx.get(f"{u}/api/v1/models/tiny-one").json()
    assert m["id"] == seeded.model_id
    for q in ("tiny-one", "alice labs", seeded.model_digest[:12]):
        hits = httpx.get(f"{u}/api/v1/search", params={"q": q}).json()["items"]
        assert seeded.model_id in [h["id"] for h in hits], q
    graph = httpx.get(f"{u}/api/v1/models/{seeded.model_id}/lineage").json()
    assert graph["root"] == f"sha256:{seeded.model_digest}"
    svg = httpx.get(f"{u}/api/v1/models/tiny-one/lineage.svg")
    assert svg.headers["content-type"] == "image/svg+xml" and "<svg" in svg.text
    label = httpx.get(f"{u}/api/v1/models/tiny-one/label", params={"format": "json"}).json()
    assert label["identity"]["name"] == "tiny-one"
    png = httpx.get(f"{u}/api/v1/models/tiny-one/label", params={"format": "png"})
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    cdx = httpx.get(f"{u}/api/v1/models/tiny-one/export/cyclonedx").json()
    assert cdx["bomFormat"] == "CycloneDX"
    for path, status in (
        ("/api/v1/models/no-such-model", 404),
        (f"/api/v1/ledger/entries/{size + 5}", 404),
        ("/api/v1/ledger/proof/inclusion?leaf_hash=zz", 400),
        ("/api/v1/ledger/proof/inclusion", 400),
        ("/api/v1/ledger/proof/consistency?old=3&new=2", 404),
        ("/api/v1/models/tiny-one/export/nope", 400),
        ("/api/v1/models/tiny-one/label?format=exe", 422),
    ):
        r = httpx.get(u + path)
        assert r.status_code == status, (path, r.text)
        assert r.headers["content-type"] == PROBLEM and r.json()["instance"]
    tlog = httpx.get(f"{u}/api/v1/ledger/tlog-proof/0").text
    assert tlog.startswith("c2sp.org/tlog-proof@v1\nindex 0\n")
    assert "/api/v1/statements" in httpx.get(f"{u}/openapi.json").json()["paths"]


def test_tokens_rate_and_size_limits(tmp_path: Path, seeded: Seeded) -> None:
    """A fresh home with tokens required, two writes a minute and 4 KiB bodies."""
    token = "t0k3n-for-alice-labs-0123456789"
    settings = ServerSettings(
        tokens={token: "Alice Labs"}, writes_per_minute=2, max_body_bytes=4096
    )
    bob = Identity.generate("bob")
    env = identity_envelope(bob, "Alice Labs")
    auth = {"Authorization": f"Bearer {token}"}
    with live_server(tmp_path / "home", settings) as u:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0000000000"}):
            r = httpx.post(f"{u}/api/v1/statements", json=env, headers=headers)
            assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
        assert httpx.get(f"{u}/api/v1/ledger").json()["size"] == 0
        big = {"payload": "A" * 10_000, "payloadType": "x", "signatures": []}
        r = httpx.post(f"{u}/api/v1/statements", json=big, headers=auth)
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM

        def chunks() -> object:
            yield b'{"payload": "'
            for _ in range(10):
                yield b"B" * 1000
            yield b'"}'

        r = httpx.post(f"{u}/api/v1/statements", content=chunks(), headers=auth)  # no length
        assert r.status_code == 413
        r = httpx.post(f"{u}/api/v1/statements", json=env, headers=auth)
        assert r.status_code == 201, r.text
        carol = identity_envelope(Identity.generate("carol"), "Alice Labs")
        r = httpx.post(f"{u}/api/v1/statements", json=carol, headers=auth)
        assert r.status_code == 201, r.text
        dave = identity_envelope(Identity.generate("dave"), "Dave Org")
        r = httpx.post(f"{u}/api/v1/statements", json=dave, headers=auth)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert httpx.get(f"{u}/api/v1/ledger").json()["size"] == 2
        assert httpx.get(f"{u}/api/v1/models").json()["count"] == 0


def test_tokens_are_bound_to_the_signers_organisation(tmp_path: Path, seeded: Seeded) -> None:
    """A validly signed write with another organisation's token is 403 and changes nothing."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)  # alice is registered there for "Alice Labs"
    alice_tok, bob_tok = "token-of-alice-labs-0000000000", "token-of-bob-corp-00000000000"
    settings = ServerSettings(tokens={alice_tok: "Alice Labs", bob_tok: "Bob Corp"})
    product = product_envelope(seeded.alice, "tiny-app-2", seeded.model_digest)
    bob = identity_envelope(Identity.generate("bob"), "Bob Corp")
    with live_server(home, settings) as u:
        before = state(u)
        for env, tok in ((product, bob_tok), (bob, alice_tok)):
            r = httpx.post(
                f"{u}/api/v1/statements", json=env, headers={"Authorization": f"Bearer {tok}"}
            )
            assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
            assert "API token is for" in r.json()["detail"]
        assert state(u) == before
        for env, tok in ((product, alice_tok), (bob, bob_tok)):
            r = httpx.post(
                f"{u}/api/v1/statements", json=env, headers={"Authorization": f"Bearer {tok}"}
            )
            assert r.status_code == 201, r.text
        assert state(u)[:2] == (before[0] + 2, before[1] + 1)


def test_model_dir_fixture_is_real(tmp_path: Path) -> None:
    """Guard: the synthetic model the suite registers is a readable safetensors file."""
    from safetensors.numpy import load_file

    d = tiny_model(tmp_path / "m", 3)
    assert load_file(str(d / "model.safetensors"))["embed.weight"].shape == (32, 8)


def test_tiles_are_written_and_served(tmp_path: Path, seeded: Seeded) -> None:
    """With a tiles directory the log is also published as C2SP tlog-tiles."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)
    tiles = tmp_path / "tiles"
    with live_server(home, ServerSettings(tiles_dir=tiles)) as u:
        before = httpx.get(f"{u}/api/v1/ledger").json()["size"]
        env = identity_envelope(Identity.generate("erin"), "Erin Org")
        assert httpx.post(f"{u}/api/v1/statements", json=env).status_code == 201
        size = before + 1
        assert httpx.get(f"{u}/tiles/checkpoint").text == httpx.get(f"{u}/checkpoint").text
        # level-0 partial tile of width `size` (C2SP tlog-tiles: tile/<L>/<N>.p/<W>)
        tile = httpx.get(f"{u}/tiles/tile/0/000.p/{size}")
        assert tile.status_code == 200 and len(tile.content) == 32 * size
        entry0 = base64.b64decode(httpx.get(f"{u}/api/v1/ledger/entries/0").json()["entry"])
        assert tile.content[:32] == leaf_hash(entry0)
