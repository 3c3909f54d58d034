"""Signed notes, checkpoints and tiles against published vectors (Go sumdb note example,
C2SP signed-note example, transparency-dev/tessera test log)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from modelkin.errors import LedgerError
from modelkin.ledger import Ledger, note
from modelkin.ledger import merkle as mk
from modelkin.ledger.checkpoint import Checkpoint, open_checkpoint, parse
from modelkin.ledger.tiles import index_path, tile_path, write_tiles

TESSERA = Path("/work/shared/vectors/tessera-log")
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"

PN_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PN_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PN_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PN_NOTE = (
    PN_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_sumdb_peter_neumann_example() -> None:
    signer = note.Signer.parse(PN_SKEY)
    assert str(signer.verifier) == PN_VKEY
    assert note.sign(PN_TEXT, signer) == PN_NOTE  # Ed25519 is deterministic
    body, names = note.open_note(PN_NOTE, [note.Verifier.parse(PN_VKEY)])
    assert body == PN_TEXT and names == ["PeterNeumann"]
    with pytest.raises(LedgerError, match="invalid signature"):
        note.open_note(PN_NOTE.replace("cryptography", "cryptographY"), [signer.verifier])
    assert signer.private_text() == PN_SKEY


def test_unknown_keys_ignored_and_many_signatures_accepted() -> None:
    others = [note.Signer.generate(f"other{i}.example") for i in range(20)]
    signer = note.Signer.parse(PN_SKEY)
    text = note.sign(PN_TEXT, *others, signer)
    assert note.open_note(text, [signer.verifier])[1] == ["PeterNeumann"]
    with pytest.raises(LedgerError, match="no signature by a known key"):
        note.open_note(note.sign(PN_TEXT, *others), [signer.verifier])


def test_c2sp_signed_note_example_parses() -> None:
    """The spec's example note (its key is not published with it): structure only."""
    text = (
        "Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned \u00e8 "
        "subito sera.\n\n\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5"
        "ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    )
    body, sigs = note.split(text)
    assert body.endswith("subito sera.\n") and "\n\ned" in body  # empty line inside text
    assert sigs[0].name == "quasimodo.example/salvatore" and len(sigs[0].sig) == 64


@pytest.mark.parametrize(
    "bad",
    [
        "no blank line\n\u2014 k AAAA\n",
        "text\n\n- k AAAAAAAAAAAAAAAAAAAAAAAA\n",
        "text\n\n\u2014 k !!notbase64\n",
        "text\n\n",
        "te\x01xt\n\n\u2014 k AAAAAAAAAAAAAAAAAAAAAAAA\n",
    ],
)
def test_malformed_notes_rejected(bad: str) -> None:
    with pytest.raises(LedgerError):
        note.open_note(bad, [note.Verifier.parse(PN_VKEY)])


def test_bad_verifier_keys() -> None:
    for bad in ["x", "a+b+c", PN_VKEY.replace("c74f20a3", "c74f20a4"), "a b+00000000+AA=="]:
        with pytest.raises(LedgerError):
            note.Verifier.parse(bad)


def test_checkpoint_parse_strict() -> None:
    cp = Checkpoint("o.example/log", 5, bytes(32), ("ext line",))
    assert parse(cp.body()) == cp
    for bad in ["o\n05\n" + note.b64(bytes(32)) + "\n", "o\n5\nAAAA\n", "o\n-1\n", "\n5\nx\n"]:
        with pytest.raises(LedgerError):
            parse(bad)


def _tessera_entries() -> list[bytes]:
    data = (TESSERA / "tile/entries/000.p/15").read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack(">H", data[pos : pos + 2])
        out.append(data[pos + 2 : pos + 2 + n])
        pos += 2 + n
    return out


def test_tessera_checkpoints_verify_and_recompute() -> None:
    v = note.Verifier.parse(TESSERA_VKEY)
    entries = _tessera_entries()
    assert len(entries) == 15
    for size in range(16):
        cp, _ = open_checkpoint((TESSERA / f"checkpoint.{size}").read_text(), v)
        assert cp.size == size and cp.origin == "example.com/log/testdata"
        assert mk.root_from_entries(entries[:size]) == cp.root
        if size:
            tile = (TESSERA / f"tile/0/000.p/{size}").read_bytes()
            leaves = [tile[i : i + 32] for i in range(0, len(tile), 32)]
            assert mk.root_from_leaves(leaves) == cp.root


def test_tile_paths() -> None:
    assert index_path(0) == "000" and index_path(1234067) == "x001/x234/067"
    assert tile_path(0, 5, 17) == "tile/0/005.p/17" and tile_path("entries", 256) == (
        "tile/entries/256"
    )


def test_tiles_reproduce_tessera_byte_for_byte(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "log", origin="example.com/log/testdata") as log:
        for e in _tessera_entries():
            log.append(e)  # one checkpoint per size, like the published log
        write_tiles(log, tmp_path / "out")
        mine = open_checkpoint(log.checkpoint(), note.Verifier.parse(log.verifier_key()))[0]
    theirs = sorted(p.relative_to(TESSERA) for p in (TESSERA / "tile").rglob("*") if p.is_file())
    ours = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out/tile").rglob("*"))
    assert [str(p) for p in ours if (tmp_path / "out" / p).is_file()] == [str(p) for p in theirs]
    for rel in theirs:
        assert (tmp_path / "out" / rel).read_bytes() == (TESSERA / rel).read_bytes(), rel
    ref = open_checkpoint((TESSERA / "checkpoint").read_text(), note.Verifier.parse(TESSERA_VKEY))
    assert ref[0].root == mine.root and ref[0].size == mine.size


def test_full_tiles_and_higher_levels(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "log", origin="t.example/log") as log:
        entries = [i.to_bytes(3, "big") for i in range(256 * 2 + 3)]
        log.append_many(entries)
        write_tiles(log, tmp_path / "out", history=False)
        root = log.root()
    out = tmp_path / "out"
    t0 = (out / "tile/0/000").read_bytes() + (out / "tile/0/001").read_bytes()
    t0 += (out / "tile/0/002.p/3").read_bytes()
    assert [t0[i : i + 32] for i in range(0, len(t0), 32)] == [mk.leaf_hash(e) for e in entries]
    t1 = (out / "tile/1/000.p/2").read_bytes()
    assert t1[:32] == mk.root_from_entries(entries[:256])
    assert (
        mk.node_hash(
            mk.node_hash(t1[:32], t1[32:]),
            mk.root_from_leaves([t0[i : i + 32] for i in range(512 * 32, len(t0), 32)]),
        )
        == root
    )
