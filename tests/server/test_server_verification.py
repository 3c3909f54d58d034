"""Verification statements through a real ``modelkin serve`` (issue 13, finding 6).

A lineage claim posted over HTTP is followed in the ledger by the operator's signed
verification statement; a third party posts its own over HTTP and it is shown as theirs
without deciding the claim; a copy of the served home rebuilds every record and
verification exactly with the forensic engine unavailable.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_live import serve_process, tiny_model
from test_server_api import identity_envelope

from modelkin.registry import Registry, register_identity, register_model, verification
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.statement import make_statement, subject


def _envelope(ident: Identity, kind: str, subjects: list[tuple[str, str]], pred: Any) -> Any:
    st = make_statement([subject(n, d) for n, d in subjects], get_kind(kind).predicate_type, pred)
    return sign_envelope(st, ident)


def test_verifications_are_logged_signed_and_replayed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MODELKIN_DB_URL", raising=False)
    home = tmp_path / "home"
    alice, bob = Identity.generate("alice"), Identity.generate("bob")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        digests = {}
        for seed, name in ((1, "one"), (2, "two")):
            rec = register_model(
                reg, tiny_model(tmp_path / name, seed), alice, name=name, version="1",
                organisation="Alice Labs", license="mit", fingerprint=False,
            )  # fmt: skip
            digests[name] = reg.record(rec.record_id).digest
    claim_pred = {
        "child": {"sha256": digests["two"], "name": "two"},
        "parents": [{"sha256": digests["one"], "name": "one"}],
        "relation": "finetune",
        "notes": None,
    }
    with serve_process(home) as srv:
        u = srv.url
        r = httpx.post(
            f"{u}/api/v1/statements",
            json=_envelope(alice, "derivation", [("two", digests["two"])], claim_pred),
        )
        assert r.status_code == 201, r.text
        receipt = r.json()
        claim_id = receipt["record_id"]
        ver = receipt["verification"]
        assert ver["ledger_index"] > receipt["ledger_index"]
        statement = httpx.get(f"{u}/api/v1/records/{ver['record_id']}").json()
        assert statement["kind"] == "verification"
        assert statement["predicate"]["claim"] == {
            "record": claim_id,
            "ledger_index": receipt["ledger_index"],
        }
        verifier = statement["signer"]["name"]
        assert verifier.startswith("verifier-")
        claim = httpx.get(f"{u}/api/v1/records/{claim_id}").json()
        (v,) = claim["verifications"]
        assert v["verdict"] == "unverifiable"
        assert v["detail"]["reason"] == "no fingerprint of the child model in the registry"
        assert v["attribution"] == (
            f"unverifiable by {verifier} with engine modelkin.forensics "
            f"{verification.engine_version()} at ledger #{ver['ledger_index']}"
        )

        # a third party publishes its own verification over HTTP: shown as theirs
        assert httpx.post(
            f"{u}/api/v1/statements", json=identity_envelope(bob, "Bob Corp")
        ).status_code == 201  # fmt: skip
        theirs = dict(statement["predicate"], outcome="contradicted")
        theirs["results"] = [
            dict(statement["predicate"]["results"][0], outcome="contradicted", reason="bob says")
        ]
        r = httpx.post(
            f"{u}/api/v1/statements",
            json=_envelope(bob, "verification", [("claim", claim_id)], theirs),
        )
        assert r.status_code == 201, r.text
        bob_index = r.json()["ledger_index"]
        claim = httpx.get(f"{u}/api/v1/records/{claim_id}").json()
        assert [x["verdict"] for x in claim["verifications"]] == ["unverifiable"]
        assert [x["verifier"]["name"] for x in claim["verification_history"]] == [verifier, "bob"]
        assert claim["verifications_disagree"] is True
        page = httpx.get(f"{u}/records/{claim_id}").text
        assert "contradicted by bob with engine modelkin.forensics" in page
        assert f"at ledger #{bob_index}" in page and "disagree" in page
        label = httpx.get(f"{u}/api/v1/models/two/label").json()
        (parent,) = label["lineage"]["parents"]
        assert parent["status"] == "unverifiable" and len(parent["verifications"]) == 2
        served = {
            rid: httpx.get(f"{u}/api/v1/records/{rid}").json()
            for rid in (claim_id, ver["record_id"])
        }

    copy = tmp_path / "copy"
    shutil.copytree(home, copy)
    for mod in ("modelkin.forensics", "modelkin.forensics.verdict", "modelkin.fingerprint"):
        monkeypatch.setitem(sys.modules, mod, None)

    def refuse(*_: object) -> Any:
        raise AssertionError("the forensic engine ran during replay")

    monkeypatch.setattr(verification, "verify_claim", refuse)
    monkeypatch.setattr(verification, "check_claim", refuse)
    with Registry.open(copy) as reg:
        reg.rebuild()
        for rid, want in served.items():
            got = json.loads(json.dumps(reg.record(rid).to_dict(envelope=True)))
            assert got == want
