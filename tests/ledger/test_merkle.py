"""RFC 6962 hashing and proofs: published vectors, exhaustive checks against the naive
RFC recursion, property tests and every proof mutation."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelkin.ledger import merkle as mk

VEC = Path("/work/shared/vectors/merkle")


def _b(s: str) -> bytes:
    return base64.b64decode(s)


# ---- naive RFC 9162 s. 2.1 definitions (reference, deliberately recursive) ----------
def mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return mk.leaf_hash(d[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return mk.node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def getter(d: list[bytes]) -> mk.HashGetter:
    return lambda level, i: mth(d[i << level : (i + 1) << level])


ENTRIES = [f"entry-{i}".encode() for i in range(40)]


# ---- published vectors (transparency-dev/merkle) --------------------------------------
def _vectors(kind: str) -> list[Path]:
    return sorted(p for p in (VEC / kind).rglob("*.json"))


@pytest.mark.parametrize("vec", _vectors("inclusion"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_inclusion_vectors(vec: Path) -> None:
    v = json.loads(vec.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    ok = mk.verify_inclusion(_b(v["leafHash"]), v["leafIdx"], v["treeSize"], proof, _b(v["root"]))
    assert ok is (not v["wantErr"])


@pytest.mark.parametrize("vec", _vectors("consistency"), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_consistency_vectors(vec: Path) -> None:
    """Includes the size1 = 0 cases: verify_consistency rejects old size 0 (RFC rule)."""
    v = json.loads(vec.read_text())
    proof = [_b(p) for p in v["proof"] or []]
    ok = mk.verify_consistency(v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]), proof)
    assert ok is (not v["wantErr"])


def test_vectors_present() -> None:
    assert len(_vectors("inclusion")) > 50 and len(_vectors("consistency")) > 50


# ---- exhaustive against the naive recursion -----------------------------------------
def test_exhaustive_small_trees() -> None:
    for n in range(0, 33):
        d = ENTRIES[:n]
        get = getter(d)
        root = mth(d)
        assert mk.root_from_entries(d) == root == mk.tree_root(n, get)
        for m in range(n):
            p = mk.inclusion_proof(m, n, get)
            assert p == path(m, d)
            assert mk.verify_inclusion(mk.leaf_hash(d[m]), m, n, p, root)
        for m in range(1, n + 1):
            p = mk.consistency_proof(m, n, get)
            assert p == (subproof(m, d, True) if m < n else [])
            assert mk.verify_consistency(m, n, mth(d[:m]), root, p)


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def test_every_inclusion_mutation_fails() -> None:
    for n in (1, 2, 3, 5, 8, 13, 16, 21):
        d = ENTRIES[:n]
        get, root = getter(d), mth(d)
        for m in range(n):
            leaf, p = mk.leaf_hash(d[m]), mk.inclusion_proof(m, n, get)
            bad: list[tuple[bytes, int, int, list[bytes], bytes]] = [
                (leaf, m + 1, n, p, root),
                (leaf, m - 1, n, p, root),
                (leaf, m ^ 2, n, p, root),
                (leaf, m, n * 2, p, root),
                (leaf, m, n // 2, p, root),
                (leaf, m, n + 1, p, root),
                (leaf, m, n, [*p, root], root),
                (leaf, m, n, [root, *p], root),
                (root, m, n, p, leaf),
                (_flip(leaf, 0), m, n, p, root),
                (leaf, m, n, p, _flip(root, 255)),
            ]
            if p:
                bad.append((leaf, m, n, p[:-1], root))
                bad.append((leaf, m, n, p[1:], root))
            for i in range(len(p)):
                for bit in (0, 7, 100, 255):
                    q = list(p)
                    q[i] = _flip(q[i], bit)
                    bad.append((leaf, m, n, q, root))
            for args in bad:
                if args == (leaf, m, n, p, root):
                    continue  # e.g. swapping leaf and root when n == 1 changes nothing
                if args[1] == m and args[2] != n and mth(d[: args[2]]) == root:
                    continue
                assert not mk.verify_inclusion(*args), (n, m, args[1:3])


def test_every_consistency_mutation_fails() -> None:
    for n in range(2, 20):
        d = ENTRIES[:n]
        get, r2 = getter(d), mth(d)
        for m in range(1, n):
            r1, p = mth(d[:m]), mk.consistency_proof(m, n, get)
            bad: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
                (m + 1, n, r1, r2, p),
                (m - 1, n, r1, r2, p),
                (m, n * 2, r1, r2, p),
                (m, n // 2, r1, r2, p),
                (m, n, r2, r1, p),
                (m, n, r1, r2, [*p, r1]),
                (m, n, r1, r2, p[:-1]),
                (m, n, r1, r2, p[1:]),
                (m, n, r1, r2, [r1, *p]),
                (m, n, _flip(r1, 3), r2, p),
                (m, n, r1, _flip(r2, 3), p),
                (0, n, r1, r2, p),
            ]
            for i in range(len(p)):
                q = list(p)
                q[i] = _flip(q[i], 77)
                bad.append((m, n, r1, r2, q))
            for args in bad:
                assert not mk.verify_consistency(*args), (m, n, args[:2])


def test_final_sn_check_matters() -> None:
    """A proof for a smaller subtree must not pass for a bigger size (the `sn == 0` check)."""
    d = ENTRIES[:8]
    get = getter(d)
    p = mk.inclusion_proof(0, 4, get)  # proof in the size-4 tree
    assert mk.verify_inclusion(mk.leaf_hash(d[0]), 0, 4, p, mth(d[:4]))
    assert not mk.verify_inclusion(mk.leaf_hash(d[0]), 0, 6, p, mth(d[:4]))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 600), st.data())
def test_property_random_trees(n: int, data: st.DataObject) -> None:
    d = [i.to_bytes(4, "big") for i in range(n)]
    leaves = [mk.leaf_hash(x) for x in d]
    levels = [leaves]
    while len(levels[-1]) > 1:
        prev = levels[-1]
        levels.append([mk.node_hash(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)])
    get: mk.HashGetter = lambda level, i: levels[level][i]  # noqa: E731
    root = mk.root_from_leaves(leaves)
    m = data.draw(st.integers(0, n - 1))
    p = mk.inclusion_proof(m, n, get)
    assert mk.verify_inclusion(leaves[m], m, n, p, root)
    bit = data.draw(st.integers(0, 255))
    if p:
        q = list(p)
        q[0] = _flip(q[0], bit)
        assert not mk.verify_inclusion(leaves[m], m, n, q, root)
    old = data.draw(st.integers(1, n))
    cp = mk.consistency_proof(old, n, get)
    assert mk.verify_consistency(old, n, mk.root_from_leaves(leaves[:old]), root, cp)
