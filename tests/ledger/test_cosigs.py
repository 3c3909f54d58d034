"""The log's store of witness cosignatures: what is accepted, kept, served and refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelkin.errors import LedgerError, ModelkinError
from modelkin.ledger import Ledger, note
from modelkin.ledger.cosigs import (
    Cosignature,
    CosignatureRejected,
    CosignatureStore,
    check_cosigned_note,
    cosigned_note,
    parse_witness_keys,
    witness_ref,
)
from modelkin.ledger.witness import Witness

ORIGIN = "modelkin.test/cosig-log"


def test_check_store_and_serve(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "log", origin=ORIGIN) as log:
        log.append_many([f"e{i}".encode() for i in range(4)])
        cp, vkey = str(log.checkpoint()), str(log.verifier_key())
        w1, w2 = Witness.init(tmp_path / "w1", "w1"), Witness.init(tmp_path / "w2", "w2")
        for w in (w1, w2):
            w.add_log(vkey)
        trusted = parse_witness_keys([w1.vkey(), w2.vkey()])
        lines = [w.add_checkpoint(0, [], cp).cosignature or "" for w in (w1, w2)]
        found = check_cosigned_note(cp + "".join(lines), vkey, log.root, 4, trusted)
        assert [c.ref for c in found] == [witness_ref(v) for v in trusted]
        assert check_cosigned_note(cp + lines[0], vkey, log.root, 4, trusted[1:]) == []

        store = CosignatureStore(tmp_path / "log" / "cosignatures.json")
        assert store.add(found) == found and store.add(found) == []  # not twice
        reopened = CosignatureStore(store.path).all()
        assert set(reopened) == {c.ref for c in found}
        served = cosigned_note(reopened.values(), [witness_ref(trusted[0])])
        assert served == cp + lines[0]
        assert cosigned_note(reopened.values(), []) is None

        # the log's own root is the arbiter: a size it never reached, or another tree's root
        with pytest.raises(LedgerError, match="size 4 > the log's size 3"):
            check_cosigned_note(cp + lines[0], vkey, log.root, 3, trusted)
        shutil.copytree(tmp_path / "log", tmp_path / "fork")
    with Ledger.open(tmp_path / "fork") as fork:
        fork.append_many([b"x", b"y"])
        other = str(fork.checkpoint())
    with Ledger.open(tmp_path / "log") as log:
        log.append_many([b"p", b"q"])
        with pytest.raises(LedgerError, match="root differs"):
            check_cosigned_note(other, vkey, log.root, 6, trusted)


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="not a cosignature/v1"):
        parse_witness_keys([str(note.Signer.generate("log").verifier)])
    with Ledger.open(tmp_path / "log", origin=ORIGIN) as log:
        log.append_many([b"a"])
        cp, vkey = str(log.checkpoint()), str(log.verifier_key())
        body, _ = note.split(cp)
        with pytest.raises(CosignatureRejected, match="not signed by this log"):
            check_cosigned_note(
                note.sign(body, note.Signer.generate(ORIGIN)), vkey, log.root, 1, []
            )
        with pytest.raises(ModelkinError, match="no blank line"):
            check_cosigned_note("garbage", vkey, log.root, 1, [])
    bad = tmp_path / "c.json"
    bad.write_text("[1, 2")
    with pytest.raises(LedgerError, match="corrupt cosignature store"):
        CosignatureStore(bad).all()


def _add_one(args: tuple[str, int]) -> int:
    path, i = args
    c = Cosignature(f"w{i}", f"{i:08x}", 1 + i, 100 + i, "body\n", "— log x\n", f"— w{i} y\n")
    return len(CosignatureStore(Path(path)).add([c]))


def test_concurrent_processes_keep_every_witness(tmp_path: Path) -> None:
    """Read-modify-write from several processes at once: no witness's record is lost."""
    import multiprocessing as mp

    path = str(tmp_path / "cosignatures.json")
    with mp.get_context("fork").Pool(6) as pool:
        kept = pool.map_async(_add_one, [(path, i) for i in range(24)]).get(timeout=60)
    assert kept == [1] * 24
    assert set(CosignatureStore(Path(path)).all()) == {f"w{i}+{i:08x}" for i in range(24)}
