"""Writing an admitted statement into the tables (records, subjects, edges, verdicts).

Called by submission, after the ledger accepted the entry, and by replay, for every logged
entry: the same function for both, so a rebuilt registry holds exactly what was written
when the statements arrived. The caller owns the transaction and the ``applied_size`` mark.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection

from modelkin.registry import tables as t
from modelkin.registry.lineage import UNDECLARED
from modelkin.registry.submission import Prepared
from modelkin.statements.kinds import SELF


def node_key(endpoint: str, record_id: str) -> str:
    """Graph node key for an edge endpoint: the record itself or an artifact digest."""
    return f"record:{record_id}" if endpoint == SELF else f"sha256:{endpoint}"


def _str_or_none(v: object) -> str | None:
    return None if v is None else str(v)[:512]


def apply(conn: Connection, p: Prepared, index: int) -> None:
    """Store ``p``, logged at ledger ``index``."""
    rid = p.record_id
    target = p.target
    conn.execute(
        t.records.insert().values(
            id=rid,
            kind=p.kind.name,
            statement_kind=p.statement_kind,
            # works carry a title rather than a name
            name=_str_or_none(p.predicate.get("name") or p.predicate.get("title")),
            version=_str_or_none(p.predicate.get("version")),
            organisation=_str_or_none(p.predicate.get("organisation")),
            signer_keyid=p.statement.signer_keyid,
            ledger_index=index,
            received_at=p.received_at,
            status="active",
            supersedes=target.id if target is not None else None,
            superseded_by=None,
            status_reason=None,
            predicate_json=json.dumps(p.predicate, sort_keys=True),
            envelope_json=json.dumps(p.envelope, sort_keys=True),
        )
    )
    if p.subjects:
        conn.execute(
            t.subjects.insert(),
            [
                {"record_id": rid, "position": i, "name": n[:4096], "sha256": d}
                for i, (n, d) in enumerate(p.subjects)
            ],
        )
    if p.edges:
        conn.execute(
            t.edges.insert(),
            [
                {
                    "record_id": rid,
                    "src": node_key(e.src, rid),
                    "dst": node_key(e.dst, rid),
                    "relation": e.relation,
                }
                for e in p.edges
            ],
        )
    if p.statement_kind == "verification":
        _apply_verification(conn, p, index)
    if p.statement_kind == "identity":
        conn.execute(
            t.identities.insert().values(
                keyid=p.statement.signer_keyid,
                name=p.predicate["name"],
                public_key_pem=p.predicate["public_key"],
                record_id=rid,
                status="active",
            )
        )
    if target is not None:
        new_status = "withdrawn" if p.statement_kind == "withdrawal" else "amended"
        conn.execute(
            t.records.update()
            .where(t.records.c.id == target.id)
            .values(
                status=new_status,
                superseded_by=rid,
                status_reason=p.statement.predicate["reason"],
            )
        )
        if new_status == "withdrawn" and target.kind == "identity":
            conn.execute(
                t.identities.update()
                .where(t.identities.c.record_id == target.id)
                .values(status="withdrawn")
            )


def _apply_verification(conn: Connection, p: Prepared, index: int) -> None:
    """Index a verification statement under the claim it checks: one row per checked pair,
    with who verified, with which engine, at which ledger index (the statement itself is
    the record; nothing is recomputed)."""
    pred = p.predicate
    claim = pred["claim"]["record"]
    common = {
        "statement": p.record_id,
        "ledger_index": index,
        "verifier": p.statement.signer_keyid,
        "engine": pred["engine"],
        "verified_at": pred["verified_at"],
        "outcome": pred["outcome"],
        "relation": pred["relation"],
    }
    if "scope" in pred:
        common["scope"] = pred["scope"]
    rows = []
    for r in pred["results"]:
        detail = dict(
            common,
            reason=r["reason"],
            forensic_verdict=r.get("verdict_class"),
            p_value=r.get("p_value"),
            evidence=r.get("evidence"),
        )
        parent = r["parent"]["sha256"] if r.get("parent") else None
        rows.append(
            {
                "record_id": claim,
                "child_sha256": r["child"]["sha256"],
                "parent_sha256": parent,
                "verdict": r["outcome"],
                "detail_json": json.dumps(detail, sort_keys=True, default=str),
            }
        )
    conn.execute(t.verifications.insert(), rows)
    undeclared = [
        {
            "record_id": claim,
            "src": f"sha256:{row['parent_sha256']}",
            "dst": f"sha256:{row['child_sha256']}",
            "relation": UNDECLARED,
        }
        for row in rows
        if row["verdict"] == "contradicted" and pred["relation"] == "none" and row["parent_sha256"]
    ]
    if undeclared:  # "the weights say derived from X": an edge the claim denied (shown in the
        # graph only while the trusted verifier's latest statement says so, see .lineage)
        conn.execute(t.edges.insert(), undeclared)
