"""Issue 13's trust findings as an attacker would try them, against ``modelkin serve`` with
default settings (anyone may register a key) and with ``--tokens`` (each organisation
admitted by the operator): a borrowed fingerprint (finding 1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_live import serve_process, tiny_model
from test_server_api import PROBLEM, identity_envelope

from modelkin.registry import Registry, register_identity, register_model
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.manifest import MANIFEST_METHOD, manifest_digest, scan_directory
from modelkin.statements.statement import make_statement, subject

EVE_TOKEN = "eve-labs-token-0123456789"
ALICE_TOKEN = "alice-labs-token-0123456789"


@dataclass
class Served:
    url: str
    root: Path
    alice: Identity
    eve: Identity
    victim: dict[str, Any]  # the victim's model record
    headers: dict[str, str]  # eve's write headers (her token, with --tokens)


@pytest.fixture(scope="module", params=["open", "tokens"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """Alice Labs registered a fingerprinted model; Eve registers her key over HTTP."""
    root = tmp_path_factory.mktemp(f"trust-{request.param}")
    home = root / "home"
    alice = Identity.generate("alice")
    with Registry.open(home) as reg:
        register_identity(reg, alice, "Alice Labs")
        r = register_model(reg, tiny_model(root / "victim", 1), alice, name="minilm-l6",
                           version="1", organisation="Alice Labs", license="apache-2.0")  # fmt: skip
        victim = reg.record(r.record_id).to_dict()
    options: list[str] = ["--writes-per-minute", "10000"]
    headers: dict[str, str] = {}
    if request.param == "tokens":
        tokens = root / "tokens.json"
        tokens.write_text(json.dumps({EVE_TOKEN: "Eve Labs", ALICE_TOKEN: "Alice Labs"}))
        tokens.chmod(0o600)
        options += ["--tokens", str(tokens)]
        headers = {"Authorization": f"Bearer {EVE_TOKEN}"}
    eve = Identity.generate("eve")
    with serve_process(home, *options) as srv:
        r = httpx.post(f"{srv.url}/api/v1/statements", json=identity_envelope(eve, "Eve Labs"),
                       headers=headers)  # fmt: skip
        assert r.status_code == 201, r.text
        yield Served(srv.url, root, alice, eve, victim, headers)


def model_envelope(
    signer: Identity, path: Path, name: str, org: str, **extra: Any
) -> tuple[dict[str, Any], str]:
    files = scan_directory(path)
    digest = manifest_digest(files)
    pred = {"name": name, "version": "1", "organisation": org, "license": "mit",
            "manifest": {"method": MANIFEST_METHOD, "files": files}, **extra}  # fmt: skip
    st = make_statement([subject(name, digest)], get_kind("model").predicate_type, pred)
    return sign_envelope(st, signer), digest


def post(s: Served, env: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{s.url}/api/v1/statements", json=env, headers=s.headers, timeout=60)


def size(s: Served) -> int:
    return int(httpx.get(f"{s.url}/api/v1/ledger").json()["size"])


def test_a_borrowed_fingerprint_is_refused(served: Served) -> None:
    """Finding 1: Eve's made-up base model carrying the victim's fingerprint (its blob and
    digest are public) was accepted; her claim "the victim is a finetune of mine" then came
    out verified, and the victim's label showed her model as its parent."""
    s = served
    stolen = s.victim["predicate"]["fingerprint"]
    assert stolen and stolen["blob"]
    before = size(s)
    env, _ = model_envelope(s.eve, tiny_model(s.root / "eve-base", 66), "eve-base",
                            "Eve Labs", fingerprint=stolen)  # fmt: skip
    r = post(s, env)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    assert "computed from other files" in r.json()["detail"]
    assert size(s) == before
    # the victim's own record is untouched and has no parent
    victim = s.victim["id"]
    assert httpx.get(f"{s.url}/api/v1/models/{victim}/derivations").json()["count"] == 0
