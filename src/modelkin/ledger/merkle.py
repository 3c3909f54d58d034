"""RFC 6962 / RFC 9162 Merkle tree hashing and proofs, as pure functions.

Leaves are hashed ``SHA-256(0x00 || entry)`` and interior nodes ``SHA-256(0x01 || l || r)``
(RFC 9162 s. 2.1.1), so a leaf can never be confused with a node. Proof *generation* works
over any store of complete subtree hashes, given as ``get(level, index)`` returning the hash
of the aligned subtree of ``2**level`` leaves starting at ``index * 2**level``: every RFC
range is either such a subtree or splits into O(log n) of them, so a proof costs O(log n)
reads. Verification follows the RFC 9162 algorithms step by step.

Rule for size 0 (see ``vectors/merkle/consistency/additional``): :func:`verify_consistency`
follows RFC 9162 and transparency-dev/merkle and *rejects* ``old_size == 0`` (there is no
proof to check; the empty tree is trivially a prefix of every tree, so callers that want to
accept it, like a C2SP tlog-witness seeing a log for the first time, decide that themselves).
Verifiers here return ``bool`` and never raise for well-typed input.

Which rule each API applies to ``old_size == 0`` (the published vectors disagree):

- :func:`verify_consistency` and :meth:`modelkin.ledger.Ledger.consistency_proof` (and
  ``modelkin ledger consistency``): refused. There is nothing to prove, and an empty
  "proof" returned with success would read as evidence it is not.
- the C2SP tlog-witness ``add-checkpoint`` (:mod:`.witness`): ``old 0`` with an *empty*
  proof is accepted, as that spec requires (a witness's first sight of a log).
- the HTTP ``/api/v1/ledger/proof/consistency`` endpoint: ``old`` must be >= 1.

Sizes and indexes are u64 in every C2SP format: anything above ``MAX_SIZE`` is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HashGetter = Callable[[int, int], bytes]
"""``get(level, index)``: hash of the complete subtree of ``2**level`` leaves at ``index``."""

MAX_SIZE = (1 << 64) - 1
"""Largest tree size or index any C2SP format can carry (a u64); larger is refused
everywhere (a witness that cosigned size 2**64 would be stuck: no real checkpoint is ever
larger)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (RFC 9162 s. 2.1.1)."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 s. 2.1.1: MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 s. 2.1.1: SHA-256(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n >= 2): the RFC's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Tree head of the given leaf hashes, bottom-up (equal to the RFC recursion)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def subtree_hash(lo: int, hi: int, get: HashGetter) -> bytes:
    """MTH of leaves ``[lo, hi)`` from stored complete subtrees (O(log n) reads)."""
    n = hi - lo
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0 and lo % n == 0:
        level = n.bit_length() - 1
        return get(level, lo >> level)
    k = _split(n)
    return node_hash(subtree_hash(lo, lo + k, get), subtree_hash(lo + k, hi, get))


def tree_root(size: int, get: HashGetter) -> bytes:
    """MTH(D[size]) from stored hashes."""
    return subtree_hash(0, size, get)


def inclusion_proof(index: int, size: int, get: HashGetter) -> list[bytes]:
    """RFC 9162 s. 2.1.3.1 PATH(m, D[n]), leaf-to-root order."""
    if not 0 <= index < size <= MAX_SIZE:
        raise ValueError(f"index {index} outside tree of size {size}")
    out: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append(subtree_hash(lo + k, hi, get))
            hi = lo + k
        else:
            out.append(subtree_hash(lo, lo + k, get))
            lo = lo + k
    out.reverse()
    return out


def consistency_proof(old_size: int, new_size: int, get: HashGetter) -> list[bytes]:
    """RFC 9162 s. 2.1.4.1 PROOF(m, D[n]); empty for ``old_size`` 0 or equal sizes (callers
    decide whether size 0 may be asked for: see the module docstring)."""
    if not 0 <= old_size <= new_size <= MAX_SIZE:
        raise ValueError(f"bad sizes {old_size} -> {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    out: list[bytes] = []
    lo, hi, m, complete = 0, new_size, old_size, True
    # SUBPROOF(m, D[lo:hi], b) unrolled: m is relative to lo.
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                out.append(subtree_hash(lo, hi, get))
            break
        k = _split(n)
        if m <= k:
            out.append(subtree_hash(lo + k, hi, get))
            hi = lo + k
        else:
            out.append(subtree_hash(lo, lo + k, get))
            lo, m, complete = lo + k, m - k, False
    out.reverse()
    return out


def inclusion_steps(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> tuple[list[tuple[str, bytes, bytes]], bytes | None]:
    """RFC 9162 s. 2.1.3.2 steps 1-4, step by step: ``(side, sibling, running root)`` for
    each proof hash (side says where the sibling sits), and the root the proof implies, or
    None if malformed. The proof page shows these steps; verification uses only the root."""
    if not 0 <= index < size <= MAX_SIZE or len(leaf) != 32:
        return [], None
    fn, sn, r = index, size - 1, leaf
    steps: list[tuple[str, bytes, bytes]] = []
    for p in proof:
        if len(p) != 32 or sn == 0:
            return steps, None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            steps.append(("left", p, r))
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
            steps.append(("right", p, r))
        fn >>= 1
        sn >>= 1
    if sn != 0:  # the final check whose omission lets proofs for the wrong size pass
        return steps, None
    return steps, r


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 s. 2.1.3.2 steps 1-4: the root the proof implies, or None if malformed."""
    return inclusion_steps(index, size, leaf, proof)[1]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree ``(size, root)``."""
    got = root_from_inclusion(index, size, leaf, proof)
    return got is not None and got == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 s. 2.1.4.2: True iff tree ``(old_size, old_root)`` is a prefix of the new one.

    ``old_size == 0`` is rejected (see module docstring); equal sizes need an empty proof
    and equal roots."""
    if old_size <= 0 or old_size > new_size or new_size > MAX_SIZE:
        return False
    if old_size == new_size:  # nothing to prove: the roots must simply be equal
        return not proof and old_root == new_root
    if len(old_root) != 32 or len(new_root) != 32 or any(len(p) != 32 for p in proof):
        return False
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 1: exact power of 2 -> prepend first_hash
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:  # step 3
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def root_from_entries(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of raw entries: hashes each with :func:`leaf_hash` first."""
    return root_from_leaves([leaf_hash(e) for e in entries])
