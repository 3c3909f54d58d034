"""``POST /add-checkpoint`` answers exactly as c2sp.org/tlog-witness says, and the
server's own tiles, policy and witnessed-proof endpoints (in process, no network)."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from modelkin.ledger import Ledger, note
from modelkin.ledger.checkpoint import Checkpoint
from modelkin.ledger.tiled import parse_bundle
from modelkin.ledger.witness import format_request, verify_cosignature
from modelkin.server import ServerSettings, create_app

ORIGIN = "logger.test/log"


def _app(tmp_path: Path, policy: Path) -> TestClient:
    settings = ServerSettings(
        policies=(policy,), witness_dir=tmp_path / "w", witness_name="http.test/witness"
    )
    return TestClient(create_app(tmp_path / "home", settings=settings), base_url="http://127.0.0.1")


def test_add_checkpoint_status_codes_and_bodies(tmp_path: Path) -> None:
    a = tmp_path / "log"
    with Ledger.open(a, origin=ORIGIN) as log:
        log.append_many([f"e{i}".encode() for i in range(5)])
        vkey = log.verifier_key()
    shutil.copytree(a, tmp_path / "fork")
    with Ledger.open(a) as log:
        log.append_many([b"a5", b"a6"])
        cp5, cp7 = log.checkpoints()[1], log.checkpoint()
        proof57 = log.consistency_proof(5, 7)
    with Ledger.open(tmp_path / "fork") as fork:
        fork.append_many([b"b5", b"b6"])
        fork7 = fork.checkpoint()
    pub = note.Verifier.parse(vkey).public.hex()
    policy = tmp_path / "p.policy"
    policy.write_text(f"log {pub}\nquorum none\n")  # a raw Sigsum key: origin = key name
    with _app(tmp_path, policy) as client:
        post = lambda body: client.post("/add-checkpoint", content=body)  # noqa: E731
        r = post(format_request(0, [], cp5))
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        wvkey = client.get("/api/v1/witness").json()["vkey"]
        assert verify_cosignature(cp5 + r.text, wvkey) > 0
        r = post(format_request(3, [], cp7))  # wrong old size: the witness's size, as text
        assert (r.status_code, r.text) == (409, "5\n")
        assert r.headers["content-type"] == "text/x.tlog.size"
        assert post(format_request(9, [], cp5)).status_code == 400  # old > checkpoint size
        assert post("old 05\n\n" + cp5).status_code == 400  # leading zero
        assert post(b"\xff\xfe").status_code == 400
        assert post(format_request(5, [bytes(32)], cp7)).status_code == 422  # bad proof
        assert post(format_request(5, proof57, fork7)).status_code == 422  # the fork's 7
        other = note.sign(Checkpoint("other.test/log", 1, bytes(32)).body(),
                          note.Signer.generate("other.test/log"))  # fmt: skip
        assert post(format_request(0, [], other)).status_code == 403  # key not in policy
        forged = note.sign(Checkpoint(ORIGIN, 7, bytes(32)).body(), note.Signer.generate(ORIGIN))
        assert post(format_request(5, [], forged)).status_code == 403
        ok = post(format_request(5, proof57, cp7))
        assert ok.status_code == 200 and ok.text.startswith("\u2014 http.test/witness ")
        split = post(format_request(7, [], fork7))  # same size, another root
        assert (split.status_code, split.text) == (409, "7\n")
        assert post(format_request(7, [], cp7)).status_code == 200  # the same tree again
        status = client.get("/api/v1/witness").json()
        assert status["logs"][ORIGIN]["size"] == 7
        assert status["evidence"][0]["offered"] == fork7


def test_log_tiles_policy_and_proof_endpoints(tmp_path: Path) -> None:
    policy = tmp_path / "p.policy"
    policy.write_text(f"log {'ab' * 32}\nquorum none\n")
    with _app(tmp_path, policy) as client:
        assert client.get("/tile/entries/000.p/1").status_code == 404  # empty log
        assert client.get("/tile/0/0000").status_code == 404
        pol = client.get("/api/v1/federation/policy").json()
        assert pol["quorum"] == "none" and pol["logs"][0]["public_key"] == "ab" * 32
        assert client.get("/api/v1/federation/policy?format=text").text.startswith("log ab")
        state = client.app.state.modelkin  # type: ignore[attr-defined]
        with state.ledger_lock:
            state.ledger.append_many([b"one", b"two", b"three"])
        assert parse_bundle(client.get("/tile/entries/000.p/3").content, 3, "b")[2] == b"three"
        tile = client.get("/tile/0/000.p/3")
        assert len(tile.content) == 96 and "immutable" not in tile.headers["cache-control"]
        proof = client.get("/api/v1/federation/proof/1").json()
        assert proof["tree_size"] == 3 and proof["tlog_proof"].startswith("c2sp.org/tlog-proof")
        assert client.get("/api/v1/federation/proof/3").status_code == 404
        assert (
            client.get("/api/v1/federation")
            .json()["witness"]["vkey"]
            .startswith("http.test/witness+")
        )
