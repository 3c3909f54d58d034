"""RFC 9162 inclusion verification used for the label's "inclusion proof" line."""

from __future__ import annotations

import base64
import hashlib

import pytest

from modelkin.labels.inclusion import (
    checkpoint_root,
    inclusion_verified,
    leaf_hash,
    root_from_inclusion_proof,
)


def _node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 s. 2.1.1 Merkle Tree Hash, computed the slow, obvious way."""
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 s. 2.1.3.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _checkpoint(size: int, root: bytes) -> str:
    return f"example.org/log\n{size}\n{base64.b64encode(root).decode()}\n"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_every_leaf_verifies_and_mutations_fail(size: int) -> None:
    leaves = [f"entry {i}".encode() for i in range(size)]
    root = _mth(leaves)
    cp = _checkpoint(size, root)
    for m in range(size):
        proof = [p.hex() for p in _path(m, leaves)]
        assert inclusion_verified(leaves[m], m, proof, cp)
        assert not inclusion_verified(leaves[m] + b"x", m, proof, cp)
        if size > 1:
            assert not inclusion_verified(leaves[m], (m + 1) % size, proof, cp)
            assert not inclusion_verified(leaves[m], m, proof[:-1], cp)
            assert not inclusion_verified(leaves[m], m, [*proof, proof[0]], cp)
            flipped = bytearray(bytes.fromhex(proof[0]))
            flipped[0] ^= 1
            assert not inclusion_verified(leaves[m], m, [flipped.hex(), *proof[1:]], cp)
        assert not inclusion_verified(leaves[m], m, proof, _checkpoint(size * 2, root))
        assert not inclusion_verified(leaves[m], m, proof, _checkpoint(size, bytes(32)))


def test_malformed_inputs_are_rejected_not_raised() -> None:
    assert checkpoint_root("origin\nnot-a-number\nAAAA\n") is None
    assert checkpoint_root("origin\n3\n!!!\n") is None
    assert checkpoint_root("origin\n3\n" + base64.b64encode(b"short").decode()) is None
    assert checkpoint_root("origin") is None
    assert root_from_inclusion_proof(5, 3, bytes(32), []) is None
    cp = _checkpoint(1, leaf_hash(b"a"))
    assert inclusion_verified(b"a", 0, [], cp)
    assert not inclusion_verified(b"a", 0, ["zz"], cp)
    assert not inclusion_verified(b"a", 0, ["00"], cp)
