"""Bounded input against ``modelkin serve`` (issue 13, finding 3): a signed statement nested
~400 deep was accepted and then made ``/api/v1/records/<id>`` (and, before paging, the
lists) answer 500 for good; an unsigned body 5,000 deep gave a 500. Both are now refused
with 422 problem+json before anything is logged, and a statement at the deepest accepted
nesting, or with odd but schema-valid values, is served by every read endpoint."""

from __future__ import annotations

import base64
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from server_live import Seeded, serve_process, tiny_model

from modelkin.statements import Identity
from modelkin.statements.bounds import MAX_DEPTH
from modelkin.statements.dsse import PAYLOAD_TYPE, pae
from modelkin.statements.kinds import get_kind
from modelkin.statements.manifest import MANIFEST_METHOD, manifest_digest, scan_directory
from modelkin.statements.statement import STATEMENT_TYPE, subject

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, seeded: Seeded) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("bounds")
    shutil.copytree(seeded.home, root / "home")
    with serve_process(root / "home", "--writes-per-minute", "10000") as srv:
        yield srv.url, root


def raw_envelope(statement: dict[str, Any], signer: Identity) -> dict[str, Any]:
    """Sign ``statement`` by hand: the library's own builders refuse what is too deep."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)
    try:
        body = rfc8785.dumps(statement)
    finally:
        sys.setrecursionlimit(old)
    return {
        "payload": base64.b64encode(body).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": signer.keyid,
                        "sig": base64.b64encode(signer.sign(pae(PAYLOAD_TYPE, body))).decode()}],
    }  # fmt: skip


def model_statement(
    model_dir: Path, name: str, extra: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    files = scan_directory(model_dir)
    digest = manifest_digest(files)
    pred = {"name": name, "version": "1", "organisation": "Alice Labs", "license": "mit",
            "manifest": {"method": MANIFEST_METHOD, "files": files}, **extra}  # fmt: skip
    st = {"_type": STATEMENT_TYPE, "subject": [subject(name, digest)],
          "predicateType": get_kind("model").predicate_type, "predicate": pred}  # fmt: skip
    return st, digest


def deep(levels: int) -> dict[str, Any]:
    v: dict[str, Any] = {}
    for _ in range(levels):
        v = {"a": v}
    return v


def size(u: str) -> int:
    return int(httpx.get(f"{u}/api/v1/ledger").json()["size"])


def reads(u: str, ref: str) -> dict[str, int]:
    paths = [
        "/api/v1/models", "/api/v1/search?q=a", f"/api/v1/records/{ref}", f"/api/v1/models/{ref}",
        f"/api/v1/models/{ref}/label", f"/api/v1/models/{ref}/label?format=html",
        f"/api/v1/models/{ref}/label?format=md", f"/api/v1/models/{ref}/label?format=svg",
        f"/api/v1/models/{ref}/export/cyclonedx", f"/api/v1/models/{ref}/export/spdx3",
        f"/api/v1/models/{ref}/export/hf-card", f"/api/v1/models/{ref}/lineage",
        "/", f"/models/{ref}", f"/records/{ref}", "/search?q=a",
    ]  # fmt: skip
    return {p: httpx.get(f"{u}{p}", timeout=60, follow_redirects=True).status_code for p in paths}


def test_an_unsigned_body_5000_deep_gets_422(served: tuple[str, Path]) -> None:
    u, _ = served
    before = size(u)
    for ctype in ("application/json", None, "application/merge-patch+json"):
        headers = {"content-type": ctype} if ctype else {}
        r = httpx.post(f"{u}/api/v1/statements", content=b"[" * 5000 + b"]" * 5000,
                       headers=headers)  # fmt: skip
        assert r.status_code == 422, (ctype, r.text[:200])
        assert r.headers["content-type"] == PROBLEM
        assert "nested more than" in r.json()["detail"]
    # a deep *object* body too, and on another JSON endpoint
    r = httpx.post(f"{u}/api/v1/forensics/compare", content=b'{"a":' * 5000 + b"1" + b"}" * 5000,
                   headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert size(u) == before


def test_a_signed_statement_400_deep_is_refused_and_nothing_breaks(
    served: tuple[str, Path], seeded: Seeded
) -> None:
    u, root = served
    before = size(u)
    st, _ = model_statement(tiny_model(root / "deep", 31), "deep-400",
                                 {"structure": deep(400)})  # fmt: skip
    r = httpx.post(f"{u}/api/v1/statements", json=raw_envelope(st, seeded.alice))
    assert r.status_code == 422, r.text[:300]
    assert r.headers["content-type"] == PROBLEM and "nested more than" in r.json()["detail"]
    assert size(u) == before
    assert set(reads(u, seeded.model_id).values()) == {200}


def test_the_deepest_accepted_statement_is_served_everywhere(
    served: tuple[str, Path], seeded: Seeded
) -> None:
    u, root = served
    # statement (1) > predicate (2) > structure (3) > ... : the last level allowed
    st, digest = model_statement(tiny_model(root / "edge", 32), "deep-edge",
                                 {"structure": deep(MAX_DEPTH - 3)})  # fmt: skip
    r = httpx.post(f"{u}/api/v1/statements", json=raw_envelope(st, seeded.alice))
    assert r.status_code == 201, r.text[:300]
    got = reads(u, digest)
    assert set(got.values()) == {200}, got
    st["predicate"]["structure"] = deep(MAX_DEPTH - 2)
    st["subject"][0]["name"] = st["predicate"]["name"] = "deep-edge-plus-one"
    r = httpx.post(f"{u}/api/v1/statements", json=raw_envelope(st, seeded.alice))
    assert r.status_code == 422, r.text[:300]


ODD: list[dict[str, Any]] = [
    {"structure": {"architecture": ["x"], "family": {"a": 1}, "num_parameters": -5,
                   "num_layers": True, "": None, "digest": 1e308}},
    {"structure": {"architecture": 12, "num_parameters": 2**53 - 1, "layers": [[[]], {}]},
     "hyperparameters": {"lr": -0.0, "flag": False, "name": "\u202e\u0000"[:1], "big": 1e300},
     "evaluation": [{"metric": "acc", "value": "n/a"}, {"metric": "f1", "value": -1e-300,
                    "task": None, "dataset": None, "split": None, "source": None}],
     "languages": ["\U0001f600", "zz-ZZ-x-private"], "hub_id": "a/b", "description": "\u202e",
     "released_at": "1970-01-01T00:00:00Z", "task": "x", "library": "y"},
    {"structure": None, "fingerprint": None, "format": None, "intended_use": "",
     "evaluation": [], "languages": [], "hyperparameters": {}, "license_url": "urn:x"},
]  # fmt: skip


@pytest.mark.parametrize("case", range(len(ODD)))
def test_odd_but_valid_statements_are_served_everywhere(
    served: tuple[str, Path], seeded: Seeded, case: int
) -> None:
    u, root = served
    st, digest = model_statement(tiny_model(root / f"odd{case}", 40 + case), f"odd-{case}",
                                 ODD[case])  # fmt: skip
    r = httpx.post(f"{u}/api/v1/statements", json=raw_envelope(st, seeded.alice))
    assert r.status_code == 201, r.text[:300]
    got = reads(u, digest)
    assert set(got.values()) == {200}, got
