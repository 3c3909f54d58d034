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
    undeclared = [
        {
            "record_id": rid,
            "src": f"sha256:{v.parent_sha256}",
            "dst": f"sha256:{v.child_sha256}",
            "relation": UNDECLARED,
        }
        for v in p.verifications
        if v.verdict == "contradicted" and p.predicate.get("relation") == "none" and v.parent_sha256
    ]
    if undeclared:  # the weights say "derived from X": a real edge the claim denied
        conn.execute(t.edges.insert(), undeclared)
    if p.verifications:
        conn.execute(
            t.verifications.insert(),
            [
                {
                    "record_id": rid,
                    "child_sha256": v.child_sha256,
                    "parent_sha256": v.parent_sha256,
                    "verdict": v.verdict,
                    "detail_json": json.dumps(v.detail, sort_keys=True, default=str),
                }
                for v in p.verifications
            ],
        )
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
