"""C2SP tlog-proof: an offline-verifiable ``.tlog-proof`` bundle for one entry.

Format (c2sp.org/tlog-proof@v1): the line ``c2sp.org/tlog-proof@v1``, an optional
``extra <base64>`` line, ``index <n>``, the inclusion proof hashes in base64 one per line,
a blank line, then the signed checkpoint note (with any cosignatures).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from modelkin.errors import LedgerError
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import Checkpoint, open_checkpoint, parse_size

if TYPE_CHECKING:
    from modelkin.ledger.policy import Trust, Verdict

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    """A parsed proof bundle (nothing verified yet)."""

    index: int
    proof: list[bytes]
    checkpoint: str
    extra: bytes | None = None


def format_proof(
    index: int, proof: list[bytes], checkpoint: str, extra: bytes | None = None
) -> str:
    """Render a ``.tlog-proof`` text."""
    lines = [HEADER]
    if extra is not None:
        lines.append(f"extra {_note.b64(extra)}")
    lines.append(f"index {index}")
    lines.extend(_note.b64(p) for p in proof)
    return "\n".join(lines) + "\n\n" + checkpoint


def parse_proof(text: str, where: str = "tlog-proof") -> TlogProof:
    """Parse a ``.tlog-proof`` text strictly."""
    head, sep, cp = text.partition("\n\n")
    if not sep:
        raise LedgerError(where, "no blank line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != HEADER:
        raise LedgerError(where, f"first line must be {HEADER}")
    pos, extra = 1, None
    if pos < len(lines) and lines[pos].startswith("extra "):
        extra = _note.unb64(lines[pos][6:], where)
        pos += 1
    if pos >= len(lines) or not lines[pos].startswith("index "):
        raise LedgerError(where, "missing index line")
    index = parse_size(lines[pos][6:], where, "index")
    hashes = [_note.unb64(x, where) for x in lines[pos + 1 :]]
    if len(hashes) > 63 or any(len(h) != 32 for h in hashes):
        raise LedgerError(where, "proof hashes must be at most 63 32-byte hashes")
    return TlogProof(index, hashes, cp, extra)


def verify_proof(
    text: str, entry: bytes, vkey: str, where: str = "tlog-proof"
) -> tuple[TlogProof, Checkpoint]:
    """Verify a bundle offline: checkpoint signature by ``vkey`` and inclusion of ``entry``."""
    p = parse_proof(text, where)
    cp, _ = open_checkpoint(p.checkpoint, _note.Verifier.parse(vkey), where)
    if not mk.verify_inclusion(mk.leaf_hash(entry), p.index, cp.size, p.proof, cp.root):
        raise LedgerError(where, f"entry is not included at index {p.index} (bad proof)")
    return p, cp


def verify_proof_policy(
    text: str, entry: bytes, policy: Trust, where: str = "tlog-proof"
) -> tuple[TlogProof, Verdict]:
    """Verify a bundle under a trust policy: the checkpoint is signed by a policy log and
    cosigned by the policy's quorum (the verdict names who vouched), and ``entry`` is
    included. Raises :class:`LedgerError` saying which part fails."""
    p = parse_proof(text, where)
    verdict = policy.require(p.checkpoint, where)
    cp = verdict.checkpoint
    if not mk.verify_inclusion(mk.leaf_hash(entry), p.index, cp.size, p.proof, cp.root):
        raise LedgerError(where, f"entry is not included at index {p.index} (bad proof)")
    return p, verdict
