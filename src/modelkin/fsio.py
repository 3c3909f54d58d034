"""Durable, atomic file replacement: the one way modelkin rewrites a state file.

Ledger state, witness state, cosignatures, monitor state, blobs, scan outputs and the
search index are all small files that must never be seen half-written, even after a crash
or with two processes writing the same path. The recipe (POSIX): write a uniquely named
temporary file in the same directory, fsync it, ``rename`` it over the target, then fsync
the directory so the rename itself is durable. A fixed temporary name would let two
writers interleave; a temporary file in another directory could not be renamed atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A binary file object whose contents replace ``path`` when the block exits cleanly;
    on an exception the target is untouched and the temporary file removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` (see :func:`atomic_writer`); returns ``path``."""
    with atomic_writer(path, mode) as fh:
        fh.write(data)
    return Path(path)
