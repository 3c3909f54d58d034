"""Foreign verification and mirrors on tiles: a real Tessera log, our own tiles, forks.

``verify-remote`` and the mirror read tiles through the same client over HTTP or from a
directory; these tests use directories (the HTTP path runs in tests/federation)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelkin.cli import main
from modelkin.errors import LedgerError
from modelkin.ledger import Ledger, note
from modelkin.ledger import merkle as mk
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.mirror import Mirror
from modelkin.ledger.policy import Policy
from modelkin.ledger.remote import policy_for_key, verify_remote
from modelkin.ledger.tiled import DirSource, TiledLog, parse_bundle
from modelkin.ledger.tiles import parse_tile_path, read_tile, tile_path, write_tiles
from modelkin.ledger.tlogproof import verify_proof_policy

TESSERA = Path("/work/shared/vectors/tessera-log")
TESSERA_KEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
ORIGIN = "remote.test/log"


def test_tessera_log_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    pol = policy_for_key(TESSERA_KEY)
    rep = verify_remote(str(TESSERA), pol, full=True, index=7)
    assert rep.ok, rep.problems
    assert rep.tlog_proof is not None
    src = DirSource(TESSERA)
    entries = TiledLog(src, 15).entries(0)
    verify_proof_policy(rep.tlog_proof, entries[7], pol)
    # every published checkpoint verifies, and its root recomputes from the bundle prefix
    for n in range(16):
        text = (TESSERA / f"checkpoint.{n}").read_text()
        cp = pol.require(text).checkpoint
        assert cp.size == n
        assert mk.root_from_entries(entries[:n]) == cp.root
        if n:
            assert TiledLog(src, n).root() == cp.root  # from the partial tile of width n
    code = main(["ledger", "verify-remote", str(TESSERA), "--vkey", TESSERA_KEY, "--full"])
    assert code == 0 and "verified" in capsys.readouterr().out


def test_tampered_tiles_and_wrong_key_are_named(tmp_path: Path) -> None:
    copy = tmp_path / "t"
    shutil.copytree(TESSERA, copy)
    bundle = copy / "tile/entries/000.p/15"
    data = bytearray(bundle.read_bytes())
    data[-1] ^= 1
    bundle.write_bytes(bytes(data))
    rep = verify_remote(str(copy), policy_for_key(TESSERA_KEY), full=True)
    assert not rep.ok and any("does not hash to the level-0 tile" in p for p in rep.problems)
    other = str(note.Signer.generate("example.com/log/testdata").verifier)
    rep = verify_remote(str(TESSERA), policy_for_key(other))
    assert not rep.ok and "not signed by a policy key" in rep.problems[0]
    with pytest.raises(LedgerError, match="not a directory"):
        verify_remote(str(tmp_path / "none"), policy_for_key(TESSERA_KEY))


def test_tile_paths_are_strict() -> None:
    assert parse_tile_path("tile/0/x001/x234/067.p/8") == (0, 1234067, 8)
    assert parse_tile_path("tile/entries/000") == (None, 0, 256)
    assert parse_tile_path(tile_path(2, 5, 17)) == (2, 5, 17)
    for bad in ("tile/00/000", "tile/0/0000", "tile/0/x000/001", "tile/0/000.p/256",
                "tile/0/000.p/0", "tile/64/000", "tile/0/001/002", "tiles/0/000",
                "tile/7/x001/000", "tile/0/x999/x999/x999/x999/x999/x999/999"):  # fmt: skip
        with pytest.raises(LedgerError):
            parse_tile_path(bad)
    with pytest.raises(LedgerError, match="want 3"):
        parse_bundle(b"\x00\x01a\x00\x01b", 3, "bundle")


def test_served_tiles_equal_written_tiles(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "log", origin=ORIGIN) as log:
        log.append_many([f"e{i}".encode() for i in range(600)])
        write_tiles(log, tmp_path / "tiles", history=False)
        for rel in ("tile/0/000", "tile/0/002.p/88", "tile/1/000.p/2", "tile/entries/001"):
            level, n, w = parse_tile_path(rel)
            assert read_tile(log, level, n, w) == (tmp_path / "tiles" / rel).read_bytes()
        src = DirSource(tmp_path / "tiles")
        tl = TiledLog(src, 600)
        assert tl.root() == log.root()
        assert tl.consistency_proof(300) == log.consistency_proof(300, 600)
        assert tl.inclusion_proof(513) == log.inclusion_proof(513)


def _tiles(log: Ledger, out: Path) -> str:
    write_tiles(log, out, history=False)
    return str(out)


def test_mirror_follows_verifies_and_alarms_on_a_fork(tmp_path: Path) -> None:
    a = tmp_path / "a"
    with Ledger.open(a, origin=ORIGIN) as log:
        log.append_many([f"common {i}".encode() for i in range(300)])
        vkey = log.verifier_key()
        url = _tiles(log, tmp_path / "served")
    pol = Policy.parse(f"log {vkey}\nquorum none\n")
    m = Mirror(tmp_path / "mirror", url, pol, name="mirror.test/m")
    try:
        first = m.sync_once()
        assert (first.status, first.size, first.entries_added) == ("adopted", 300, 300)
        assert m.reader.root() == parse_checkpoint(note.split(m.reader.checkpoint() or "")[0]).root
        served = m.served_checkpoint() or ""
        assert m.cosigner_vkey() and served.count("\u2014 ") == 2  # log + mirror cosignature
        assert m.sync_once().status == "unchanged"
        shutil.copytree(a, tmp_path / "fork")
        with Ledger.open(a) as log:
            log.append_many([f"a {i}".encode() for i in range(30)])
            _tiles(log, tmp_path / "served")
        grown = m.sync_once()
        assert (grown.status, grown.size) == ("adopted", 330)
        with Ledger.open(tmp_path / "fork") as fork:  # the same key signs another history
            fork.append_many([f"b {i}".encode() for i in range(40)])
            shutil.rmtree(tmp_path / "served")
            _tiles(fork, tmp_path / "served")
            forked = fork.checkpoint()
        alarm = m.sync_once()
        assert alarm.status == "alarm" and "split view" in alarm.message
        assert (
            alarm.evidence[1] == forked
            and parse_checkpoint(note.split(alarm.evidence[0])[0]).size == 330
        )
        again = m.sync_once()  # stopped: the alarm repeats, nothing is adopted
        assert again.status == "alarm" and m.reader.size() == 330
        assert (tmp_path / "mirror/alarm.json").exists()
    finally:
        m.stop()


def test_mirror_refuses_rollback_and_waits_for_the_quorum(tmp_path: Path) -> None:
    from modelkin.ledger.witness import Witness

    a = tmp_path / "a"
    with Ledger.open(a, origin=ORIGIN) as log:
        log.append_many([b"x", b"y"])
        old_tiles = _tiles(log, tmp_path / "old")
        log.append_many([b"z"])
        url = _tiles(log, tmp_path / "served")
        vkey = log.verifier_key()
    w = Witness.init(tmp_path / "w", "witness.test/w")
    pol = Policy.parse(f"log {vkey}\nwitness W {w.vkey()}\nquorum W\n")
    m = Mirror(tmp_path / "m", url, pol)
    try:
        waiting = m.sync_once()
        assert waiting.status == "waiting" and "NOT satisfied" in waiting.message
        w.add_log(vkey)
        text = (tmp_path / "served/checkpoint").read_text()
        res = w.add_checkpoint(0, [], text)
        (tmp_path / "served/checkpoint").write_text(text + (res.cosignature or ""))
        ok = m.sync_once()
        assert ok.status == "adopted" and ok.vouched == ["W"]
        m.url, m._source = old_tiles, None  # the origin now serves an older tree
        rb = m.sync_once()
        assert rb.status == "alarm" and "rollback" in rb.message
    finally:
        m.stop()


def test_mirror_and_policy_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Ledger.open(tmp_path / "log", origin=ORIGIN) as log:
        log.append_many([b"p", b"q"])
        url = _tiles(log, tmp_path / "served")
        vkey = log.verifier_key()
    d = str(tmp_path / "m")
    assert main(["mirror", url, "--dir", d, "--vkey", vkey, "--once"]) == 0
    assert capsys.readouterr().out.startswith("adopted: size 2")
    assert main(["mirror", url, "--dir", d, "--vkey", vkey, "--once", "--json"]) == 0
    assert '"status": "unchanged"' in capsys.readouterr().out
    assert main(["mirror", url, "--dir", d, "--once"]) == 2  # neither --vkey nor --policy
    assert "give either --vkey or --policy" in capsys.readouterr().err
    pol = tmp_path / "p.policy"
    pol.write_text(f"log {vkey} {'http://127.0.0.1:9'}\nquorum none\n")
    assert main(["federation", "policy", str(pol), "--json"]) == 0
    assert '"quorum": "none"' in capsys.readouterr().out
    pol.write_text("quorum nobody\n")
    assert main(["federation", "policy", str(pol)]) == 2
    assert "p.policy:1: undefined name 'nobody'" in capsys.readouterr().err
