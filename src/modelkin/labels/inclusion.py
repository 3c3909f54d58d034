"""Independent check that a registry record is in the ledger (RFC 9162 s. 2.1.3.2).

The label says "inclusion proof: verified" only after recomputing the Merkle root from the
entry's bytes and the audit path, and comparing it with the root in the log's checkpoint;
the registry's word alone is not enough for a label whose point is verified provenance.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 s. 2.1.1: MTH of one entry = SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """RFC 9162 s. 2.1.3.2 steps 1-6: the root the proof implies, or None if malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:  # step 5.1: proof longer than the path
            return None
        if fn & 1 or fn == sn:  # step 5.2
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:  # step 5.3
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:  # step 6: the path must end at the root
        return None
    return r


def checkpoint_root(checkpoint: str) -> tuple[int, bytes] | None:
    """(size, root hash) from a C2SP tlog-checkpoint body (origin, size, base64 root)."""
    lines = checkpoint.split("\n")
    if len(lines) < 3:
        return None
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        return None
    if size < 0 or len(root) != 32:
        return None
    return size, root


def inclusion_verified(entry: bytes, index: int, proof_hex: Sequence[str], checkpoint: str) -> bool:
    """True iff ``entry`` at ``index`` is in the tree the checkpoint commits to."""
    head = checkpoint_root(checkpoint)
    if head is None:
        return False
    size, root = head
    try:
        proof = [bytes.fromhex(h) for h in proof_hex]
    except ValueError:
        return False
    if any(len(p) != 32 for p in proof):
        return False
    return root_from_inclusion_proof(index, size, leaf_hash(entry), proof) == root
