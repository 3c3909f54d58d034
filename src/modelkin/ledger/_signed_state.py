"""``signed.state``: the last size and root the log signed, kept outside the database.

Restoring ``log.db`` from an old backup must not make the log sign a smaller or different
tree, so the signed head is recorded in a separate file after every batch. The file has
two fixed 64-byte slots written alternately in place (``size u64 || root[32] || seq u64 ||
checkpoints u64 || SHA-256(first 56 bytes)[:8]``): a torn write damages only the slot being
written, and the reader takes the valid slot with the highest sequence. ``checkpoints`` is
how many checkpoints the log had signed up to ``size``, so deleting checkpoint rows from
the database is detected (``verify``). Slots of the first format (``seq`` followed by
``SHA-256(first 48 bytes)[:16]``, no count) are still read, with the count unknown. The file is written after the
database commit, so it never runs ahead of the database; it is ``fdatasync``-ed at most
every ``sync_interval`` seconds and on close, because it guards against operator restores,
not power loss (losing its last second to a crash only makes it older, never wrong).
"""

from __future__ import annotations

import hashlib
import os
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from modelkin.errors import LedgerError

_SLOT = 64


def _pack(size: int, root: bytes, seq: int, checkpoints: int) -> bytes:
    head = struct.pack(">Q", size) + root + struct.pack(">QQ", seq, checkpoints)
    return head + hashlib.sha256(head).digest()[:8]


def _unpack(slot: bytes) -> tuple[int, int, bytes, int | None] | None:
    """``(seq, size, root, checkpoints or None)`` of a valid slot of either format."""
    if len(slot) != _SLOT:
        return None
    (size,), root, (seq,) = (
        struct.unpack(">Q", slot[:8]),
        slot[8:40],
        struct.unpack(">Q", slot[40:48]),
    )
    if hashlib.sha256(slot[:56]).digest()[:8] == slot[56:]:
        return seq, size, root, struct.unpack(">Q", slot[48:56])[0]
    if hashlib.sha256(slot[:48]).digest()[:16] == slot[48:]:
        return seq, size, root, None
    return None


@dataclass(frozen=True)
class SignedHead:
    """The last signed tree the file records."""

    size: int
    root: bytes
    checkpoints: int | None
    """Checkpoints signed up to ``size`` (None in files of the first format)."""


def read_head(path: Path) -> SignedHead | None:
    """The recorded head, or None if the file does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise LedgerError(path, f"cannot read the record of the last signed tree ({exc})") from exc
    best: tuple[int, int, bytes, int | None] | None = None
    for off in (0, _SLOT):
        got = _unpack(data[off : off + _SLOT])
        if got is not None and (best is None or got[0] > best[0]):
            best = got
    if best is None:
        raise LedgerError(path, "no valid record of the last signed tree (file damaged)")
    return SignedHead(best[1], best[2], best[3])


def read(path: Path) -> tuple[int, bytes] | None:
    """The recorded (size, root), or None if the file does not exist."""
    head = read_head(path)
    return None if head is None else (head.size, head.root)


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

    def write(self, size: int, root: bytes, checkpoints: int) -> None:
        """Record a newly signed head and how many checkpoints the log has signed up to it
        (callers hold the sequencer lock)."""
        data = os.pread(self._fd, 2 * _SLOT, 0)  # another process may have written since
        for off in (0, _SLOT):
            slot = data[off : off + _SLOT]
            if len(slot) == _SLOT:
                self._seq = max(self._seq, struct.unpack(">Q", slot[40:48])[0])
        self._seq += 1
        os.pwrite(self._fd, _pack(size, root, self._seq, checkpoints), (self._seq % 2) * _SLOT)
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
