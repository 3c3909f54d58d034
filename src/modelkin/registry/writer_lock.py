"""One writer at a time per registry, across threads, processes and (on PostgreSQL) machines.

Submitting validates against the current tables, appends to the ledger and then writes the
rows; two writers interleaving those steps could validate against stale state or record
``applied_size`` out of order. With the SQLite default, an exclusive ``flock`` on
``<home>/registry.lock`` (plus a thread lock, since flock is per open file) serialises
writers on one machine. With PostgreSQL, servers on different machines share the database,
so the lock is a session-level advisory lock (``pg_advisory_lock``) on a dedicated
autocommit connection: PostgreSQL releases it if the holder dies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection, Engine, text

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX: thread lock only
    fcntl = None  # type: ignore[assignment]

ADVISORY_KEY = 0x6D6B726567777274  # "mkregwrt"; the ledger's sequencer uses another key


class WriterLock:
    """Re-entrant within a thread; exclusive between threads and processes.

    ``engine`` given and PostgreSQL: an advisory lock in that database; else ``path``."""

    def __init__(self, path: Path, engine: Engine | None = None) -> None:
        self.path = path
        self._engine = engine if engine is not None and engine.dialect.name != "sqlite" else None
        self._thread = threading.RLock()
        self._depth = 0
        self._file: TextIO | None = None
        self._conn: Connection | None = None

    def _acquire(self) -> None:
        if self._engine is not None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_KEY})
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        elif fcntl is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = self.path.open("a")
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            self._file = fh

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            finally:
                conn.close()
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()
