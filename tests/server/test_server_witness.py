"""Witnesses end to end over a live server: a real C2SP tlog-witness follows the log through
the API, its cosignatures are accepted, stored and served; forged ones change nothing."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import httpx
from server_live import Seeded, live_server
from test_server_api import PROBLEM, identity_envelope

from modelkin.ledger import note as _note
from modelkin.ledger.witness import Witness, verify_cosignature
from modelkin.server import ServerSettings
from modelkin.statements import Identity


def forge(cosignature_line: str) -> str:
    """Flip the last byte of a cosignature's Ed25519 signature."""
    head, _, blob = cosignature_line.rstrip("\n").rpartition(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01
    return f"{head} {base64.b64encode(bytes(raw)).decode()}\n"


def snapshot(u: str) -> tuple[str, object]:
    return httpx.get(f"{u}/checkpoint").text, httpx.get(f"{u}/api/v1/ledger").json()["witnesses"]


def test_witness_cosignatures_are_checked_stored_and_served(tmp_path: Path, seeded: Seeded) -> None:
    home = tmp_path / "home"
    shutil.copytree(seeded.home, home)
    wit = Witness.init(tmp_path / "w1", "witness1")
    stranger = Witness.init(tmp_path / "w2", "stranger")
    settings = ServerSettings(witnesses=(wit.vkey(),))
    with live_server(home, settings) as u:
        led = httpx.get(f"{u}/api/v1/ledger").json()
        size, cp = led["size"], led["checkpoint"]
        assert led["witnesses"] == [
            {
                "name": "witness1",
                "key_id": wit.key_hash.hex(),
                "verifier_key": wit.vkey(),
                "cosigned_size": None,
                "cosigned_at": None,
                "behind": size,
            }
        ]
        assert httpx.get(f"{u}/checkpoint").text == cp  # nothing cosigned yet
        for w in (wit, stranger):
            w.add_log(led["verifier_key"])
        res = wit.add_checkpoint(0, [], cp)
        assert res.ok and res.cosignature
        cosigned = cp + res.cosignature

        # a forged cosignature by the trusted witness is refused and changes nothing
        before = snapshot(u)
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=forge(cosigned))
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
        assert "invalid cosignature" in r.json()["detail"]
        # only an unknown witness's (valid) cosignature: ignored, so nothing to accept
        other = stranger.add_checkpoint(0, [], cp).cosignature
        assert other
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=cp + other)
        assert r.status_code == 403 and "no cosignature" in r.json()["detail"]
        # a checkpoint signed by another log's key is not one this log signed
        body, _ = _note.split(cp)
        impostor = _note.sign(body, _note.Signer.generate("modelkin.local/registry"))
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=impostor + res.cosignature)
        assert r.status_code == 403 and "not signed by this log" in r.json()["detail"]
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content="not a note")
        assert r.status_code == 400 and r.headers["content-type"] == PROBLEM
        assert snapshot(u) == before
        assert not (home / "ledger" / "cosignatures.json").exists()

        # the real one (with the stranger's line too, which is ignored) is accepted
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=cosigned + other)
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == [f"witness1+{wit.key_hash.hex()}"]
        served = httpx.get(f"{u}/checkpoint").text
        assert served == cosigned  # log signature, then the witness's cosignature
        assert verify_cosignature(served, wit.vkey()) > 0

        # the log grows; /checkpoint stays the witnessed one until the witness catches up
        env = identity_envelope(Identity.generate("erin"), "Erin Org")
        assert httpx.post(f"{u}/api/v1/statements", json=env).status_code == 201
        home_page = httpx.get(f"{u}/").text
        assert "witness1" in home_page and f"<td>{size}</td>" in home_page
        assert "1 entry" in home_page
        assert httpx.get(f"{u}/checkpoint").text == cosigned
        row = httpx.get(f"{u}/api/v1/ledger").json()["witnesses"][0]
        assert row["cosigned_size"] == size and row["behind"] == 1 and row["cosigned_at"]

        # the witness follows with the server's own consistency proof
        led = httpx.get(f"{u}/api/v1/ledger").json()
        proof_hex = httpx.get(f"{u}/api/v1/ledger/proof/consistency", params={"old": size}).json()[
            "consistency_proof"
        ]
        res2 = wit.add_checkpoint(size, [bytes.fromhex(h) for h in proof_hex], led["checkpoint"])
        assert res2.ok and res2.cosignature, res2.message
        newer = led["checkpoint"] + res2.cosignature
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=forge(newer))
        assert r.status_code == 403
        assert httpx.get(f"{u}/checkpoint").text == cosigned
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=newer)
        assert r.status_code == 200 and r.json()["size"] == size + 1
        assert httpx.get(f"{u}/checkpoint").text == newer
        assert "0 entries" in httpx.get(f"{u}/").text
        # an old cosignature does not move the witness backwards
        r = httpx.post(f"{u}/api/v1/ledger/cosignatures", content=cosigned)
        assert r.status_code == 200 and r.json()["stored"] == []
        assert httpx.get(f"{u}/checkpoint").text == newer

    # durable: a restarted server serves the same cosigned checkpoint
    with live_server(home, settings) as u:
        assert httpx.get(f"{u}/checkpoint").text == newer
