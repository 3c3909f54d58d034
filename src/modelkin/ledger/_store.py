"""SQLite storage for the log: entries, stored subtree hashes, signed checkpoints.

Schema (WAL, ``synchronous=FULL`` so a committed batch survives power loss):

- ``entries(idx, leaf, data)``: entry bytes and their RFC 6962 leaf hash (level-0 hashes
  are not stored twice);
- ``hashes(id, hash)``: every complete subtree of ``2**level`` leaves, level >= 1, keyed
  ``level << 48 | index`` like Go's tlog stored-hash index, so any proof is O(log n) reads;
- ``checkpoints(size, root, note)``: every signed checkpoint, one per batch;
- ``meta(k, v)``: origin and committed size.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from modelkin.errors import LedgerError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries(idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS entries_leaf ON entries(leaf);
CREATE TABLE IF NOT EXISTS hashes(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints(size INTEGER PRIMARY KEY, root BLOB NOT NULL,
                                       note TEXT NOT NULL);
"""

LEVEL_SHIFT = 48


def hash_id(level: int, index: int) -> int:
    """Row id of the stored hash of subtree ``index`` at ``level``."""
    return (level << LEVEL_SHIFT) | index


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) the log database with the durability settings the log relies on."""
    try:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: keep the leaf index hot
        conn.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise LedgerError(path, f"not a usable log database ({exc})") from exc
    return conn


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    """One metadata value, or None."""
    row = conn.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
    return None if row is None else str(row[0])
