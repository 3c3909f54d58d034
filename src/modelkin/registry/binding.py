"""Fingerprints bound to weights: a model's fingerprint must name that model's own files.

Blob hashes are public, so a model statement could point ``fingerprint.blob`` at another
model's fingerprint and inherit its lineage ("the victim is a finetune of my model" would
then verify). A fingerprint therefore records the modelkin-manifest/v1 digest of the exact
files it was computed from (:attr:`Fingerprint.manifest`), and a fingerprint is only ever
used for the model whose subject digest it names:

* on submit, a fingerprint whose blob is in the store must be that blob (its digest), and
  must name the statement's own manifest digest, or the statement is refused;
* wherever a registered fingerprint is used (lineage checks, 1:N search, ``modelkin verify``),
  :func:`bound_fingerprint` loads it only if it names the record's digest, so a blob that
  arrives later, or a fingerprint made before binding existed, is never credited to a model
  whose files it did not describe.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelkin.errors import ModelkinError, StatementError

if TYPE_CHECKING:
    from modelkin.fingerprint.model import Fingerprint


def binding_problem(fp: Fingerprint, ref_digest: object, manifest: str) -> str | None:
    """Why ``fp`` may not serve as the fingerprint of the model with ``manifest`` (None: it
    may): it is not the fingerprint the record names, or it describes other files."""
    if fp.digest() != ref_digest:
        return f"the fingerprint blob holds fingerprint {fp.digest()}, not {ref_digest}"
    if fp.manifest is None:
        return (
            "the fingerprint does not name the files it was computed from (made before "
            "fingerprints were bound to weights: fingerprint the model again)"
        )
    if fp.manifest != manifest:
        return (
            f"the fingerprint was computed from other files (manifest {fp.manifest}), "
            f"not this model's ({manifest})"
        )
    return None


def check_submitted(
    ref: dict[str, Any], manifest: str, blob: bytes | None, where: str, admitting: bool = True
) -> list[str]:
    """Refuse a model statement whose fingerprint (its blob at hand) is not bound to its own
    manifest digest; returns warnings. A blob not in the store cannot be checked now; it is
    checked on use. Replaying the log (``admitting`` false) accepts, with a warning, an
    unbound fingerprint logged before binding existed: it stays in its record, unused."""
    if blob is None:
        return []
    from modelkin.fingerprint.model import Fingerprint

    try:
        fp = Fingerprint.from_bytes(blob, f"fingerprint blob {ref.get('blob')}")
    except ModelkinError as exc:
        raise StatementError(where, f"fingerprint blob is not a fingerprint ({exc})") from None
    problem = binding_problem(fp, ref.get("digest"), manifest)
    if problem is None:
        return []
    if not admitting and fp.manifest is None and fp.digest() == ref.get("digest"):
        return [f"fingerprint not used: {problem}"]
    raise StatementError(where, f"fingerprint refused: {problem}")


def bound_fingerprint(path: Path, ref: object, manifest: str | None) -> Fingerprint | None:
    """The fingerprint stored at ``path`` if it is the one ``ref`` names and describes the
    files of ``manifest``; None otherwise (unreadable, another model's, or unbound)."""
    if not isinstance(ref, dict) or manifest is None:
        return None
    from modelkin.fingerprint.model import Fingerprint

    try:
        fp = Fingerprint.load(path)
    except ModelkinError:
        return None
    return fp if binding_problem(fp, ref.get("digest"), manifest) is None else None
