"""What registry calls return: receipts, records, verdicts (plain dataclasses, JSON-ready)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Receipt:
    """Proof that a statement was accepted: where it sits in the ledger and how to check it.

    A lineage claim's receipt also names the registry's verification statement
    (``verification``: its record id and ledger index), logged right after the claim.

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
    #: for a lineage claim: where the registry logged its verification statement
    verification: dict[str, Any] | None = None

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
            "verification": self.verification,
        }


@dataclass(frozen=True)
class Verification:
    """The forensic check of one (child, parent) pair of a lineage claim, as a verifier's
    logged ``verification`` statement states it.

    ``detail`` holds the statement's words: ``reason``, ``forensic_verdict`` (verdict
    class), ``p_value``, ``evidence`` (blob digest of the full report), ``engine``
    (name, version), ``verifier`` (keyid), ``statement`` and ``ledger_index`` (where the
    statement sits in the ledger)."""

    child_sha256: str
    parent_sha256: str | None
    verdict: str  # verified | partly_supported | contradicted | unverifiable
    detail: dict[str, Any]
    verifier_name: str | None = None

    @property
    def ledger_index(self) -> int | None:
        value = self.detail.get("ledger_index")
        return value if isinstance(value, int) else None

    @property
    def verifier_keyid(self) -> str | None:
        value = self.detail.get("verifier")
        return value if isinstance(value, str) else None

    @property
    def engine(self) -> str | None:
        """``name version`` of the engine that decided."""
        eng = self.detail.get("engine")
        if isinstance(eng, dict):
            return f"{eng.get('name')} {eng.get('version')}"
        return None

    @property
    def attribution(self) -> str:
        """ "verified by V with engine E at ledger #N" (with the outcome's own word)."""
        who = self.verifier_name or (self.verifier_keyid or "?")[:16]
        return (
            f"{self.verdict.replace('_', ' ')} by {who} with engine {self.engine or '?'} "
            f"at ledger #{self.ledger_index}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "child_sha256": self.child_sha256,
            "parent_sha256": self.parent_sha256,
            "verdict": self.verdict,
            "detail": self.detail,
            "verifier": {"keyid": self.verifier_keyid, "name": self.verifier_name},
            "ledger_index": self.ledger_index,
            "attribution": self.attribution,
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
    #: every verification of this claim, oldest first: the trusted verifier's current one
    #: (``verifications``) and earlier or third-party ones, shown side by side
    verification_history: list[Verification] = field(default_factory=list)

    @property
    def verifications_disagree(self) -> bool:
        """Logged verifications of this claim reach different outcomes for one pair."""
        seen: dict[str | None, set[str]] = {}
        for v in self.verification_history:
            seen.setdefault(v.parent_sha256, set()).add(v.verdict)
        return any(len(s) > 1 for s in seen.values())

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
            "verification_history": [v.to_dict() for v in self.verification_history],
            "verifications_disagree": self.verifications_disagree,
        }
        if envelope:
            out["envelope"] = self.envelope
        return out
