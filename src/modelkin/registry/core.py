"""The registry: accepts signed statements, logs them, and answers queries over them.

Order of operations for :meth:`Registry.submit` (the ledger is the source of truth):

1. verify and check the statement against the current tables (read only);
2. append the leaf to the ledger (durable, returns index + inclusion proof + checkpoint);
3. write the record rows and ``meta.applied_size = index + 1`` in ONE transaction.

A crash after 2 and before 3 leaves a ledger entry the tables lack; :meth:`Registry.open`
replays every entry from ``applied_size`` to the ledger size, so nothing accepted is lost
and nothing is half-written. :meth:`rebuild` drops the tables and replays everything.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, event, func, or_, select, text
from sqlalchemy.engine import Row
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from modelkin.config import Home, default_db_url
from modelkin.errors import LedgerError, ModelkinError, NotFoundError, StatementError
from modelkin.registry import tables as t
from modelkin.registry.blobs import BlobStore
from modelkin.registry.checks import Hit, run_check
from modelkin.registry.leaf import decode_leaf, encode_leaf
from modelkin.registry.lineage import MAX_NODES, UNDECLARED, LineageGraph, build_graph
from modelkin.registry.migrate import upgrade
from modelkin.registry.results import Receipt, Record, Verification
from modelkin.registry.svg import lineage_svg
from modelkin.registry.verify import verify_derivation
from modelkin.registry.writer_lock import WriterLock
from modelkin.statements.dsse import envelope_payload, verify_envelope
from modelkin.statements.identity import PublicIdentity, keyid_of, load_public_key_pem
from modelkin.statements.kinds import (
    CONTROL_KINDS,
    SELF,
    Edge,
    Kind,
    get_kind,
    kind_for_predicate_type,
)
from modelkin.statements.statement import Statement

LEDGER_ORIGIN = "modelkin.local/registry"
REPLAY_BATCH = 256


def _now() -> str:
    """RFC 3339 UTC with microseconds (sortable as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def node_key(endpoint: str, record_id: str) -> str:
    """Graph node key for an edge endpoint: the record itself or an artifact digest."""
    return f"record:{record_id}" if endpoint == SELF else f"sha256:{endpoint}"


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
    verifications: list[Verification] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return self.statement.digest


class _ConnLookup:
    """:class:`checks.Lookup` over one connection."""

    def __init__(self, conn: Connection, blobs: BlobStore) -> None:
        self.conn, self.blobs = conn, blobs

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


class Registry:
    """Models, datasets, training runs, derivations, products and works, with lineage.

    Open with :meth:`open`; use as a context manager or call :meth:`close`."""

    def __init__(self, home: Home, engine: Engine, blobs: BlobStore, lock: WriterLock) -> None:
        self.home = home
        self.engine = engine
        self.blobs = blobs
        self._lock = lock
        self._ledger: Any = None

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, home: Path | str | None = None, db_url: str | None = None) -> Registry:
        """Open (creating if needed) the registry in ``home``; migrate; repair from the ledger.

        ``db_url`` (default ``$MODELKIN_DB_URL``, else ``registry.db`` in the home) chooses
        the database; a PostgreSQL URL (``postgresql+psycopg://...``) also holds the ledger's
        rows, so several servers can share one registry."""
        h = Home.resolve(home).ensure()
        url = db_url or default_db_url() or f"sqlite:///{h.registry_db}"
        engine = _engine(url)
        lock = WriterLock(h.root / "registry.lock", engine)
        reg = cls(h, engine, BlobStore(h.blobs_dir), lock)
        try:
            with lock.hold():  # two processes opening a fresh registry must not both migrate
                with engine.begin() as conn:
                    upgrade(conn)
                reg.repair()
        except OperationalError as exc:
            reg.close()
            where = engine.url.render_as_string(hide_password=True)
            raise LedgerError(where, f"cannot use the registry database ({exc.orig})") from exc
        except BaseException:
            reg.close()
            raise
        return reg

    @property
    def ledger_url(self) -> str | None:
        """Where the ledger keeps its rows: the registry's PostgreSQL database, or None for
        the SQLite ``log.db`` in the home's ledger directory."""
        if self.engine.dialect.name == "sqlite":
            return None
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def ledger(self) -> Any:
        """The transparency log (:class:`modelkin.ledger.Ledger`), opened on first use.

        The log admits one appending process at a time and caches its size, so writers
        reopen it under the registry's writer lock and release it after appending
        (:meth:`_release_ledger`); readers may see a checkpoint a little behind, which
        still verifies."""
        if self._ledger is None:
            from modelkin.ledger import Ledger
            from modelkin.ledger.log import DB_NAME

            directory, url = self.home.ledger_dir, self.ledger_url
            if url is not None:  # created on first use, under the log's own sequencer lock
                self._ledger = Ledger.open(directory, origin=LEDGER_ORIGIN, db_url=url)
                return self._ledger
            fresh = not (directory / DB_NAME).exists()
            self._ledger = Ledger.open(
                directory, origin=LEDGER_ORIGIN if fresh else None, create=fresh
            )
        return self._ledger

    def _release_ledger(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def close(self) -> None:
        self._release_ledger()
        self.engine.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def applied_size(self) -> int:
        """How many ledger entries the tables reflect."""
        with self.engine.connect() as conn:
            return self._applied(conn)

    @staticmethod
    def _applied(conn: Connection) -> int:
        value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "applied_size")).scalar()
        return int(value) if value is not None else 0

    def repair(self) -> int:
        """Apply ledger entries the tables lack (after a crash); returns how many."""
        with self._lock.hold():
            start, end = self.applied_size(), self.ledger.size()
            if start > end:
                raise LedgerError(
                    self.home.ledger_dir,
                    f"registry has applied {start} entries but the ledger holds only {end} "
                    "(ledger rolled back?); run `modelkin registry rebuild` to trust the ledger",
                )
            for lo in range(start, end, REPLAY_BATCH):
                hi = min(end, lo + REPLAY_BATCH)
                entries = self.ledger.entries(lo, hi)
                with self.engine.begin() as conn:  # one transaction per batch, with its mark
                    for index, data in zip(range(lo, hi), entries, strict=True):
                        self._replay_one(conn, index, data)
                    self._set_applied(conn, hi)
            return end - start

    def rebuild(self) -> int:
        """Drop every registry table and replay the whole ledger; returns entries applied."""
        with self._lock.hold():
            self._release_ledger()
            with self.engine.begin() as conn:
                t.metadata.drop_all(conn)
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
                upgrade(conn)
            return self.repair()

    def _replay_one(self, conn: Connection, index: int, data: bytes) -> None:
        leaf = decode_leaf(data, index, self.blobs)
        if leaf is None:  # not a registry statement: nothing to index
            return
        try:
            prepared = self._prepare(conn, leaf.envelope, leaf.received_at)
        except ModelkinError as exc:
            raise LedgerError(
                f"ledger entry {index}", f"logged statement no longer verifies: {exc}"
            ) from exc
        self._apply(conn, prepared, index)

    # ------------------------------------------------------------------ submit
    def submit(self, envelope: dict[str, Any]) -> Receipt:
        """Verify, check, log and store one DSSE envelope; see the module docstring."""
        with self._lock.hold():
            # SQLite: reopen to see appends by other processes, release to let them append.
            # PostgreSQL: the log adopts others' appends under its advisory lock; keep it.
            reopen = self.ledger_url is None
            if reopen:
                self._release_ledger()
            try:
                return self._submit_locked(envelope)
            finally:
                if reopen:
                    self._release_ledger()

    def _submit_locked(self, envelope: dict[str, Any]) -> Receipt:
        self.repair()
        received_at = _now()
        with self.engine.connect() as conn:
            prepared = self._prepare(conn, envelope, received_at)
        leaf = encode_leaf(
            envelope,
            received_at,
            prepared.statement_kind,
            prepared.statement.signer_keyid,
            self.blobs,
        )
        result = self.ledger.append(leaf)
        if result.duplicate:  # same bytes, same received_at: cannot happen honestly
            raise LedgerError("ledger", f"entry already logged at index {result.index}")
        with self.engine.begin() as conn:
            self._apply(conn, prepared, result.index)
            self._set_applied(conn, result.index + 1)
        return Receipt(
            record_id=prepared.record_id,
            kind=prepared.kind.name,
            ledger_index=result.index,
            leaf_hash=bytes(result.leaf_hash).hex(),
            tree_size=result.tree_size,
            inclusion_proof=[bytes(h).hex() for h in result.inclusion_proof],
            checkpoint=result.checkpoint,
            received_at=received_at,
            warnings=prepared.warnings,
        )

    def _trusted_keys(
        self, conn: Connection, envelope: dict[str, Any], where: str
    ) -> dict[str, PublicIdentity]:
        sigs = envelope.get("signatures") or []
        keyids = [s.get("keyid") for s in sigs if isinstance(s, dict)][:16]
        rows = conn.execute(select(t.identities).where(t.identities.c.keyid.in_(keyids))).all()
        for r in rows:
            if r.status != "active":
                raise StatementError(where, f"signer identity {r.name} was withdrawn")
        return {r.keyid: PublicIdentity.from_pem(r.name, r.public_key_pem) for r in rows}

    def _prepare(self, conn: Connection, envelope: dict[str, Any], received_at: str) -> Prepared:
        where = "envelope"
        _, raw = envelope_payload(envelope, where)
        kind = kind_for_predicate_type(raw["predicateType"], where)
        if kind.name == "identity":
            trusted = self._self_signed_key(raw, where)
        else:
            trusted = self._trusted_keys(conn, envelope, where)
        st = verify_envelope(envelope, trusted, where)
        where = f"{kind.name} statement {st.digest[:16]}"
        _reject_nul(raw, where)
        dup = conn.execute(
            select(t.records.c.ledger_index).where(t.records.c.id == st.digest)
        ).scalar()
        if dup is not None:
            raise StatementError(where, f"statement already registered at ledger index {dup}")
        kind.validate(st.predicate, where)
        lookup = _ConnLookup(conn, self.blobs)
        if kind.name in CONTROL_KINDS:
            return self._prepare_control(conn, envelope, st, kind, received_at, lookup, where)
        warnings = run_check(kind.name, st, st.predicate, lookup, where)
        if kind.name == "identity":
            self._check_identity(conn, st, where)
        subjects = list(st.subjects)
        prepared = Prepared(
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
        self._verify_lineage(conn, prepared)
        return prepared

    @staticmethod
    def _self_signed_key(raw: dict[str, Any], where: str) -> dict[str, PublicIdentity]:
        pred = raw.get("predicate") or {}
        pem = pred.get("public_key")
        if not isinstance(pem, str):
            raise StatementError(where, "identity statement lacks public_key")
        key = load_public_key_pem(pem, where)
        return {keyid_of(key): PublicIdentity(str(pred.get("name")), key)}

    @staticmethod
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
        self,
        conn: Connection,
        envelope: dict[str, Any],
        st: Statement,
        kind: Kind,
        received_at: str,
        lookup: _ConnLookup,
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
        prepared = Prepared(
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
        self._verify_lineage(conn, prepared)
        return prepared

    def _verify_lineage(self, conn: Connection, prepared: Prepared) -> None:
        if prepared.kind.name != "derivation":
            return
        fps = self._fingerprints(conn)
        prepared.verifications = verify_derivation(
            prepared.predicate,
            lambda d: fps[d][1] if d in fps else None,
            [(d, name) for d, (name, _) in fps.items()],
        )

    def _fingerprints(self, conn: Connection) -> dict[str, tuple[str | None, Path]]:
        """digest -> (name, fingerprint path) for active models whose fingerprint is stored."""
        out: dict[str, tuple[str | None, Path]] = {}
        rows = conn.execute(
            select(t.records.c.name, t.records.c.predicate_json, t.subjects.c.sha256)
            .join(t.subjects, t.subjects.c.record_id == t.records.c.id)
            .where(t.records.c.kind == "model", t.records.c.status == "active")
            .order_by(t.records.c.ledger_index)
        ).all()
        for r in rows:
            fp = json.loads(r.predicate_json).get("fingerprint")
            if fp and self.blobs.has(fp["blob"]) and r.sha256 not in out:
                out[r.sha256] = (r.name, self.blobs.path(fp["blob"]))
        return out

    def _apply(self, conn: Connection, p: Prepared, index: int) -> None:
        rid = p.record_id
        status = "active"
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
                status=status,
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
            if v.verdict == "contradicted"
            and p.predicate.get("relation") == "none"
            and v.parent_sha256
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

    @staticmethod
    def _set_applied(conn: Connection, size: int) -> None:
        updated = conn.execute(
            t.meta.update().where(t.meta.c.key == "applied_size").values(value=str(size))
        ).rowcount
        if not updated:
            conn.execute(t.meta.insert().values(key="applied_size", value=str(size)))

    # ------------------------------------------------------------------ queries
    def records(self, kind: str | None = None, include_inactive: bool = False) -> list[Record]:
        """Records of ``kind`` (all kinds if None), newest last; active only by default."""
        q = select(t.records).order_by(t.records.c.ledger_index)
        if kind is not None:
            q = q.where(t.records.c.kind == kind)
        if not include_inactive:
            q = q.where(t.records.c.status == "active")
        with self.engine.connect() as conn:
            return self._to_records(conn, conn.execute(q).all())

    def models(self) -> list[Record]:
        return self.records("model")

    def datasets(self) -> list[Record]:
        return self.records("dataset")

    def training_runs(self) -> list[Record]:
        return self.records("training-run")

    def products(self) -> list[Record]:
        return self.records("product")

    def works(self) -> list[Record]:
        return self.records("work")

    def identities(self) -> list[dict[str, Any]]:
        """Registered identities (name, keyid, status, public key)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.identities).order_by(t.identities.c.name)).all()
        return [
            {
                "name": r.name,
                "keyid": r.keyid,
                "status": r.status,
                "record_id": r.record_id,
                "public_key_pem": r.public_key_pem,
            }
            for r in rows
        ]

    def record(self, ref: str, kind: str | None = None) -> Record:
        """One record by id (or unique id prefix of >= 8 hex), subject digest, or name.

        Names and digests resolve to the newest active record; ids resolve to any status."""
        kinds = (kind,) if kind else None
        with self.engine.connect() as conn:
            row = self._resolve(conn, ref, kinds)
            return self._to_records(conn, [row])[0]

    def model(self, ref: str) -> Record:
        """A model by record id, manifest digest, or name."""
        return self.record(ref, "model")

    def derivations(self, model: str) -> list[Record]:
        """Active derivation claims in which ``model`` (ref or digest) is child or parent."""
        digest = self._digest_of(model)
        key = f"sha256:{digest}"
        with self.engine.connect() as conn:
            ids = select(t.edges.c.record_id).where(or_(t.edges.c.src == key, t.edges.c.dst == key))
            rows = conn.execute(
                select(t.records)
                .where(t.records.c.id.in_(ids), t.records.c.kind == "derivation")
                .where(t.records.c.status == "active")
                .order_by(t.records.c.ledger_index)
            ).all()
            return self._to_records(conn, rows)

    def search(self, text_: str, kind: str | None = None) -> list[Record]:
        """Active records whose name, organisation, digest or predicate mention ``text_``."""
        needle = text_.lower()
        with self.engine.connect() as conn:
            matches = [
                func.lower(t.records.c.name).contains(needle, autoescape=True),
                func.lower(t.records.c.organisation).contains(needle, autoescape=True),
                func.lower(t.records.c.predicate_json).contains(needle, autoescape=True),
            ]
            if _is_hex(needle):  # a digest prefix: an index range, never a LIKE pattern
                sub = select(t.subjects.c.record_id).where(hex_prefix(t.subjects.c.sha256, needle))
                matches.append(t.records.c.id.in_(sub))
            q = select(t.records).where(t.records.c.status == "active", or_(*matches))
            if kind:
                q = q.where(t.records.c.kind == kind)
            rows = conn.execute(q.order_by(t.records.c.ledger_index)).all()
            return self._to_records(conn, rows)

    def history(self, ref: str) -> list[Record]:
        """A record and every earlier version it amends, newest first."""
        out = [self.record(ref)]
        while out[-1].supersedes:
            out.append(self.record(out[-1].supersedes))
        return out

    def _digest_of(self, ref: str) -> str:
        if len(ref) == 64 and all(c in "0123456789abcdef" for c in ref):
            return ref
        rec = self.record(ref)
        if rec.digest is None:  # pragma: no cover - every record has a subject
            raise NotFoundError(ref, "record has no subject digest")
        return rec.digest

    def _resolve(self, conn: Connection, ref: str, kinds: tuple[str, ...] | None) -> Row[Any]:
        def scoped(q: Any) -> Any:
            return q.where(t.records.c.kind.in_(kinds)) if kinds else q

        ref = ref.strip()
        what = kinds[0] if kinds else "record"
        if ref and all(c in "0123456789abcdef" for c in ref) and len(ref) >= 8:
            rows = conn.execute(
                scoped(select(t.records).where(hex_prefix(t.records.c.id, ref))).limit(2)
            ).all()
            if len(rows) > 1:
                raise NotFoundError(ref, f"ambiguous {what} id prefix (more than one match)")
            if rows:
                return rows[0]
            subq = select(t.subjects.c.record_id).where(hex_prefix(t.subjects.c.sha256, ref))
            row = conn.execute(
                scoped(
                    select(t.records).where(
                        t.records.c.id.in_(subq), t.records.c.status == "active"
                    )
                ).order_by(t.records.c.ledger_index.desc())
            ).first()
            if row is not None:
                return row
        row = conn.execute(
            scoped(
                select(t.records).where(t.records.c.name == ref, t.records.c.status == "active")
            ).order_by(t.records.c.ledger_index.desc())
        ).first()
        if row is None:
            raise NotFoundError(ref, f"no active {what} with this id, digest or name")
        return row

    def _to_records(self, conn: Connection, rows: Iterable[Row[Any]]) -> list[Record]:
        rows = list(rows)
        if not rows:
            return []
        ids = [r.id for r in rows]
        subs: dict[str, list[tuple[str, str]]] = {i: [] for i in ids}
        for s in conn.execute(
            select(t.subjects)
            .where(t.subjects.c.record_id.in_(ids))
            .order_by(t.subjects.c.position)
        ):
            subs[s.record_id].append((s.name, s.sha256))
        vers: dict[str, list[Verification]] = {i: [] for i in ids}
        for v in conn.execute(
            select(t.verifications)
            .where(t.verifications.c.record_id.in_(ids))
            .order_by(t.verifications.c.id)
        ):
            vers[v.record_id].append(
                Verification(v.child_sha256, v.parent_sha256, v.verdict, json.loads(v.detail_json))
            )
        refs: dict[str, list[str]] = {i: [] for i in ids}
        for e in conn.execute(select(t.edges).where(t.edges.c.record_id.in_(ids))):
            for end in (e.src, e.dst):
                if end.startswith("sha256:"):
                    refs[e.record_id].append(end[7:])
        known = self._known_artifacts(conn, {d for ds in refs.values() for d in ds})
        signers = sorted({r.signer_keyid for r in rows})
        names = {
            r.keyid: r.name
            for r in conn.execute(
                select(t.identities.c.keyid, t.identities.c.name).where(
                    t.identities.c.keyid.in_(signers)
                )
            )
        }
        return [
            Record(
                id=r.id,
                kind=r.kind,
                statement_kind=r.statement_kind,
                name=r.name,
                version=r.version,
                organisation=r.organisation,
                signer_keyid=r.signer_keyid,
                signer_name=names.get(r.signer_keyid),
                ledger_index=r.ledger_index,
                received_at=r.received_at,
                status=r.status,
                supersedes=r.supersedes,
                superseded_by=r.superseded_by,
                status_reason=r.status_reason,
                subjects=subs[r.id],
                predicate=json.loads(r.predicate_json),
                envelope=json.loads(r.envelope_json),
                dangling=sorted({d for d in refs[r.id] if d not in known}),
                verifications=vers[r.id],
            )
            for r in rows
        ]

    @staticmethod
    def _known_artifacts(conn: Connection, digests: set[str]) -> set[str]:
        if not digests:
            return set()
        rows = conn.execute(
            select(t.subjects.c.sha256)
            .join(t.records, t.records.c.id == t.subjects.c.record_id)
            .where(
                t.subjects.c.sha256.in_(sorted(digests)),
                t.records.c.kind.in_(("model", "dataset")),
                t.records.c.status == "active",
            )
        ).scalars()
        return set(rows)

    # ------------------------------------------------------------------ lineage
    def lineage(self, model: str, max_nodes: int = MAX_NODES) -> LineageGraph:
        """Ancestors and descendants of ``model`` across record kinds, with evidence."""
        digest = self._digest_of(model)
        with self._lock.hold():
            with self.engine.connect() as conn:
                graph = build_graph(conn, digest, max_nodes)
            checkpoint = str(self.ledger.checkpoint())
            size = checkpoint_size(checkpoint)
            for e in graph.edges:
                if e.ledger_index < size:
                    proof = self.ledger.inclusion_proof(e.ledger_index, size)
                    e.inclusion_proof = [bytes(h).hex() for h in proof]
        graph.tree_size, graph.checkpoint = size, checkpoint
        return graph

    def lineage_svg(self, graph: LineageGraph) -> str:
        """The graph as an SVG picture."""
        return lineage_svg(graph)

    # ------------------------------------------------------------------ proofs
    def inclusion_proof(self, index: int) -> dict[str, Any]:
        """RFC 6962 inclusion proof of ledger entry ``index`` in the signed checkpoint's tree."""
        checkpoint = str(self.ledger.checkpoint())
        size = checkpoint_size(checkpoint)
        if not 0 <= index < size:
            raise NotFoundError(f"ledger index {index}", f"not in the tree of size {size}")
        proof = self.ledger.inclusion_proof(index, size)
        return {
            "ledger_index": index,
            "tree_size": size,
            "inclusion_proof": [bytes(h).hex() for h in proof],
            "checkpoint": checkpoint,
        }

    def checkpoint(self) -> str:
        return str(self.ledger.checkpoint())


def checkpoint_size(checkpoint: str) -> int:
    """Tree size from a C2SP tlog-checkpoint body (line 2: decimal size)."""
    lines = checkpoint.split("\n")
    try:
        return int(lines[1])
    except (IndexError, ValueError) as exc:
        raise LedgerError("checkpoint", "malformed checkpoint from the ledger") from exc


def _is_hex(text: str) -> bool:
    return bool(text) and len(text) <= 64 and all(c in "0123456789abcdef" for c in text)


def hex_prefix(column: Any, prefix: str) -> Any:
    """``column`` starts with the lowercase-hex ``prefix``, as an index range scan
    (``prefix <= value < prefix + "g"``: "g" sorts after every hex digit). ``LIKE 'p%'``
    would treat ``%``/``_`` in ``prefix`` as wildcards and, case-insensitive in SQLite, could
    not use the index (a full scan per lookup)."""
    return and_(column >= prefix, column < prefix + "g")


def _reject_nul(value: object, where: str) -> None:
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


def _str_or_none(v: object) -> str | None:
    return None if v is None else str(v)[:512]


def _engine(url: str) -> Engine:
    """An engine for ``url``: SQLite with the pragmas the registry relies on, or PostgreSQL
    via psycopg 3 (``postgresql://`` is read as ``postgresql+psycopg://``)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url)
        else:  # a database that went away must fail fast and be noticed, not hang
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (ArgumentError, NoSuchModuleError) as exc:
        raise LedgerError("database URL", f"not a usable database URL ({exc})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name != "postgresql":
        raise LedgerError("database URL", "only sqlite:/// and postgresql+psycopg:// are supported")
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
