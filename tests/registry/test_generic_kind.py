"""A kind added by another package (as ``work`` is) needs only a schema and its edges."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import make_model_dir

from modelkin.errors import StatementError
from modelkin.registry import Registry, register_model, submit_predicate
from modelkin.statements import KINDS, SELF, Edge, Identity, Kind, register_kind

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["name", "generated_by"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string"},
        "generated_by": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
}


def _edges(p: dict[str, Any], subjects: list[str]) -> list[Edge]:
    return [Edge(p["generated_by"], SELF, "generated")]


@pytest.fixture
def note_kind() -> Iterator[Kind]:
    kind = register_kind(Kind("test-note", node="record", edges=_edges, schema_data=SCHEMA))
    yield kind
    KINDS.pop("test-note")


def test_new_kind_stored_queried_and_in_lineage(
    note_kind: Kind, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    register_model(
        reg,
        make_model_dir(tmp_path / "m", 0),
        alice,
        name="gen",
        version="1",
        organisation="A",
        license="mit",
        fingerprint=False,
    )
    model = reg.model("gen").digest
    assert model is not None
    doc = b"a generated poem"
    import hashlib

    digest = hashlib.sha256(doc).hexdigest()
    receipt = submit_predicate(
        reg, alice, "test-note", [("poem.txt", digest)], {"name": "poem", "generated_by": model}
    )
    assert receipt.warnings == []
    (rec,) = reg.records("test-note")
    assert rec.name == "poem" and rec.digest == digest
    graph = reg.lineage("gen")
    assert [(e.relation, graph.nodes[e.dst].name) for e in graph.edges] == [("generated", "poem")]
    ghost = submit_predicate(
        reg, alice, "test-note", [("x", digest)], {"name": "x", "generated_by": "ab" * 32}
    )
    assert any("dangling" in w for w in ghost.warnings)
    with pytest.raises(StatementError, match="generated_by"):
        submit_predicate(reg, alice, "test-note", [("x", digest)], {"name": "x", "generated_by": 1})
    before = [r.to_dict() for r in reg.records(include_inactive=True)]
    reg.rebuild()
    assert [r.to_dict() for r in reg.records(include_inactive=True)] == before
