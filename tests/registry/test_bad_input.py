"""Refused statements leave the ledger and the tables exactly as they were."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import make_model_dir

from modelkin.errors import StatementError
from modelkin.registry import Registry
from modelkin.statements import (
    Identity,
    get_kind,
    make_statement,
    manifest_digest,
    scan_directory,
    sign_envelope,
    subject,
)
from modelkin.statements.manifest import MANIFEST_METHOD


def _model_statement(path: Path) -> dict[str, Any]:
    files = scan_directory(path)
    pred = {
        "name": "tiny",
        "version": "1",
        "organisation": "A",
        "license": "mit",
        "manifest": {"method": MANIFEST_METHOD, "files": files},
    }
    return make_statement(
        [subject("tiny", manifest_digest(files))], get_kind("model").predicate_type, pred
    )


def _state(reg: Registry) -> tuple[int, list[dict[str, Any]]]:
    return reg.ledger.size(), [r.to_dict() for r in reg.records(include_inactive=True)]


CASES: dict[str, tuple[Callable[[dict[str, Any], Identity, Identity], dict[str, Any]], str]] = {
    "unsigned": (lambda st, a, m: dict(sign_envelope(st, a), signatures=[]), "unsigned"),
    "wrongly signed": (
        lambda st, a, m: {
            **sign_envelope(st, a),
            "signatures": [{"keyid": a.keyid, "sig": sign_envelope(st, m)["signatures"][0]["sig"]}],
        },
        "does not verify",
    ),
    "tampered payload": (
        lambda st, a, m: {
            **sign_envelope(st, a),
            "payload": base64.b64encode(
                json.dumps(
                    dict(st, predicateType=st["predicateType"]),
                    sort_keys=True,
                    separators=(",", ":"),
                )
                .replace('"mit"', '"gpl"')
                .encode()
            ).decode(),
        },
        "does not verify",
    ),
    "unknown signer": (lambda st, a, m: sign_envelope(st, m), "unknown signer"),
    "schema-invalid": (
        lambda st, a, m: sign_envelope(
            {**st, "predicate": {**st["predicate"], "license": ["mit"]}}, a
        ),
        "model-v1.schema.json",
    ),
    "digest-mismatched": (
        lambda st, a, m: sign_envelope({**st, "subject": [subject("tiny", "0" * 64)]}, a),
        "does not match the manifest",
    ),
    "renamed file": (
        lambda st, a, m: sign_envelope(
            {
                **st,
                "predicate": {
                    **st["predicate"],
                    "manifest": {
                        "method": MANIFEST_METHOD,
                        "files": [
                            dict(f, name="x" + f["name"])
                            for f in st["predicate"]["manifest"]["files"]
                        ],
                    },
                },
            },
            a,
        ),
        "does not match the manifest",
    ),
    "unknown predicate type": (
        lambda st, a, m: sign_envelope({**st, "predicateType": "https://example.com/x/v1"}, a),
        "unknown predicateType",
    ),
    "bad payload type": (
        lambda st, a, m: dict(sign_envelope(st, a), payloadType="text/plain"),
        "payloadType",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rejected_and_nothing_changes(
    case: str, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    st = _model_statement(make_model_dir(tmp_path / "m", 0))
    mallory = Identity.generate("mallory")  # never registered
    build, reason = CASES[case]
    envelope = build(copy.deepcopy(st), alice, mallory)
    before = _state(reg)
    with pytest.raises(StatementError, match=reason):
        reg.submit(envelope)
    assert _state(reg) == before
    # the well-formed statement is then accepted
    reg.submit(sign_envelope(st, alice))
    assert reg.ledger.size() == before[0] + 1


def test_resubmitting_the_same_statement_is_refused(
    reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    env = sign_envelope(_model_statement(make_model_dir(tmp_path / "m", 0)), alice)
    reg.submit(env)
    with pytest.raises(StatementError, match="already registered at ledger index 1"):
        reg.submit(env)


def test_self_signed_identity_must_match_its_key(reg: Registry) -> None:
    a, b = Identity.generate("a"), Identity.generate("b")
    pred = {"name": "a", "algorithm": "ed25519", "public_key": a.public_key_pem}
    st = make_statement([subject("a", a.keyid)], get_kind("identity").predicate_type, pred)
    with pytest.raises(StatementError, match="unknown signer"):
        reg.submit(sign_envelope(st, b))  # signed by a key other than the one published
    bad = make_statement([subject("a", b.keyid)], get_kind("identity").predicate_type, pred)
    with pytest.raises(StatementError, match="subject must be"):
        reg.submit(sign_envelope(bad, a))
    assert reg.ledger.size() == 0
