"""The log's storage interface: what the sequencer needs from a database, nothing more.

Like Go's ``golang.org/x/mod/sumdb/tlog``, the log's logic (hashing, staging, signing) is
independent of where bytes live; a backend stores four things:

- entries ``(idx, leaf, data)``: entry bytes and their RFC 6962 leaf hash (level-0 hashes
  are not stored twice);
- hashes ``(id, hash)``: every complete subtree of ``2**level`` leaves, level >= 1, keyed
  ``level << 48 | index`` like Go's tlog stored-hash index, so any proof is O(log n) reads;
- checkpoints ``(size, root, note)``: every signed checkpoint, one per batch;
- meta ``(k, v)``: origin, committed size, verifier key, number of checkpoints signed.

Two backends implement :class:`Store`: SQLite (one file, the embedded default, see
:mod:`._store_sqlite`) and PostgreSQL (several servers on one database, see
:mod:`._store_pg`). Each provides :meth:`Store.sequencer`, an exclusive lock between
processes held around "adopt what others committed, stage, commit, record the signed head",
which is what makes one log out of several appending processes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

LEVEL_SHIFT = 48
PG_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def hash_id(level: int, index: int) -> int:
    """Row id of the stored hash of subtree ``index`` at ``level``."""
    return (level << LEVEL_SHIFT) | index


def is_postgres(url: str | None) -> bool:
    """Whether ``url`` names a PostgreSQL database (else the SQLite default is used)."""
    return url is not None and url.startswith(PG_SCHEMES)


class Store(Protocol):
    """Durable storage of one log. Reads may run outside :meth:`sequencer`; every write
    happens inside it, in one transaction per :meth:`commit`."""

    where: str
    """What to name in error messages (a file or a database URL without password)."""

    def sequencer(self) -> AbstractContextManager[None]:
        """Exclusive lock between processes appending to this log."""

    def init(self, origin: str, vkey: str, root0: bytes, note0: str) -> None:
        """Write the metadata and the size-0 checkpoint of a new log (one transaction)."""

    def get_meta(self, key: str) -> str | None:
        """One metadata value, or None."""

    def leaf(self, index: int) -> bytes | None:
        """Leaf hash of entry ``index``."""

    def node(self, key: int) -> bytes | None:
        """Stored subtree hash with id ``key`` (see :func:`hash_id`)."""

    def leaves(self, indexes: list[int]) -> list[tuple[int, bytes]]:
        """``(idx, leaf)`` for those of ``indexes`` that exist."""

    def nodes(self, keys: list[int]) -> list[tuple[int, bytes]]:
        """``(id, hash)`` for those of ``keys`` that exist."""

    def find(self, leaf_hashes: list[bytes]) -> list[tuple[bytes, int]]:
        """``(leaf, idx)`` of already logged entries among ``leaf_hashes`` (dedupe)."""

    def latest_checkpoint(self) -> tuple[int, str] | None:
        """``(size, note)`` of the largest checkpoint."""

    def checkpoint_rows(self) -> list[tuple[int, bytes, str]]:
        """Every ``(size, root, note)``, smallest first."""

    def checkpoint_page(
        self, after: int | None, limit: int, newest_first: bool
    ) -> list[tuple[int, str]]:
        """``(size, note)`` of at most ``limit`` checkpoints whose size is past ``after``
        (above it, or below it when ``newest_first``), in that order: a keyset page."""

    def count_checkpoints(self, max_size: int) -> int:
        """How many checkpoint rows have ``size <= max_size``."""

    def integrity_check(self, quick: bool) -> list[str]:
        """What the database engine finds wrong with its own files (empty when sound)."""

    def writable_problems(self) -> list[str]:
        """Why the database must not be written to (damage found), checked cheaply enough
        to run before a process's first write; empty when it may be written."""

    def data(self, index: int) -> bytes | None:
        """Bytes of entry ``index``."""

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Entry bytes ``[start, stop)`` in order."""

    def iter_rows(self) -> Iterator[tuple[int, bytes, bytes]]:
        """Every entry row ``(idx, leaf, data)`` in index order, streamed."""

    def commit(
        self,
        rows: list[tuple[int, bytes, bytes]],
        hashes: list[tuple[int, bytes]],
        size: int,
        checkpoints: list[tuple[int, bytes, str]],
        checkpoint_count: int,
    ) -> None:
        """Durably write new entries, hashes, size, checkpoints and the new total number of
        checkpoints in one transaction; raise :class:`~modelkin.errors.LedgerError`
        (nothing written) on failure."""

    def close(self) -> None:
        """Release the connection and the lock handle."""


def exists(directory: Path, db_url: str | None) -> bool:
    """Whether a log is stored for ``directory`` / ``db_url`` (without creating one)."""
    if is_postgres(db_url):
        from modelkin.ledger._store_pg import PgStore

        assert db_url is not None
        store = PgStore(db_url)
        try:
            return store.get_meta("origin") is not None
        finally:
            store.close()
    from modelkin.ledger._store_sqlite import DB_NAME

    return (directory / DB_NAME).exists()


def open_store(directory: Path, db_url: str | None) -> Store:
    """The backend ``db_url`` names (PostgreSQL), else SQLite ``log.db`` in ``directory``."""
    if is_postgres(db_url):
        from modelkin.ledger._store_pg import PgStore

        assert db_url is not None
        return PgStore(db_url)
    from modelkin.ledger._store_sqlite import SqliteStore

    return SqliteStore(directory)
