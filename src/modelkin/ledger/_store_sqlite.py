"""SQLite storage for the log (the embedded default): ``log.db`` plus ``log.lock``.

WAL with ``synchronous=FULL``, so a committed group survives power loss with one WAL fsync.
Several processes on one machine append under an exclusive ``flock`` on ``log.lock``.
Every SQLite error (a damaged page reads as "database disk image is malformed") becomes a
:class:`~modelkin.errors.LedgerError` naming the file, never a traceback.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from modelkin.errors import LedgerError

DB_NAME, LOCK_NAME, CHECKED_NAME = "log.db", "log.lock", "log.checked"
_F = TypeVar("_F", bound=Callable[..., Any])


def _errors(fn: _F) -> _F:
    """Turn SQLite errors raised by a read into a LedgerError naming the database."""

    @wraps(fn)
    def wrapper(self: SqliteStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise LedgerError(self.path, f"cannot read the log database ({exc})") from exc

    return wrapper  # type: ignore[return-value]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_leaf ON entries(leaf);
CREATE TABLE IF NOT EXISTS hashes(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL,
                                       note TEXT NOT NULL);
"""


class SqliteStore:
    """:class:`~modelkin.ledger._store.Store` over one SQLite file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / DB_NAME
        self.where = str(self.path)
        self._lockfd: int | None = None
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: keep the leaf index hot
            conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(self.path, f"not a usable log database ({exc})") from exc
        self.conn = conn

    @contextmanager
    def sequencer(self) -> Iterator[None]:
        if self._lockfd is None:
            self._lockfd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lockfd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lockfd, fcntl.LOCK_UN)

    def init(self, origin: str, vkey: str, root0: bytes, note0: str) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO meta VALUES('origin', ?)", (origin,))
        c.execute("INSERT INTO meta VALUES('vkey', ?)", (vkey,))
        c.execute("INSERT INTO meta VALUES('size', '0')")
        c.execute("INSERT INTO meta VALUES('checkpoints', '1')")
        c.execute("INSERT INTO checkpoints VALUES(0, ?, ?)", (root0, note0))
        c.execute("COMMIT")

    @_errors
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_errors
    def leaf(self, index: int) -> bytes | None:
        row = self.conn.execute("SELECT leaf FROM entries WHERE idx=?", (index,)).fetchone()
        return None if row is None else bytes(row[0])

    @_errors
    def node(self, key: int) -> bytes | None:
        row = self.conn.execute("SELECT hash FROM hashes WHERE id=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    @_errors
    def leaves(self, indexes: list[int]) -> list[tuple[int, bytes]]:
        q = ",".join("?" * len(indexes))
        sql = f"SELECT idx, leaf FROM entries WHERE idx IN ({q})"
        return [(int(i), bytes(h)) for i, h in self.conn.execute(sql, indexes)]

    @_errors
    def nodes(self, keys: list[int]) -> list[tuple[int, bytes]]:
        q = ",".join("?" * len(keys))
        sql = f"SELECT id, hash FROM hashes WHERE id IN ({q})"
        return [(int(i), bytes(h)) for i, h in self.conn.execute(sql, keys)]

    @_errors
    def find(self, leaf_hashes: list[bytes]) -> list[tuple[bytes, int]]:
        q = ",".join("?" * len(leaf_hashes))  # one indexed lookup for the whole batch
        sql = f"SELECT leaf, idx FROM entries WHERE leaf IN ({q})"
        return [(bytes(h), int(i)) for h, i in self.conn.execute(sql, leaf_hashes)]

    @_errors
    def latest_checkpoint(self) -> tuple[int, str] | None:
        row = self.conn.execute(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    @_errors
    def checkpoint_page(
        self, after: int | None, limit: int, newest_first: bool
    ) -> list[tuple[int, str]]:
        cmp, order = ("<", "DESC") if newest_first else (">", "ASC")
        bound = after if after is not None else (2**63 - 1 if newest_first else -1)
        rows = self.conn.execute(
            f"SELECT size, note FROM checkpoints WHERE size {cmp} ? ORDER BY size {order} LIMIT ?",
            (bound, limit),
        )
        return [(int(s), str(n)) for s, n in rows]

    @_errors
    def checkpoint_rows(self) -> list[tuple[int, bytes, str]]:
        rows = self.conn.execute("SELECT size, root, note FROM checkpoints ORDER BY size")
        return [(int(s), bytes(r), str(n)) for s, r, n in rows]

    @_errors
    def data(self, index: int) -> bytes | None:
        row = self.conn.execute("SELECT data FROM entries WHERE idx=?", (index,)).fetchone()
        return None if row is None else bytes(row[0])

    @_errors
    def entries(self, start: int, stop: int) -> list[bytes]:
        rows = self.conn.execute(
            "SELECT data FROM entries WHERE idx>=? AND idx<? ORDER BY idx", (start, stop)
        ).fetchall()
        return [bytes(r[0]) for r in rows]

    def iter_rows(self) -> Iterator[tuple[int, bytes, bytes]]:
        try:
            cur = self.conn.cursor()
            cur.execute("SELECT idx, leaf, data FROM entries ORDER BY idx")
            while rows := cur.fetchmany(4096):
                for idx, leaf, data in rows:
                    yield int(idx), bytes(leaf), bytes(data)
        except sqlite3.Error as exc:
            raise LedgerError(self.path, f"cannot read the log database ({exc})") from exc

    @_errors
    def count_checkpoints(self, max_size: int) -> int:
        row = self.conn.execute("SELECT count(*) FROM checkpoints WHERE size<=?", (max_size,))
        return int(row.fetchone()[0])

    def _identity(self) -> str:
        st = os.stat(self.path)
        return f"{st.st_dev} {st.st_ino} {st.st_size} {st.st_mtime_ns}"

    def writable_problems(self) -> list[str]:
        """``PRAGMA quick_check`` (O(pages): 0.2 s at 10^5 entries), skipped when ``log.db``
        is exactly as it was when last found sound (same inode, size and mtime, recorded in
        ``log.checked``): a damaged page written by anything changes those, while WAL
        frames carry SQLite's own checksums. Damage that changes no metadata (bit rot) is
        left to ``verify``. Callers hold the sequencer lock."""
        stamp = self.directory / CHECKED_NAME
        try:
            if stamp.read_text() == self._identity():
                return []
        except OSError:
            pass
        problems = self.integrity_check(quick=True)
        if not problems:
            self.stamp_checked()
        return problems

    def _stamp_valid(self, identity: str) -> bool:
        try:
            return (self.directory / CHECKED_NAME).read_text() == identity
        except OSError:
            return False

    def stamp_checked(self) -> None:
        """Record ``log.db`` as sound as it is now (after a check, or after our own commit
        folded the WAL into it)."""
        with suppress(OSError):
            (self.directory / CHECKED_NAME).write_text(self._identity())

    def integrity_check(self, quick: bool) -> list[str]:
        """``PRAGMA quick_check`` (O(pages), no index cross-check) or ``integrity_check``."""
        pragma = "quick_check(20)" if quick else "integrity_check(20)"
        try:
            rows = self.conn.execute(f"PRAGMA {pragma}").fetchall()
        except sqlite3.Error as exc:
            return [str(exc)]
        msgs = [str(r[0]) for r in rows]
        return [] if msgs == ["ok"] else msgs

    def commit(
        self,
        rows: list[tuple[int, bytes, bytes]],
        hashes: list[tuple[int, bytes]],
        size: int,
        checkpoints: list[tuple[int, bytes, str]],
        checkpoint_count: int,
    ) -> None:
        c = self.conn
        try:
            c.execute("BEGIN IMMEDIATE")
            c.executemany("INSERT INTO entries VALUES(?,?,?)", rows)
            c.executemany("INSERT INTO hashes VALUES(?,?)", hashes)
            c.executemany(
                "INSERT OR REPLACE INTO meta VALUES(?,?)",
                [("size", str(size)), ("checkpoints", str(checkpoint_count))],
            )
            c.executemany("INSERT INTO checkpoints VALUES(?,?,?)", checkpoints)
            before = self._identity()
            c.execute("COMMIT")
            after = self._identity()
            if after != before and self._stamp_valid(before):
                self.stamp_checked()  # our own commit folded the WAL into log.db
        except sqlite3.Error as exc:
            if c.in_transaction:  # the commit's own error is the one to report
                with suppress(sqlite3.Error):
                    c.execute("ROLLBACK")
            raise LedgerError(self.path, f"write failed: {exc}") from exc

    def wal_checkpoint(self) -> None:
        """Fold the WAL into the database file (benchmarks measure bytes per entry)."""
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        if self._lockfd is not None:
            os.close(self._lockfd)
            self._lockfd = None
        self.conn.close()
