"""File manifests of model directories, with file names bound into the digest.

OpenSSF model signing (v1.0) signs a list of per-file sha256 digests; its issue 49 shows
that digest-only checks let renamed or swapped files pass. We therefore hash the names
too: the manifest digest is sha256 over the ``sha256sum``-style text
``"<hex>  <name>\\n"`` for every file, sorted by name (POSIX relative path, UTF-8). Anyone
can recompute it with ``sha256sum`` and ``sort``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError, StatementError

MANIFEST_METHOD = "modelkin-manifest/v1"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Streamed sha256 of a file (model files may be many GB)."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    except OSError as exc:
        raise ModelkinError(path, f"cannot read: {exc}") from exc
    return h.hexdigest()


def manifest_text(files: Iterable[Mapping[str, Any]]) -> bytes:
    """The canonical manifest text; refuses names that would make it ambiguous."""
    rows = sorted((str(f["name"]), str(f["sha256"])) for f in files)
    seen: set[str] = set()
    out = []
    for name, digest in rows:
        if not name or "\n" in name or "\r" in name or "\\" in name:
            raise StatementError(repr(name), "manifest file name empty or contains \\n, \\r or \\")
        if name.startswith("/") or ".." in name.split("/"):
            raise StatementError(name, "manifest file name must be relative, without '..'")
        if name in seen:
            raise StatementError(name, "manifest lists the same file twice")
        seen.add(name)
        out.append(f"{digest}  {name}\n")
    return "".join(out).encode("utf-8")


def manifest_digest(files: Iterable[Mapping[str, Any]]) -> str:
    """Hex sha256 of :func:`manifest_text`: the subject digest of a model registration."""
    return hashlib.sha256(manifest_text(files)).hexdigest()


def model_files(root: Path) -> list[tuple[str, Path]]:
    """``(name, path)`` of every file a manifest of ``root`` lists, sorted by path.

    ``root`` itself if it is a file. Hidden files and directories (``.git``, ``.cache``) are
    skipped: they are not part of the model. Symlinks are refused: a manifest must
    describe bytes, not pointers."""
    root = Path(root)
    if root.is_file():
        return [(root.name, root)]
    if not root.is_dir():
        raise ModelkinError(root, "not a file or directory")
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_symlink():
            raise ModelkinError(path, "symlinks are not allowed in a model directory")
        if path.is_file():
            out.append((rel.as_posix(), path))
    if not out:
        raise ModelkinError(root, "directory holds no files")
    return out


def scan_directory(root: Path) -> list[dict[str, Any]]:
    """Per-file ``{name, sha256, size}`` entries of :func:`model_files` (streamed sha256)."""
    return [
        {"name": name, "sha256": sha256_file(path), "size": path.stat().st_size}
        for name, path in model_files(root)
    ]
