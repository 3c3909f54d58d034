"""JSON depth and node bounds: the raw-text check (before parsing) and the object walk agree,
brackets inside strings do not count, and a deep payload is refused before the parser can
overflow (issue 13, finding 3)."""

from __future__ import annotations

import base64
import json
import random

import pytest

from modelkin.statements.bounds import (
    MAX_DEPTH,
    JsonBoundsError,
    check_json_text,
    check_json_value,
    json_text_shape,
)
from modelkin.statements.dsse import PAYLOAD_TYPE, envelope_payload


def nested(depth: int, leaf: object = 1) -> object:
    """``depth`` containers, alternating object and array."""
    v = leaf
    for i in range(depth):
        v = {"k": v} if i % 2 else [v]
    return v


def true_depth(v: object) -> int:
    if isinstance(v, dict):
        return 1 + max((true_depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((true_depth(x) for x in v), default=0)
    return 0


def random_json(rng: random.Random, budget: int) -> object:
    r = rng.random()
    if budget <= 0 or r < 0.3:
        return rng.choice([1, "s[{", 'q"]}\\', None, True, 2.5, "", "\\"])
    n = rng.randint(0, 4)
    if r < 0.65:
        return [random_json(rng, budget - 1) for _ in range(n)]
    return {f"k{i}[": random_json(rng, budget - 1) for i in range(n)}


def test_text_depth_matches_the_parsed_depth_on_random_documents() -> None:
    rng = random.Random(13)
    for _ in range(300):
        doc = random_json(rng, rng.randint(0, 12))
        text = json.dumps(doc).encode()
        depth, nodes = json_text_shape(text, max_depth=100)
        assert depth == true_depth(doc), text
        assert nodes >= 1


def test_brackets_and_escaped_quotes_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[[[[{{{{" * 100, "b": '\\"[[[' * 50}).encode()
    assert json_text_shape(text)[0] == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH, MAX_DEPTH + 1, 5000])
def test_depth_limit_on_text_and_on_objects(depth: int) -> None:
    doc = nested(depth)
    text = (b"[" * depth) + (b"]" * depth)
    if depth <= MAX_DEPTH:
        check_json_text(text, "doc")
        check_json_value(doc, "doc")
        return
    with pytest.raises(JsonBoundsError, match="nested more than"):
        check_json_text(text, "doc")
    with pytest.raises(JsonBoundsError, match="nested more than"):
        check_json_value(doc, "doc")


def test_node_limit_on_text_and_on_objects() -> None:
    wide = list(range(1000))
    check_json_value(wide, "doc", max_nodes=1001)
    check_json_text(json.dumps(wide).encode(), "doc", max_nodes=1001)
    with pytest.raises(JsonBoundsError, match="more than 999 nodes"):
        check_json_value(wide, "doc", max_nodes=999)
    with pytest.raises(JsonBoundsError, match="more than 999 nodes"):
        check_json_text(json.dumps(wide).encode(), "doc", max_nodes=999)


def test_a_deep_payload_is_refused_before_it_is_parsed() -> None:
    """5,000 levels made the parser raise RecursionError (a 500 on the server)."""
    body = b"[" * 5000 + b"]" * 5000
    env = {"payloadType": PAYLOAD_TYPE, "payload": base64.b64encode(body).decode(),
           "signatures": []}  # fmt: skip
    with pytest.raises(JsonBoundsError, match="nested more than"):
        envelope_payload(env)
