"""What registry calls return: receipts, records, verdicts (plain dataclasses, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Receipt:
    """Proof that a statement was accepted: where it sits in the ledger and how to check it.

    ``inclusion_proof`` (RFC 6962 audit path, hex) proves leaf ``ledger_index`` is in the tree
    of ``tree_size`` committed to by the signed ``checkpoint``."""

    record_id: str
    kind: str
    ledger_index: int
    leaf_hash: str
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str
    received_at: str
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "kind": self.kind,
            "ledger_index": self.ledger_index,
            "leaf_hash": self.leaf_hash,
            "tree_size": self.tree_size,
            "inclusion_proof": self.inclusion_proof,
            "checkpoint": self.checkpoint,
            "received_at": self.received_at,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class Verification:
    """The forensic check of one lineage claim against the weights."""

    child_sha256: str
    parent_sha256: str | None
    verdict: str  # verified | contradicted | unverifiable
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "child_sha256": self.child_sha256,
            "parent_sha256": self.parent_sha256,
            "verdict": self.verdict,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Record:
    """One accepted statement as the registry holds it (latest state)."""

    id: str
    kind: str
    statement_kind: str
    name: str | None
    version: str | None
    organisation: str | None
    signer_keyid: str
    signer_name: str | None
    ledger_index: int
    received_at: str
    status: str  # active | amended | withdrawn
    supersedes: str | None
    superseded_by: str | None
    status_reason: str | None
    subjects: list[tuple[str, str]]
    predicate: dict[str, Any]
    envelope: dict[str, Any]
    dangling: list[str] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)

    @property
    def digest(self) -> str | None:
        """The first subject digest (a model's manifest digest, a dataset's Merkle root)."""
        return self.subjects[0][1] if self.subjects else None

    def to_dict(self, envelope: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "statement_kind": self.statement_kind,
            "name": self.name,
            "version": self.version,
            "organisation": self.organisation,
            "signer": {"keyid": self.signer_keyid, "name": self.signer_name},
            "ledger_index": self.ledger_index,
            "received_at": self.received_at,
            "status": self.status,
            "supersedes": self.supersedes,
            "superseded_by": self.superseded_by,
            "status_reason": self.status_reason,
            "subjects": [{"name": n, "sha256": d} for n, d in self.subjects],
            "predicate": self.predicate,
            "dangling": self.dangling,
            "verifications": [v.to_dict() for v in self.verifications],
        }
        if envelope:
            out["envelope"] = self.envelope
        return out
