"""``signed.state``: the last size and root the log signed, kept outside the database.

Restoring ``log.db`` from an old backup must not make the log sign a smaller or different
tree, so the signed head is recorded in a separate file after every batch. The file has
two fixed 64-byte slots written alternately in place (``size u64 || root[32] || seq u64 ||
SHA-256(first 48 bytes)[:16]``): a torn write damages only the slot being written, and
the reader takes the valid slot with the highest sequence. The file is written after the
database commit, so it never runs ahead of the database; it is ``fdatasync``-ed at most
every ``sync_interval`` seconds and on close, because it guards against operator restores,
not power loss (losing its last second to a crash only makes it older, never wrong).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from pathlib import Path

from modelkin.errors import LedgerError

_SLOT = 64


def _pack(size: int, root: bytes, seq: int) -> bytes:
    head = struct.pack(">Q", size) + root + struct.pack(">Q", seq)
    return head + hashlib.sha256(head).digest()[:16]


def read(path: Path) -> tuple[int, bytes] | None:
    """The recorded (size, root), or None if the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    best: tuple[int, int, bytes] | None = None
    for off in (0, _SLOT):
        slot = data[off : off + _SLOT]
        if len(slot) != _SLOT or hashlib.sha256(slot[:48]).digest()[:16] != slot[48:]:
            continue
        (size,), root, (seq,) = (
            struct.unpack(">Q", slot[:8]),
            slot[8:40],
            struct.unpack(">Q", slot[40:48]),
        )
        if best is None or seq > best[0]:
            best = (seq, size, root)
    if best is None:
        raise LedgerError(path, "no valid record of the last signed tree (file damaged)")
    return best[1], best[2]


class StateWriter:
    """Keeps ``signed.state`` open and overwrites alternate slots."""

    def __init__(self, path: Path, sync_interval: float = 1.0) -> None:
        self.path = path
        self.sync_interval = sync_interval
        self._last_sync = 0.0
        self._dirty = False
        new = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._seq = 0
        if new:
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)  # make the new directory entry durable once
            finally:
                os.close(dfd)
        else:
            data = os.pread(self._fd, 2 * _SLOT, 0)
            for off in (0, _SLOT):
                slot = data[off : off + _SLOT]
                if len(slot) == _SLOT:
                    self._seq = max(self._seq, struct.unpack(">Q", slot[40:48])[0])

    def write(self, size: int, root: bytes) -> None:
        """Record a newly signed head (callers hold ``log.lock``)."""
        data = os.pread(self._fd, 2 * _SLOT, 0)  # another process may have written since
        for off in (0, _SLOT):
            slot = data[off : off + _SLOT]
            if len(slot) == _SLOT:
                self._seq = max(self._seq, struct.unpack(">Q", slot[40:48])[0])
        self._seq += 1
        os.pwrite(self._fd, _pack(size, root, self._seq), (self._seq % 2) * _SLOT)
        self._dirty = True
        now = time.monotonic()
        if now - self._last_sync >= self.sync_interval:
            self.sync()
            self._last_sync = now

    def sync(self) -> None:
        """Make the latest record durable."""
        if self._dirty:
            os.fdatasync(self._fd)
            self._dirty = False

    def close(self) -> None:
        """Sync and close the file."""
        self.sync()
        os.close(self._fd)
