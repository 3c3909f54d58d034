"""The record kinds the registry accepts, each a predicate type with a JSON Schema.

Adding a kind means: ship
``schemas/<kind>-v1.schema.json`` and call :func:`register_kind` with how its predicate
links to other artifacts (``edges``). The registry stores every kind generically, so no
table or query needs to change.

Edges use two kinds of endpoint: an artifact digest (hex sha256 of a model manifest or a
dataset Merkle root) or :data:`SELF`, the record itself as a graph node (training runs,
products, works are things, not artifacts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from modelkin.errors import StatementError
from modelkin.statements.statement import is_sha256_hex

PREDICATE_PREFIX = "https://modelkin.org/predicate/"
SELF = "self"


def predicate_type_for(kind: str) -> str:
    """``https://modelkin.org/predicate/<kind>/v1``."""
    return f"{PREDICATE_PREFIX}{kind}/v1"


@dataclass(frozen=True)
class Edge:
    """A lineage edge a record asserts: ``src -> dst`` (digest or :data:`SELF`)."""

    src: str
    dst: str
    relation: str


EdgeFn = Callable[[dict[str, Any], list[str]], list[Edge]]


def _no_edges(predicate: dict[str, Any], subjects: list[str]) -> list[Edge]:
    return []


@dataclass(frozen=True)
class Kind:
    """One record kind.

    ``node`` says how records of this kind appear in the lineage graph: ``"artifact"``
    (the subject digests are the nodes: models, datasets), ``"record"`` (the record is a
    node: training runs, products, works) or ``None`` (not in the graph: identities,
    derivations, which are edges)."""

    name: str
    node: str | None = None
    edges: EdgeFn = field(default=_no_edges)
    version: int = 1
    #: the schema itself, for kinds defined outside this package's ``schemas/`` directory
    schema_data: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def predicate_type(self) -> str:
        return f"{PREDICATE_PREFIX}{self.name}/v{self.version}"

    @property
    def schema_file(self) -> str:
        return f"{self.name}-v{self.version}.schema.json"

    def schema(self) -> dict[str, Any]:
        """The JSON Schema for this kind's predicate (package data unless given)."""
        if self.schema_data is not None:
            return self.schema_data
        return _load_schema(self.schema_file)

    def validate(self, predicate: dict[str, Any], where: str) -> None:
        """Raise :class:`StatementError` naming the first schema violation."""
        try:
            schema = self.schema()
        except FileNotFoundError as exc:
            raise StatementError(where, f"no schema installed for kind {self.name}") from exc
        validator = _validator(self.name, self.version, schema)
        errors = sorted(validator.iter_errors(predicate), key=lambda e: list(e.absolute_path))
        if errors:
            problems = "; ".join(
                f"at {'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                for e in errors[:3]
            )
            raise StatementError(where, f"predicate does not match {self.schema_file} {problems}")


if TYPE_CHECKING:
    import jsonschema

_VALIDATORS: dict[tuple[str, int, int], jsonschema.Draft202012Validator] = {}


def _validator(name: str, version: int, schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """Compiled validators, reused: building one costs more than validating a predicate.

    jsonschema is imported here, not at module level: with its format extras installed its
    import parses an RFC 3987 grammar (about 2.5 s of CPU), which every CLI command that only
    reads statements would otherwise pay."""
    import jsonschema

    key = (name, version, id(schema))
    v = _VALIDATORS.get(key)
    if v is None or v.schema is not schema:
        v = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        _VALIDATORS[key] = v
    return v


def warm_validators() -> None:
    """Compile every registered kind's validator now (a server calls this at start-up, so its
    first write does not pay jsonschema's seconds-long import inside a client's timeout)."""
    for kind in list(KINDS.values()):
        try:
            _validator(kind.name, kind.version, kind.schema())
        except FileNotFoundError:  # pragma: no cover - a kind without a schema is refused later
            continue


@cache
def _load_schema(filename: str) -> dict[str, Any]:
    text = resources.files("modelkin.statements").joinpath("schemas", filename).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _derivation_edges(p: dict[str, Any], subjects: list[str]) -> list[Edge]:
    child = p["child"]["sha256"]
    return [Edge(par["sha256"], child, p["relation"]) for par in p["parents"]]


def _run_edges(p: dict[str, Any], subjects: list[str]) -> list[Edge]:
    ins = p["inputs"]
    edges = [Edge(d["sha256"], SELF, "trained_on") for d in ins["datasets"]]
    edges += [Edge(m["sha256"], SELF, "input_model") for m in ins["models"]]
    edges.append(Edge(SELF, p["output"]["sha256"], "produced"))
    return edges


def _product_edges(p: dict[str, Any], subjects: list[str]) -> list[Edge]:
    return [Edge(m["sha256"], SELF, "ships") for m in p["models"]]


def _work_edges(p: dict[str, Any], subjects: list[str]) -> list[Edge]:
    """Model -> work edges (``used_to_make``) for AI systems named by a model digest.

    Defined here, with the other kinds, so that every process (server, rebuild) derives
    the same graph from the same ledger, whatever it happened to import."""
    systems = (p.get("ai_use") or {}).get("systems") or []
    return [
        Edge(s["model"], SELF, "used_to_make")
        for s in systems
        if s.get("role") != "none" and is_sha256_hex(s.get("model"))
    ]


KINDS: dict[str, Kind] = {}


def register_kind(kind: Kind) -> Kind:
    """Make a kind known to statements and the registry (idempotent for the same name)."""
    KINDS[kind.name] = kind
    return kind


for _k in (
    Kind("identity"),
    Kind("model", node="artifact"),
    Kind("dataset", node="artifact"),
    Kind("training-run", node="record", edges=_run_edges),
    Kind("derivation", edges=_derivation_edges),
    Kind("product", node="record", edges=_product_edges),
    Kind("amendment"),
    Kind("withdrawal"),
    Kind("work", node="record", edges=_work_edges),
    Kind("verification"),
):
    register_kind(_k)

#: Kinds that change other records rather than describing something.
CONTROL_KINDS = frozenset({"amendment", "withdrawal"})


def kind_for_predicate_type(uri: str, where: str) -> Kind:
    """The registered kind for a predicateType URI, or a clear refusal."""
    for kind in KINDS.values():
        if kind.predicate_type == uri:
            return kind
    raise StatementError(where, f"unknown predicateType {uri!r}")


def get_kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError as exc:
        raise StatementError(name, f"unknown record kind (known: {', '.join(KINDS)})") from exc
