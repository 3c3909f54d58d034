"""Lineage graphs: the chain of custody around one model.

Nodes are artifacts (models and datasets, keyed ``sha256:<digest>``) and things
(training runs, products, works, keyed ``record:<id>``). Edges come from records:
derivations (parent -> child), training runs (dataset/input model -> run -> output) and
products (model -> product). Each edge carries its evidence: the record that asserts it,
that record's ledger index and an RFC 6962 inclusion proof against the current checkpoint,
and for derivations the forensic verdict. A "trained from scratch" claim that forensics
contradicts adds an ``undeclared_derivation`` edge from the related model.

Ancestors are found by walking edges backwards from the model, descendants forwards; the
walk stops at ``max_nodes`` so a huge graph cannot exhaust memory.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from modelkin.registry import tables as t
from modelkin.registry.results import Verification
from modelkin.registry.verdicts import current, from_row

MAX_NODES = 2000
#: relation of an edge found by forensics where the claim said "trained from scratch"
UNDECLARED = "undeclared_derivation"


@dataclass
class Node:
    key: str
    kind: str  # model | dataset | training-run | product | work | unknown
    name: str | None
    record_id: str | None
    dangling: bool
    role: str = "root"  # root | ancestor | descendant

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "name": self.name,
            "record_id": self.record_id,
            "dangling": self.dangling,
            "role": self.role,
        }


@dataclass
class GraphEdge:
    src: str
    dst: str
    relation: str
    record_id: str
    record_kind: str
    ledger_index: int
    inclusion_proof: list[str] = field(default_factory=list)
    verdict: str | None = None
    verification: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "src": self.src,
            "dst": self.dst,
            "relation": self.relation,
            "evidence": {
                "record_id": self.record_id,
                "record_kind": self.record_kind,
                "ledger_index": self.ledger_index,
                "inclusion_proof": self.inclusion_proof,
                "verdict": self.verdict,
                "verification": self.verification,
            },
        }


@dataclass
class LineageGraph:
    """Ancestors and descendants of ``root`` with per-edge evidence and the checkpoint."""

    root: str
    nodes: dict[str, Node]
    edges: list[GraphEdge]
    tree_size: int
    checkpoint: str
    truncated: bool = False

    def ancestors(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == "ancestor"]

    def descendants(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.role == "descendant"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "edges": [e.to_dict() for e in self.edges],
            "tree_size": self.tree_size,
            "checkpoint": self.checkpoint,
            "truncated": self.truncated,
        }


def _edges_touching(conn: Connection, key: str, forward: bool) -> list[Any]:
    col = t.edges.c.src if forward else t.edges.c.dst
    rows = conn.execute(
        select(
            t.edges.c.src,
            t.edges.c.dst,
            t.edges.c.relation,
            t.records.c.id,
            t.records.c.kind,
            t.records.c.ledger_index,
        )
        .join(t.records, t.records.c.id == t.edges.c.record_id)
        .where(col == key, t.records.c.status == "active")
        .order_by(t.records.c.ledger_index, t.edges.c.id)
    ).all()
    return list(rows)


def build_graph(
    conn: Connection,
    root_digest: str,
    max_nodes: int = MAX_NODES,
    trusted: frozenset[str] = frozenset(),
) -> LineageGraph:
    """Walk the edge table both ways from the model with ``root_digest``."""
    root = f"sha256:{root_digest}"
    roles: dict[str, str] = {root: "root"}
    seen_edges: dict[tuple[str, str, str, str], Any] = {}
    truncated = False
    for forward, role in ((False, "ancestor"), (True, "descendant")):
        queue = deque([root])
        visited = {root}
        while queue:
            key = queue.popleft()
            for e in _edges_touching(conn, key, forward):
                seen_edges.setdefault((e.src, e.dst, e.relation, e.id), e)
                nxt = e.dst if forward else e.src
                if nxt in visited:
                    continue
                if len(roles) >= max_nodes:
                    truncated = True
                    continue
                visited.add(nxt)
                roles.setdefault(nxt, role)
                queue.append(nxt)
    nodes = {k: _describe(conn, k, r) for k, r in roles.items()}
    edges = [
        GraphEdge(e.src, e.dst, e.relation, e.id, e.kind, e.ledger_index)
        for e in seen_edges.values()
    ]
    edges = _attach_verdicts(conn, edges, trusted)
    return LineageGraph(root, nodes, edges, 0, "", truncated)


def _describe(conn: Connection, key: str, role: str) -> Node:
    if key.startswith("record:"):
        rid = key[7:]
        rec = conn.execute(
            select(t.records.c.kind, t.records.c.name).where(t.records.c.id == rid)
        ).first()
        if rec is None:  # pragma: no cover - edges only reference their own record
            return Node(key, "unknown", None, rid, True, role)
        return Node(key, rec.kind, rec.name, rid, False, role)
    digest = key[7:]
    row = conn.execute(
        select(t.records.c.id, t.records.c.kind, t.records.c.name)
        .join(t.subjects, t.subjects.c.record_id == t.records.c.id)
        .where(
            t.subjects.c.sha256 == digest,
            t.records.c.kind.in_(("model", "dataset")),
            t.records.c.status == "active",
        )
        .order_by(t.records.c.ledger_index)
    ).first()
    if row is None:
        return Node(key, "unknown", None, None, True, role)
    return Node(key, row.kind, row.name, row.id, False, role)


def _attach_verdicts(
    conn: Connection, edges: list[GraphEdge], trusted: frozenset[str]
) -> list[GraphEdge]:
    """Put the current verdict (the trusted verifier's latest statement, :mod:`.verdicts`)
    on each derivation edge; drop "undeclared" edges that it no longer supports."""
    ids = sorted({e.record_id for e in edges if e.record_kind == "derivation"})
    if not ids:
        return edges
    rows = conn.execute(select(t.verifications).where(t.verifications.c.record_id.in_(ids))).all()
    history: dict[str, list[Verification]] = {}
    for row in rows:
        history.setdefault(row.record_id, []).append(from_row(row, {}))
    by_claim: dict[tuple[str, str | None], Verification] = {}
    scratch: dict[str, Verification] = {}
    for claim, vs in history.items():
        for v in current(vs, trusted):
            by_claim[(claim, v.parent_sha256)] = v
            scratch.setdefault(claim, v)
    kept = []
    for e in edges:
        if e.record_kind != "derivation":
            kept.append(e)
            continue
        found = by_claim.get((e.record_id, e.src[7:])) or scratch.get(e.record_id)
        if e.relation == UNDECLARED and (found is None or found.verdict != "contradicted"):
            continue  # a contradiction no trusted verifier (still) states
        if found is not None:
            e.verdict = found.verdict
            e.verification = found.detail
        kept.append(e)
    return kept
