"""DSSE, canonical JSON and identities against published vectors and tampering."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from modelkin.errors import ModelkinError, StatementError
from modelkin.statements import (
    Identity,
    canonical_json,
    make_statement,
    pae,
    sign_envelope,
    subject,
    verify_envelope,
)


def test_pae_published_vector() -> None:
    # DSSE protocol.md test vector.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_pae_counts_bytes_not_characters() -> None:
    assert pae("t", "é".encode()) == b"DSSEv1 1 t 2 \xc3\xa9"


def test_canonical_json_rfc8785_vectors() -> None:
    # RFC 8785 section 3.2.2/3.2.3: key order by UTF-16 code units, ES6 number formatting.
    assert canonical_json({"b": 1, "a": [1.0, 1e21, 0.000001]}) == b'{"a":[1,1e+21,0.000001],"b":1}'
    assert canonical_json({"\u20ac": 1, "\r": 2, "1": 3}) == '{"\\r":2,"1":3,"€":1}'.encode()
    with pytest.raises(StatementError):
        canonical_json({"x": float("nan")})


def _statement() -> dict:
    return make_statement(
        [subject("m", hashlib.sha256(b"x").hexdigest())],
        "https://modelkin.org/predicate/product/v1",
        {"name": "p", "organisation": "o", "models": [{"sha256": "0" * 64}]},
    )


def test_sign_verify_roundtrip_and_tamper() -> None:
    alice = Identity.generate("alice")
    env = sign_envelope(_statement(), alice)
    st = verify_envelope(env, {alice.keyid: alice.public()})
    assert st.signer_keyid == alice.keyid
    assert st.digest == hashlib.sha256(base64.b64decode(env["payload"])).hexdigest()
    assert st.to_dict() == _statement()

    # flip one payload bit -> the signature no longer verifies (or JSON breaks)
    bad = copy.deepcopy(env)
    body = bytearray(base64.b64decode(bad["payload"]))
    body[body.index(b'"p"') + 1] ^= 1
    bad["payload"] = base64.b64encode(bytes(body)).decode()
    with pytest.raises(StatementError, match="does not verify"):
        verify_envelope(bad, {alice.keyid: alice.public()})

    # the payload type is authenticated by PAE
    bad = dict(env, payloadType="application/json")
    with pytest.raises(StatementError, match="payloadType"):
        verify_envelope(bad, {alice.keyid: alice.public()})


def test_unsigned_unknown_and_wrong_signer() -> None:
    alice, mallory = Identity.generate("alice"), Identity.generate("mallory")
    env = sign_envelope(_statement(), alice)
    with pytest.raises(StatementError, match="unsigned"):
        verify_envelope(dict(env, signatures=[]), {alice.keyid: alice.public()})
    with pytest.raises(StatementError, match="unknown signer"):
        verify_envelope(env, {mallory.keyid: mallory.public()})
    # mallory's signature presented under alice's keyid
    forged = sign_envelope(_statement(), mallory)
    forged["signatures"][0]["keyid"] = alice.keyid
    with pytest.raises(StatementError, match="does not verify"):
        verify_envelope(forged, {alice.keyid: alice.public()})


def test_non_canonical_payload_refused() -> None:
    alice = Identity.generate("alice")
    env = sign_envelope(_statement(), alice)
    pretty = json.dumps(_statement(), indent=1).encode()
    env["payload"] = base64.b64encode(pretty).decode()
    env["signatures"][0]["sig"] = base64.b64encode(
        alice.sign(pae(env["payloadType"], pretty))
    ).decode()
    with pytest.raises(StatementError, match="canonical"):
        verify_envelope(env, {alice.keyid: alice.public()})


def test_statement_shape_checked() -> None:
    with pytest.raises(StatementError, match="subject"):
        make_statement([], "x", {})
    with pytest.raises(StatementError, match="sha256"):
        make_statement([{"name": "a", "digest": {"sha256": "ABC"}}], "x", {})


def test_identity_keyfile(tmp_path: Path) -> None:
    alice = Identity.generate("alice")
    path = alice.save(tmp_path / "alice.key")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    back = Identity.load(path)
    assert back.keyid == alice.keyid
    assert back.public_key_pem == alice.public_key_pem
    raw = bytes.fromhex(alice.keyid)
    assert len(raw) == 32
    with pytest.raises(ModelkinError, match="already exists"):
        alice.save(path)
    data = json.loads(path.read_text())
    data["keyid"] = "0" * 64
    (tmp_path / "bad.key").write_text(json.dumps(data))
    with pytest.raises(ModelkinError, match="keyid"):
        Identity.load(tmp_path / "bad.key")
    (tmp_path / "junk.key").write_text("not json")
    with pytest.raises(ModelkinError, match="unreadable"):
        Identity.load(tmp_path / "junk.key")
    with pytest.raises(ModelkinError, match="identity name"):
        Identity.generate("../evil")
