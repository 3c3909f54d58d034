"""Admitting a statement: signature, schema and per-kind checks, before anything is logged.

:func:`prepare` is read only: it verifies the DSSE signature against the signer's registered
identity (identity statements are self-signed and register the key), validates the
predicate's JSON Schema, recomputes digests (:mod:`.checks`) and resolves amendment and
withdrawal targets. What it returns (:class:`Prepared`) is what :mod:`.store` writes once
the ledger has accepted the entry. Replay runs the same checks on every logged statement,
so a table can only ever hold what a fresh submission would have admitted.

Nothing here imports the forensic engine: a lineage claim's check arrives as its own signed
``verification`` statement (:mod:`.verification` makes them), admitted here like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, or_, select
from sqlalchemy.engine import Row

from modelkin.errors import StatementError
from modelkin.registry import tables as t
from modelkin.registry.blobs import BlobStore
from modelkin.registry.checks import Hit, run_check
from modelkin.statements.dsse import envelope_payload, verify_envelope
from modelkin.statements.identity import PublicIdentity, keyid_of, load_public_key_pem
from modelkin.statements.kinds import CONTROL_KINDS, Edge, Kind, get_kind, kind_for_predicate_type
from modelkin.statements.statement import Statement


@dataclass
class Prepared:
    """A statement that passed every check, ready to be logged and stored."""

    envelope: dict[str, Any]
    statement: Statement
    kind: Kind  # the kind of the resulting record (the target's, for amendments)
    statement_kind: str
    predicate: dict[str, Any]
    subjects: list[tuple[str, str]]
    edges: list[Edge]
    received_at: str
    target: Row[Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return self.statement.digest


class ConnLookup:
    """:class:`checks.Lookup` over one connection."""

    def __init__(self, conn: Connection, blobs: BlobStore, admitting: bool = True) -> None:
        self.conn, self.blobs, self.admitting = conn, blobs, admitting

    def by_subject(self, sha256: str, kinds: tuple[str, ...]) -> list[Hit]:
        rows = self.conn.execute(
            select(t.records.c.id, t.records.c.kind, t.records.c.name, t.records.c.ledger_index)
            .join(t.subjects, t.subjects.c.record_id == t.records.c.id)
            .where(
                t.subjects.c.sha256 == sha256,
                t.records.c.kind.in_(kinds),
                t.records.c.status == "active",
            )
            .order_by(t.records.c.ledger_index)
        ).all()
        return [Hit(r.id, r.kind, r.name, r.ledger_index) for r in rows]

    def by_fingerprint(self, digest: str) -> list[Hit]:
        needle = json.dumps(digest)
        rows = self.conn.execute(
            select(
                t.records.c.id,
                t.records.c.kind,
                t.records.c.name,
                t.records.c.ledger_index,
                t.records.c.predicate_json,
            )
            .where(t.records.c.kind == "model", t.records.c.status == "active")
            .where(t.records.c.predicate_json.contains(needle))
        ).all()
        hits = []
        for r in rows:
            fp = json.loads(r.predicate_json).get("fingerprint") or {}
            if fp.get("digest") == digest:
                hits.append(Hit(r.id, r.kind, r.name, r.ledger_index))
        return hits

    def has_blob(self, sha256: str) -> bool:
        return self.blobs.has(sha256)

    def blob(self, sha256: str) -> bytes | None:
        return self.blobs.get(sha256) if self.blobs.has(sha256) else None


def prepare(
    conn: Connection,
    blobs: BlobStore,
    envelope: dict[str, Any],
    received_at: str,
    admitting: bool = True,
) -> Prepared:
    """Verify and check ``envelope`` against the current tables (read only).

    ``admitting`` is false when replaying the log: rules added since an entry was logged
    then warn instead of refusing (see :mod:`.binding`)."""
    where = "envelope"
    _, raw = envelope_payload(envelope, where)
    kind = kind_for_predicate_type(raw["predicateType"], where)
    if kind.name == "identity":
        trusted = _self_signed_key(raw, where)
    else:
        trusted = _trusted_keys(conn, envelope, where)
    st = verify_envelope(envelope, trusted, where)
    where = f"{kind.name} statement {st.digest[:16]}"
    reject_nul(raw, where)
    dup = conn.execute(select(t.records.c.ledger_index).where(t.records.c.id == st.digest)).scalar()
    if dup is not None:
        raise StatementError(where, f"statement already registered at ledger index {dup}")
    kind.validate(st.predicate, where)
    lookup = ConnLookup(conn, blobs, admitting)
    if kind.name in CONTROL_KINDS:
        return _prepare_control(conn, envelope, st, kind, received_at, lookup, where)
    if kind.name == "verification":
        warnings = _check_verification(conn, st, lookup, where)
    else:
        warnings = run_check(kind.name, st, st.predicate, lookup, where)
    if kind.name == "identity":
        _check_identity(conn, st, where)
    subjects = list(st.subjects)
    return Prepared(
        envelope=envelope,
        statement=st,
        kind=kind,
        statement_kind=kind.name,
        predicate=st.predicate,
        subjects=subjects,
        edges=kind.edges(st.predicate, [d for _, d in subjects]),
        received_at=received_at,
        warnings=warnings,
    )


def _check_verification(
    conn: Connection, st: Statement, lookup: ConnLookup, where: str
) -> list[str]:
    """A verification must be about a derivation claim in the registry, at its ledger index,
    and speak only of that claim's child and parents (or, for "trained from scratch", of
    registered models). The verdict itself is the verifier's word, signed and logged."""
    p = st.predicate
    claim_id = p["claim"]["record"]
    if st.subject_digests != [claim_id]:
        raise StatementError(where, "subject must be the checked claim's statement digest")
    claim = conn.execute(
        select(t.records.c.kind, t.records.c.ledger_index, t.records.c.predicate_json).where(
            t.records.c.id == claim_id
        )
    ).first()
    if claim is None or claim.kind != "derivation":
        raise StatementError(where, f"claim {claim_id} is not a derivation in the registry")
    if claim.ledger_index != p["claim"]["ledger_index"]:
        raise StatementError(
            where,
            f"claim is at ledger index {claim.ledger_index}, not {p['claim']['ledger_index']}",
        )
    cp = json.loads(claim.predicate_json)
    if p["relation"] != cp["relation"]:
        raise StatementError(
            where, f"the claim's relation is {cp['relation']}, not {p['relation']}"
        )
    parents = {x["sha256"] for x in cp["parents"]}
    warnings = []
    for r in p["results"]:
        if r["child"]["sha256"] != cp["child"]["sha256"]:
            raise StatementError(where, "a result's child is not the claim's child")
        parent = (r.get("parent") or {}).get("sha256")
        if cp["relation"] != "none" and parent not in parents:
            raise StatementError(where, "a result's parent is not one of the claim's parents")
        if cp["relation"] == "none" and parent and not lookup.by_subject(parent, ("model",)):
            raise StatementError(where, f"related model {parent} is not a registered model")
        if r.get("evidence") and not lookup.has_blob(r["evidence"]):
            warnings.append(f"evidence report {r['evidence']} not in the blob store")
    return warnings


def _trusted_keys(
    conn: Connection, envelope: dict[str, Any], where: str
) -> dict[str, PublicIdentity]:
    sigs = envelope.get("signatures") or []
    keyids = [s.get("keyid") for s in sigs if isinstance(s, dict)][:16]
    rows = conn.execute(select(t.identities).where(t.identities.c.keyid.in_(keyids))).all()
    for r in rows:
        if r.status != "active":
            raise StatementError(where, f"signer identity {r.name} was withdrawn")
    return {r.keyid: PublicIdentity.from_pem(r.name, r.public_key_pem) for r in rows}


def _self_signed_key(raw: dict[str, Any], where: str) -> dict[str, PublicIdentity]:
    pred = raw.get("predicate") or {}
    pem = pred.get("public_key")
    if not isinstance(pem, str):
        raise StatementError(where, "identity statement lacks public_key")
    key = load_public_key_pem(pem, where)
    return {keyid_of(key): PublicIdentity(str(pred.get("name")), key)}


def _check_identity(conn: Connection, st: Statement, where: str) -> None:
    p = st.predicate
    keyid = keyid_of(load_public_key_pem(p["public_key"], where))
    if st.subjects != ((p["name"], keyid),):
        raise StatementError(where, "identity subject must be (name, keyid of public_key)")
    if st.signer_keyid != keyid:
        raise StatementError(where, "identity statement must be signed by its own key")
    row = conn.execute(
        select(t.identities).where(
            or_(t.identities.c.keyid == keyid, t.identities.c.name == p["name"])
        )
    ).first()
    if row is not None:
        what = "key" if row.keyid == keyid else "name"
        raise StatementError(where, f"identity {what} already registered as {row.name}")


def _prepare_control(
    conn: Connection,
    envelope: dict[str, Any],
    st: Statement,
    kind: Kind,
    received_at: str,
    lookup: ConnLookup,
    where: str,
) -> Prepared:
    p = st.predicate
    target_id = p["target"]["record"]
    if st.subject_digests != [target_id]:
        raise StatementError(where, "subject must be the target record's statement digest")
    target = conn.execute(select(t.records).where(t.records.c.id == target_id)).first()
    if target is None:
        raise StatementError(where, f"target record {target_id} is not in the registry")
    if target.ledger_index != p["target"]["ledger_index"]:
        raise StatementError(
            where,
            f"target record is at ledger index {target.ledger_index}, not "
            f"{p['target']['ledger_index']}",
        )
    if target.signer_keyid != st.signer_keyid:
        raise StatementError(
            where,
            f"only the identity that signed record {target_id[:16]} may "
            f"{'withdraw' if kind.name == 'withdrawal' else 'amend'} it",
        )
    if target.status != "active":
        later = f" by {target.superseded_by[:16]}" if target.superseded_by else ""
        raise StatementError(where, f"target record is already {target.status}{later}")
    target_kind = get_kind(target.kind)
    subjects = [
        (r.name, r.sha256)
        for r in conn.execute(
            select(t.subjects)
            .where(t.subjects.c.record_id == target_id)
            .order_by(t.subjects.c.position)
        )
    ]
    if kind.name == "withdrawal":
        return Prepared(
            envelope, st, kind, kind.name, p, list(st.subjects), [], received_at, target
        )
    if target_kind.name == "identity":
        raise StatementError(
            where, "identities cannot be amended; withdraw it and register a new identity"
        )
    new = p["predicate"]
    target_kind.validate(new, where)
    as_target = Statement(
        tuple(subjects), target_kind.predicate_type, new, st.signer_keyid, st.digest
    )
    warnings = [
        w
        for w in run_check(target_kind.name, as_target, new, lookup, where)
        if target_id[:16] not in w  # the record being amended is not a duplicate of itself
    ]
    return Prepared(
        envelope=envelope,
        statement=st,
        kind=target_kind,
        statement_kind=kind.name,
        predicate=new,
        subjects=subjects,
        edges=target_kind.edges(new, [d for _, d in subjects]),
        received_at=received_at,
        target=target,
        warnings=warnings,
    )


def reject_nul(value: object, where: str) -> None:
    """Refuse U+0000 anywhere in a statement, before it is logged.

    PostgreSQL text columns cannot hold NUL; a statement logged first and then failing to
    insert would leave the ledger ahead of the tables for good (every replay would fail).
    No field has a legitimate use for NUL, so both backends refuse it identically."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                raise StatementError(where, "text contains a NUL character (U+0000)")
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
