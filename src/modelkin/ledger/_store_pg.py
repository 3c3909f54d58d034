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

The connection survives a database restart (or failover, or an idle-session timeout): a
read that finds the connection broken reconnects and is retried once; the sequencer lock
is taken on a fresh connection when the old one died. A commit is never retried: when
the connection breaks during it, the outcome is unknown, so the append fails and the next
one, under a fresh lock, first adopts whatever did reach the database (the log's
catch-up step), so nothing is written twice and nothing acknowledged is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar

import psycopg

from modelkin.errors import LedgerError

_T = TypeVar("_T")
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
        self._url = url
        self.conn: psycopg.Connection[Any] = self._connect()
        self._lock_conn: psycopg.Connection[Any] | None = None
        # under the lock: concurrent CREATE ... IF NOT EXISTS can collide in PostgreSQL
        with self._errors("create the log tables"), self.sequencer(), self.conn.transaction():
            for stmt in _SCHEMA:
                self.conn.execute(stmt)

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(conninfo(self._url), autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise LedgerError(self.where, f"cannot connect to the log database ({exc})") from exc

    def _alive(self) -> None:
        """Replace a connection the server dropped (restart, failover, timeout)."""
        if self.conn.closed or self.conn.broken:
            with suppress(psycopg.Error):
                self.conn.close()
            self.conn = self._connect()

    def _retry(self, fn: Callable[[], _T], what: str) -> _T:
        """Run a read; if the connection turns out to be dead, reconnect and run it again."""
        self._alive()
        try:
            return fn()
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            if not (self.conn.closed or self.conn.broken):
                raise LedgerError(self.where, f"cannot {what}: {exc}") from exc
        self._alive()
        with self._errors(what):
            return fn()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise LedgerError(self.where, f"cannot {what}: {exc}") from exc

    @contextmanager
    def sequencer(self) -> Iterator[None]:
        self._retry(
            lambda: self.conn.execute("SELECT pg_advisory_lock(%s)", (SEQUENCER_KEY,)),
            "take the sequencer lock",
        )
        conn = self._lock_conn = self.conn  # the session that holds the lock
        try:
            yield
        finally:
            self._lock_conn = None
            # a dead session released its lock with it; a replaced one never held it
            if conn is self.conn and not (conn.closed or conn.broken):
                with self._errors("release the sequencer lock"):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (SEQUENCER_KEY,))

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        return self._retry(lambda: self.conn.execute(sql, args).fetchone(), "read the log")

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        return self._retry(lambda: self.conn.execute(sql, args).fetchall(), "read the log")

    def init(self, origin: str, vkey: str, root0: bytes, note0: str) -> None:
        with self._errors("create the log"), self.conn.transaction():
            self.conn.execute(
                "INSERT INTO ledger_meta VALUES('origin', %s), ('vkey', %s), ('size', '0'),"
                " ('checkpoints', '1')",
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

    def checkpoint_page(
        self, after: int | None, limit: int, newest_first: bool
    ) -> list[tuple[int, str]]:
        cmp, order = ("<", "DESC") if newest_first else (">", "ASC")
        bound = after if after is not None else (2**63 - 1 if newest_first else -1)
        rows = self._all(
            f"SELECT size, note FROM ledger_checkpoints WHERE size {cmp} %s "
            f"ORDER BY size {order} LIMIT %s",
            (bound, limit),
        )
        return [(int(s), str(n)) for s, n in rows]

    def checkpoint_rows(self) -> list[tuple[int, bytes, str]]:
        rows = self._all("SELECT size, root, note FROM ledger_checkpoints ORDER BY size")
        return [(int(s), bytes(r), str(n)) for s, r, n in rows]

    def count_checkpoints(self, max_size: int) -> int:
        row = self._one("SELECT count(*) FROM ledger_checkpoints WHERE size<=%s", (max_size,))
        return int(row[0])

    def integrity_check(self, quick: bool) -> list[str]:
        """PostgreSQL checks its own pages (data checksums, WAL); nothing to add here."""
        return []

    def writable_problems(self) -> list[str]:
        return []

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
        self._alive()
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
        checkpoint_count: int,
    ) -> None:
        if self.conn is not self._lock_conn or self.conn.broken:
            raise LedgerError(
                self.where,
                "lost the database connection, and with it the sequencer lock, during an "
                "append; nothing is acknowledged, retry (entries already stored are kept once)",
            )
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                with cur.copy("COPY ledger_entries (idx, leaf, data) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
                if hashes:
                    with cur.copy("COPY ledger_hashes (id, hash) FROM STDIN") as cp:
                        for h in hashes:
                            cp.write_row(h)
                cur.executemany(
                    "INSERT INTO ledger_meta VALUES(%s, %s) ON CONFLICT (k) DO UPDATE"
                    " SET v=EXCLUDED.v",
                    [("size", str(size)), ("checkpoints", str(checkpoint_count))],
                )
                cur.executemany("INSERT INTO ledger_checkpoints VALUES(%s,%s,%s)", checkpoints)
        except psycopg.Error as exc:
            raise LedgerError(self.where, f"write failed: {exc}") from exc

    def close(self) -> None:
        self.conn.close()
