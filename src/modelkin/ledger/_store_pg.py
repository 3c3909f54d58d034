"""PostgreSQL storage for the log, so several servers can share one log database.

Tables are prefixed ``ledger_`` so the registry's tables may live in the same database.
The single sequencer is a session-level advisory lock (``pg_advisory_lock``), held exactly
where the SQLite backend holds its ``flock``: around adopting what another server committed,
staging and committing a group, and recording the signed head in ``signed.state``. A
session lock (not ``pg_advisory_xact_lock``) because the ``signed.state`` record must be
written after the commit and still before another server may commit; PostgreSQL releases
it if the holding server dies. The primary key on ``ledger_entries.idx`` is a second guard:
two writers can never both store an entry at one index.

Durability is PostgreSQL's (``synchronous_commit`` on by default): ``commit`` returns once
the transaction's WAL is flushed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from modelkin.errors import LedgerError

SEQUENCER_KEY = 0x6D6B6C6F67736571  # "mklogseq": the one advisory lock of the ledger
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ledger_meta(k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger_entries(idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL,"
    " data BYTEA NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ledger_entries_leaf ON ledger_entries(leaf)",
    "CREATE TABLE IF NOT EXISTS ledger_hashes(id BIGINT PRIMARY KEY, hash BYTEA NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger_checkpoints(size BIGINT PRIMARY KEY,"
    " root BYTEA NOT NULL, note TEXT NOT NULL)",
)


def conninfo(url: str) -> str:
    """A libpq URI from a SQLAlchemy-style URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    _, sep, rest = url.partition("://")
    if not sep:
        raise LedgerError("database URL", f"{url!r} is not a URL")
    return "postgresql://" + rest


def redact(url: str) -> str:
    """``url`` without its password, for error messages."""
    scheme, _, rest = url.partition("://")
    cred, at, host = rest.rpartition("@")
    if at and ":" in cred:
        cred = cred.split(":", 1)[0] + ":***"
    return f"{scheme}://{cred}{at}{host}"


class PgStore:
    """:class:`~modelkin.ledger._store.Store` over one PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.where = redact(url)
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(
                conninfo(url), autocommit=True, connect_timeout=10
            )
        except psycopg.Error as exc:
            raise LedgerError(self.where, f"cannot connect to the log database ({exc})") from exc
        # under the lock: concurrent CREATE ... IF NOT EXISTS can collide in PostgreSQL
        with self._errors("create the log tables"), self.sequencer(), self.conn.transaction():
            for stmt in _SCHEMA:
                self.conn.execute(stmt)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise LedgerError(self.where, f"cannot {what}: {exc}") from exc

    @contextmanager
    def sequencer(self) -> Iterator[None]:
        with self._errors("take the sequencer lock"):
            self.conn.execute("SELECT pg_advisory_lock(%s)", (SEQUENCER_KEY,))
        try:
            yield
        finally:
            if not self.conn.closed:
                with self._errors("release the sequencer lock"):
                    self.conn.execute("SELECT pg_advisory_unlock(%s)", (SEQUENCER_KEY,))

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        with self._errors("read the log"):
            row = self.conn.execute(sql, args).fetchone()
        return None if row is None else row

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._errors("read the log"):
            return self.conn.execute(sql, args).fetchall()

    def init(self, origin: str, vkey: str, root0: bytes, note0: str) -> None:
        with self._errors("create the log"), self.conn.transaction():
            self.conn.execute(
                "INSERT INTO ledger_meta VALUES('origin', %s), ('vkey', %s), ('size', '0')",
                (origin, vkey),
            )
            self.conn.execute("INSERT INTO ledger_checkpoints VALUES(0, %s, %s)", (root0, note0))

    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT v FROM ledger_meta WHERE k=%s", (key,))
        return None if row is None else str(row[0])

    def leaf(self, index: int) -> bytes | None:
        row = self._one("SELECT leaf FROM ledger_entries WHERE idx=%s", (index,))
        return None if row is None else bytes(row[0])

    def node(self, key: int) -> bytes | None:
        row = self._one("SELECT hash FROM ledger_hashes WHERE id=%s", (key,))
        return None if row is None else bytes(row[0])

    def leaves(self, indexes: list[int]) -> list[tuple[int, bytes]]:
        rows = self._all("SELECT idx, leaf FROM ledger_entries WHERE idx = ANY(%s)", (indexes,))
        return [(int(i), bytes(h)) for i, h in rows]

    def nodes(self, keys: list[int]) -> list[tuple[int, bytes]]:
        rows = self._all("SELECT id, hash FROM ledger_hashes WHERE id = ANY(%s)", (keys,))
        return [(int(i), bytes(h)) for i, h in rows]

    def find(self, leaf_hashes: list[bytes]) -> list[tuple[bytes, int]]:
        rows = self._all(
            "SELECT leaf, idx FROM ledger_entries WHERE leaf = ANY(%s)", (leaf_hashes,)
        )
        return [(bytes(h), int(i)) for h, i in rows]

    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self._one("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1", ())
        return None if row is None else (int(row[0]), str(row[1]))

    def checkpoint_rows(self) -> list[tuple[int, bytes, str]]:
        rows = self._all("SELECT size, root, note FROM ledger_checkpoints ORDER BY size")
        return [(int(s), bytes(r), str(n)) for s, r, n in rows]

    def data(self, index: int) -> bytes | None:
        row = self._one("SELECT data FROM ledger_entries WHERE idx=%s", (index,))
        return None if row is None else bytes(row[0])

    def entries(self, start: int, stop: int) -> list[bytes]:
        rows = self._all(
            "SELECT data FROM ledger_entries WHERE idx>=%s AND idx<%s ORDER BY idx",
            (start, stop),
        )
        return [bytes(r[0]) for r in rows]

    def iter_rows(self) -> Iterator[tuple[int, bytes, bytes]]:
        # a server-side (named) cursor streams rows instead of loading the whole log
        with (
            self._errors("read the log"),
            self.conn.transaction(),
            self.conn.cursor(name="ledger_rows") as cur,
        ):
            cur.execute("SELECT idx, leaf, data FROM ledger_entries ORDER BY idx")
            while rows := cur.fetchmany(4096):
                for idx, leaf, data in rows:
                    yield int(idx), bytes(leaf), bytes(data)

    def commit(
        self,
        rows: list[tuple[int, bytes, bytes]],
        hashes: list[tuple[int, bytes]],
        size: int,
        checkpoints: list[tuple[int, bytes, str]],
    ) -> None:
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                with cur.copy("COPY ledger_entries (idx, leaf, data) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
                if hashes:
                    with cur.copy("COPY ledger_hashes (id, hash) FROM STDIN") as cp:
                        for h in hashes:
                            cp.write_row(h)
                cur.execute("UPDATE ledger_meta SET v=%s WHERE k='size'", (str(size),))
                cur.executemany("INSERT INTO ledger_checkpoints VALUES(%s,%s,%s)", checkpoints)
        except psycopg.Error as exc:
            raise LedgerError(self.where, f"write failed: {exc}") from exc

    def close(self) -> None:
        self.conn.close()
