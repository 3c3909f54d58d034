"""Large numbers survive canonicalisation round trips (RFC 8785 numbers are doubles)."""

from __future__ import annotations

import json

import pytest

from modelkin.errors import StatementError
from modelkin.statements.canonical import canonical_json


def test_large_float_round_trips() -> None:
    first = canonical_json({"flops": 4e18})
    assert first == b'{"flops":4000000000000000000}'
    # A verifier parses the bytes (getting an int) and canonicalises again.
    assert canonical_json(json.loads(first)) == first


def test_integer_not_exactly_representable_is_refused() -> None:
    with pytest.raises(StatementError):
        canonical_json({"n": 2**53 + 1})


def test_safe_integers_and_bools_unchanged() -> None:
    assert canonical_json({"a": 2**53 - 1, "b": True, "c": [1, 2.5]}) == (
        b'{"a":9007199254740991,"b":true,"c":[1,2.5]}'
    )
