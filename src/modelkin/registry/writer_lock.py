"""One writer at a time per registry home, across threads and processes.

Submitting validates against the current tables, appends to the ledger and then writes the
rows; two writers interleaving those steps could validate against stale state or record
``applied_size`` out of order. An exclusive ``flock`` on ``<home>/registry.lock`` (plus a
thread lock, since flock is per open file) serialises writers on one machine. A registry
shared between machines (PostgreSQL, a later issue) needs a database advisory lock instead.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX: thread lock only
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """Re-entrant within a thread; exclusive between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._file: TextIO | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread:
            if self._depth == 0 and fcntl is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fh = self.path.open("a")
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                self._file = fh
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._file is not None:
                    fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
                    self._file.close()
                    self._file = None
