"""The registry: accepts signed statements, logs them, and answers queries over them.

Order of operations for :meth:`Registry.submit` (the ledger is the source of truth):

1. verify and check the statement against the current tables (read only, :mod:`.submission`);
2. append the leaf to the ledger (durable, returns index + inclusion proof + checkpoint);
3. write the record rows and ``meta.applied_size = index + 1`` in ONE transaction
   (:mod:`.store`).

A crash after 2 and before 3 leaves a ledger entry the tables lack; :meth:`Registry.open`
replays every entry from ``applied_size`` to the ledger size (:mod:`.replay`), so nothing
accepted is lost and nothing is half-written. :meth:`rebuild` drops the tables and replays
everything. Reads are in :mod:`.queries` (and the paged forms in :mod:`.pages`); lineage
claims are checked against the weights in :mod:`.verification`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError

from modelkin.config import Home, default_db_url
from modelkin.errors import LedgerError, ModelkinError, NotFoundError
from modelkin.registry import tables as t
from modelkin.registry.blobs import BlobStore
from modelkin.registry.database import (
    applied,
    checkpoint_size,
    hex_prefix,
    open_engine,
    refresh_planner_stats,
    set_applied,
)
from modelkin.registry.leaf import encode_leaf
from modelkin.registry.lineage import MAX_NODES, LineageGraph, build_graph
from modelkin.registry.migrate import upgrade
from modelkin.registry.queries import RegistryQueries
from modelkin.registry.replay import REPLAY_BATCH, replay_range
from modelkin.registry.results import Receipt
from modelkin.registry.store import apply
from modelkin.registry.submission import prepare
from modelkin.registry.svg import lineage_svg
from modelkin.registry.verifier import existing_keyid, load_or_create
from modelkin.registry.writer_lock import WriterLock
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.identity import Identity
from modelkin.statements.kinds import get_kind
from modelkin.statements.statement import make_statement, subject

__all__ = ["LEDGER_ORIGIN", "REPLAY_BATCH", "Registry", "checkpoint_size", "hex_prefix"]

LEDGER_ORIGIN = "modelkin.local/registry"


def _now() -> str:
    """RFC 3339 UTC with microseconds (sortable as text)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Registry(RegistryQueries):
    """Models, datasets, training runs, derivations, products and works, with lineage.

    Open with :meth:`open`; use as a context manager or call :meth:`close`."""

    def __init__(self, home: Home, engine: Engine, blobs: BlobStore, lock: WriterLock) -> None:
        self.home = home
        self.engine = engine
        self.blobs = blobs
        self._lock = lock
        self._ledger: Any = None
        #: check derivation claims at submission and log the operator's verification
        self.auto_verify = True
        self._trusted: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, home: Path | str | None = None, db_url: str | None = None) -> Registry:
        """Open (creating if needed) the registry in ``home``; migrate; repair from the ledger.

        ``db_url`` (default ``$MODELKIN_DB_URL``, else ``registry.db`` in the home) chooses
        the database; a PostgreSQL URL (``postgresql+psycopg://...``) also holds the ledger's
        rows, so several servers can share one registry."""
        h = Home.resolve(home).ensure()
        url = db_url or default_db_url() or f"sqlite:///{h.registry_db}"
        engine = open_engine(url)
        lock = WriterLock(h.root / "registry.lock", engine)
        reg = cls(h, engine, BlobStore(h.blobs_dir), lock)
        try:
            with lock.hold():  # two processes opening a fresh registry must not both migrate
                with engine.begin() as conn:
                    upgrade(conn)
                reg.repair()
                refresh_planner_stats(engine)
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
            return applied(conn)

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
            replay_range(self.engine, self.ledger, self.blobs, start, end)
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
            prepared = prepare(conn, self.blobs, envelope, received_at)
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
            apply(conn, prepared, result.index)
            set_applied(conn, result.index + 1)
        followup, warnings = None, list(prepared.warnings)
        if self.auto_verify and prepared.kind.name == "derivation":
            try:  # the claim is logged: a failed check must not read as a refused claim
                v = self._verify_locked(prepared.record_id)
                followup = {"record_id": v.record_id, "ledger_index": v.ledger_index}
            except ModelkinError as exc:
                warnings.append(f"claim logged, but its verification was not: {exc}")
        return Receipt(
            record_id=prepared.record_id,
            kind=prepared.kind.name,
            ledger_index=result.index,
            leaf_hash=bytes(result.leaf_hash).hex(),
            tree_size=result.tree_size,
            inclusion_proof=[bytes(h).hex() for h in result.inclusion_proof],
            checkpoint=result.checkpoint,
            received_at=received_at,
            warnings=warnings,
            verification=followup,
        )

    # ------------------------------------------------------------------ verification
    @property
    def trusted_verifiers(self) -> frozenset[str]:
        """The operator's verifier key (read once it exists: another process sharing this
        home may create it after this registry was opened)."""
        if not self._trusted:
            keyid = existing_keyid(self.home)
            if keyid is not None:
                self._trusted = frozenset({keyid})
        return self._trusted

    def reverify(self, claim: str) -> Receipt:
        """Check derivation claim ``claim`` (record id) again with the installed forensic
        engine and log the operator's new verification statement; earlier ones stay in the
        ledger and are shown beside it when they disagree."""
        with self._lock.hold():
            reopen = self.ledger_url is None
            if reopen:
                self._release_ledger()
            try:
                self.repair()
                return self._verify_locked(self.record(claim, "derivation").id)
            finally:
                if reopen:
                    self._release_ledger()

    def verification_predicate(self, claim: str) -> tuple[str, dict[str, Any]]:
        """(claim record id, verification predicate) for ``claim``, computed with the
        installed forensic engine, for any verifier to sign (:mod:`.verification`)."""
        from modelkin.registry.verification import verify_claim

        rec = self.record(claim, "derivation")
        with self.engine.connect() as conn:
            pred = verify_claim(
                conn,
                self.blobs,
                {"record": rec.id, "ledger_index": rec.ledger_index},
                rec.predicate,
            )
        return rec.id, pred

    def _verify_locked(self, claim_id: str) -> Receipt:
        ident = self._verifier_locked()
        rid, pred = self.verification_predicate(claim_id)
        st = make_statement([subject("claim", rid)], get_kind("verification").predicate_type, pred)
        return self._submit_locked(sign_envelope(st, ident))

    def _verifier_locked(self) -> Identity:
        """The operator's verifier identity, registered in the ledger on first use."""
        ident = load_or_create(self.home)
        self._trusted = frozenset({ident.keyid})
        with self.engine.connect() as conn:
            known = conn.execute(
                select(t.identities.c.keyid).where(t.identities.c.keyid == ident.keyid)
            ).first()
        if known is None:
            pred = {
                "name": ident.name,
                "algorithm": "ed25519",
                "public_key": ident.public_key_pem,
                "organisation": None,
                "contact": None,
            }
            st = make_statement(
                [subject(ident.name, ident.keyid)], get_kind("identity").predicate_type, pred
            )
            self._submit_locked(sign_envelope(st, ident))
        return ident

    # ------------------------------------------------------------------ lineage
    def lineage(self, model: str, max_nodes: int = MAX_NODES) -> LineageGraph:
        """Ancestors and descendants of ``model`` across record kinds, with evidence."""
        digest = self._digest_of(model)
        with self._lock.hold():
            with self.engine.connect() as conn:
                graph = build_graph(conn, digest, max_nodes, self.trusted_verifiers)
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
