"""Blobs sent with a statement over HTTP: the fingerprint, OMS bundle or loss curve it names.

A model registered on the command line puts its fingerprint into the local blob store, and
lineage checks load it from there. A model registered over HTTP has no such store on the
server, so ``POST /api/v1/statements/with-blobs`` carries the signed envelope together with
the blobs its predicate names. Each blob is bound to the statement, never stored on its own:

* its sha256 must be one of the blob references the predicate's kind allows
  (:data:`ATTACHABLE`): an upload that the signed statement does not name is refused, so
  the endpoint cannot be used as anonymous file storage;
* a fingerprint must load (:meth:`Fingerprint.load`, bounded and validating) and its digest
  must be the ``fingerprint.digest`` the statement signs; the statement's subject is the
  manifest digest of the weights, and the registry's own submit checks (the same as for a
  local registration) decide whether the fingerprint names that manifest;
* the blobs enter the store only for the submission, under the server's write lock, and
  blobs that were not there before are removed again when the statement is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import UploadFile

from modelkin.errors import ModelkinError
from modelkin.registry.blobs import BlobStore

#: Where each statement kind names a blob that may travel with it: (field, subfield).
ATTACHABLE: dict[str, tuple[tuple[str, str], ...]] = {
    "model": (("fingerprint", "blob"), ("oms", "bundle"), ("oms", "trust")),
    "training-run": (("loss_curve", "sha256"),),
}
MAX_BLOBS = 4
MAX_BLOB_BYTES = 32 << 20
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Attachment:
    """One uploaded blob, spooled to disk: its digest and what the statement calls it."""

    digest: str
    field: str
    path: Path


def read_envelope(upload: UploadFile, limit: int) -> dict[str, Any]:
    """The ``envelope`` part as a JSON object (bounded; deep nesting is a 422, not a crash)."""
    raw = upload.file.read(limit + 1)
    if len(raw) > limit:
        raise ModelkinError("envelope", f"larger than {limit} bytes")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelkinError("envelope", f"not a JSON document: {exc}") from None
    except RecursionError:
        raise ModelkinError("envelope", "JSON nested too deeply") from None
    if not isinstance(value, dict):
        raise ModelkinError("envelope", "expected a DSSE envelope (a JSON object)")
    return value


def named_blobs(envelope: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(statement kind, {blob digest: field}) for the blobs the envelope's predicate names.

    The payload is read only to find the references; the registry verifies the signature
    and the schema when the statement is submitted."""
    from modelkin.statements.dsse import envelope_payload
    from modelkin.statements.kinds import kind_for_predicate_type

    _, statement = envelope_payload(envelope)
    kind = kind_for_predicate_type(str(statement.get("predicateType", "")), "predicateType").name
    predicate = statement.get("predicate")
    named: dict[str, str] = {}
    if isinstance(predicate, dict):
        for outer, inner in ATTACHABLE.get(kind, ()):
            ref = predicate.get(outer)
            value = ref.get(inner) if isinstance(ref, dict) else None
            if isinstance(value, str):
                named[value] = f"{outer}.{inner}"
    return kind, named


def spool(uploads: list[UploadFile], named: dict[str, str], tmp: Path) -> list[Attachment]:
    """Copy each upload to ``tmp`` (bounded), hash it, and refuse any the statement does
    not name (or names twice)."""
    if len(uploads) > MAX_BLOBS:
        raise ModelkinError("blob", f"at most {MAX_BLOBS} blobs travel with one statement")
    out: list[Attachment] = []
    for i, upload in enumerate(uploads):
        where = upload.filename or f"blob {i + 1}"
        path = tmp / f"blob-{i}"
        h, size = hashlib.sha256(), 0
        with path.open("wb") as fh:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > MAX_BLOB_BYTES:
                    raise ModelkinError(where, f"larger than {MAX_BLOB_BYTES} bytes")
                h.update(chunk)
                fh.write(chunk)
        digest = h.hexdigest()
        if digest not in named:
            raise ModelkinError(
                where,
                f"blob sha256:{digest} is not named by the statement (a {_fields(named)})",
            )
        if any(a.digest == digest for a in out):
            raise ModelkinError(where, f"blob sha256:{digest} sent twice")
        out.append(Attachment(digest, named[digest], path))
    return out


def _fields(named: dict[str, str]) -> str:
    fields = sorted(set(named.values()))
    return "statement naming " + ", ".join(fields) if fields else "statement that names no blob"


def check_fingerprint(envelope: dict[str, Any], attachment: Attachment) -> None:
    """The uploaded fingerprint loads and is the one whose digest the statement signs."""
    from modelkin.fingerprint import Fingerprint
    from modelkin.statements.dsse import envelope_payload

    try:
        fp = Fingerprint.load(attachment.path)
    except ModelkinError as exc:
        raise ModelkinError("fingerprint.blob", exc.problem) from None
    _, statement = envelope_payload(envelope)
    signed = (statement.get("predicate") or {}).get("fingerprint") or {}
    if str(fp.digest()) != signed.get("digest"):
        raise ModelkinError(
            "fingerprint.blob",
            f"the uploaded fingerprint's digest {fp.digest()} is not the fingerprint.digest "
            f"the statement signs ({signed.get('digest')})",
        )


def prepare(envelope: dict[str, Any], uploads: list[UploadFile], tmp: Path) -> list[Attachment]:
    """Spool and check every upload against the statement (see the module docstring)."""
    _, named = named_blobs(envelope)
    found = spool(uploads, named, tmp)
    for a in found:
        if a.field == "fingerprint.blob":
            check_fingerprint(envelope, a)
    return found


@contextmanager
def staged(blobs: BlobStore, attachments: list[Attachment]) -> Iterator[None]:
    """Put the blobs into the store for the block; remove the new ones if it raises."""
    added: list[str] = []
    try:
        for a in attachments:
            if not blobs.has(a.digest):
                if blobs.put_file(a.path) != a.digest:  # pragma: no cover - the file is ours
                    raise ModelkinError(a.field, "blob changed while it was stored")
                added.append(a.digest)
        yield
    except BaseException:
        for digest in added:
            blobs.path(digest).unlink(missing_ok=True)
        raise
