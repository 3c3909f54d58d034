"""Content-addressed blob store: ``<dir>/sha256/<hex>``.

Holds what is too big or too binary for the ledger and the database — envelopes above the
ledger's entry limit, fingerprints, loss curves — named by their sha256, so a statement can
refer to a blob by digest and anyone can check it. Writes go to a temporary file and are
renamed into place, so a blob is either complete or absent.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.fsio import atomic_writer
from modelkin.statements.statement import is_sha256_hex

MAX_BLOB = 1 << 30
_CHUNK = 1 << 20


class BlobStore:
    """A directory of immutable blobs named by sha256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if not is_sha256_hex(digest):
            raise ModelkinError(digest, "blob digest must be 64 lowercase hex digits")
        return self.root / "sha256" / digest

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        if len(data) > MAX_BLOB:
            raise ModelkinError("blob", f"larger than the {MAX_BLOB}-byte cap")
        digest = hashlib.sha256(data).hexdigest()
        if not self.has(digest):
            self._write(digest, [data])
        return digest

    def put_file(self, src: Path) -> str:
        """Copy a file in (streamed), returning its digest."""
        src = Path(src)
        try:
            size = src.stat().st_size
        except OSError as exc:
            raise ModelkinError(src, f"cannot read: {exc}") from exc
        if size > MAX_BLOB:
            raise ModelkinError(src, f"larger than the {MAX_BLOB}-byte blob cap")
        target_dir = self.root / "sha256"
        target_dir.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = h.hexdigest()
            os.replace(tmp, self.path(digest))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, digest: str, limit: int = MAX_BLOB) -> bytes:
        """Read a blob and check its digest (the store is on disk, so trust nothing)."""
        path = self.path(digest)
        if not path.is_file():
            raise NotFoundError(f"blob {digest}", "not in the blob store")
        if path.stat().st_size > limit:
            raise ModelkinError(path, f"blob larger than {limit} bytes")
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ModelkinError(path, "blob content does not match its digest (corrupted store)")
        return data

    def _write(self, digest: str, chunks: list[bytes]) -> None:
        with atomic_writer(self.path(digest)) as out:
            for c in chunks:
                out.write(c)
