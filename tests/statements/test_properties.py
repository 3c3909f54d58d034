"""Property tests: any statement round-trips; any single-bit change is caught."""

from __future__ import annotations

import base64
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelkin.errors import StatementError
from modelkin.statements import Identity, make_statement, sign_envelope, subject, verify_envelope

ALICE = Identity.generate("alice")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    predicate=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    flip=st.integers(0, 10**6),
)
def test_roundtrip_and_bit_flips(predicate: dict, flip: int) -> None:
    stmt = make_statement(
        [subject("x", hashlib.sha256(b"x").hexdigest())], "https://example.com/p/v1", predicate
    )
    env = sign_envelope(stmt, ALICE)
    assert verify_envelope(env, {ALICE.keyid: ALICE.public()}).to_dict() == stmt
    body = bytearray(base64.b64decode(env["payload"]))
    body[flip % len(body)] ^= 1 << (flip % 8)
    bad = dict(env, payload=base64.b64encode(bytes(body)).decode())
    with pytest.raises(StatementError):
        verify_envelope(bad, {ALICE.keyid: ALICE.public()})


def test_integers_beyond_ieee_double_are_refused() -> None:
    # RFC 8785 section 3.2.2.3: numbers are IEEE 754 doubles; 2**53 + 1 has no exact double,
    # so signing it would sign a different number than the caller meant.
    with pytest.raises(StatementError, match="RFC 8785"):
        make_statement([subject("x", "0" * 64)], "https://example.com/p/v1", {"n": 2**53 + 1})
