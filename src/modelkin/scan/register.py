"""Registering each scanned model, once, from the driver.

The registry has a single writer, so registration happens in the driver as results
arrive, never in workers. The predicate is the one ``modelkin register model`` builds
(:func:`modelkin.registry.builders.register_model`), except that the manifest and the
fingerprint come from the worker that already read the files instead of being computed a
second time; the fingerprint file goes into the blob store so lineage checks can load it.

Idempotence: before submitting, the registrar looks for an active model record with the
same manifest digest signed by the same key (a crash after submitting but before
journaling must not register the model twice on resume).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelkin.registry import Registry, submit_predicate
from modelkin.scan.collection import ModelEntry
from modelkin.statements.identity import Identity
from modelkin.statements.manifest import MANIFEST_METHOD

#: Registry name and version fields are bounded by the model predicate's schema.
_MAX_FIELD = 512


class Registrar:
    """Signs and submits model registrations for one identity and organisation."""

    def __init__(
        self,
        registry: Registry,
        identity: Identity,
        *,
        organisation: str,
        license: str = "NOASSERTION",
        version: str | None = None,
    ) -> None:
        self.registry, self.identity = registry, identity
        self.organisation, self.license, self.version = organisation, license, version
        self._known: dict[str, dict[str, Any]] = {}
        for rec in registry.records(kind="model"):
            if rec.status == "active" and rec.signer_keyid == identity.keyid and rec.digest:
                self._known.setdefault(
                    rec.digest, {"record_id": rec.id, "ledger_index": rec.ledger_index}
                )

    def register(
        self, entry: ModelEntry, done: dict[str, Any], fingerprint: Path
    ) -> dict[str, Any]:
        """Register the model of a journal ``done`` event; returns the ``registered``
        event's fields (``existing`` is true when the record was already there)."""
        digest = str(done["manifest_digest"])
        known = self._known.get(digest)
        if known is not None:
            return {**known, "existing": True, "warnings": []}
        blob = self.registry.blobs.put_file(fingerprint)
        name = entry.name[-_MAX_FIELD:]
        pred: dict[str, Any] = {
            "name": name,
            "version": (self.version or f"sha256:{digest[:16]}")[:_MAX_FIELD],
            "organisation": self.organisation,
            "license": self.license,
            "intended_use": None,
            "out_of_scope": None,
            "limitations": None,
            "format": done.get("format"),
            "manifest": {"method": MANIFEST_METHOD, "files": done["manifest"]},
            "fingerprint": {"digest": done["fingerprint_digest"], "blob": blob},
            "structure": done.get("structure"),
        }
        receipt = submit_predicate(self.registry, self.identity, "model", [(name, digest)], pred)
        known = {"record_id": receipt.record_id, "ledger_index": receipt.ledger_index}
        self._known[digest] = known
        return {**known, "existing": False, "warnings": list(receipt.warnings)}
