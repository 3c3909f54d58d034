"""Witness (C2SP tlog-witness codes, cosignatures) and monitor: split views are caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modelkin.errors import LedgerError
from modelkin.ledger import Ledger, note
from modelkin.ledger.monitor import check
from modelkin.ledger.witness import (
    Witness,
    format_request,
    parse_request,
    verify_cosignature,
)

ORIGIN = "modelkin.test/log"


def _fork(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of one log (same key) that diverge after 5 entries: a split view."""
    a, b = tmp_path / "a", tmp_path / "b"
    with Ledger.open(a, origin=ORIGIN) as log:
        log.append_many([f"common {i}".encode() for i in range(5)])
    shutil.copytree(a, b)
    with Ledger.open(a) as log:
        log.append_many([b"only in a", b"a2"])
    with Ledger.open(b) as log:
        log.append_many([b"only in b", b"b2"])
    return a, b


def test_witness_codes_and_cosignature(tmp_path: Path) -> None:
    a, b = _fork(tmp_path)
    w = Witness.init(tmp_path / "w", "witness.test/w1")
    with Ledger.open(a) as la, Ledger.open(b) as lb:
        vkey = la.verifier_key()
        cp5 = la.checkpoints()[1]
        assert w.add_checkpoint(0, [], cp5).status == 404  # unknown origin
        w.add_log(vkey)
        forged = cp5.replace("\n5\n", "\n6\n")
        assert w.add_checkpoint(0, [], forged).status == 403
        other = Ledger.open(tmp_path / "other", origin=ORIGIN)  # same origin, other key
        assert w.add_checkpoint(0, [], other.checkpoint()).status == 403
        other.close()
        assert w.add_checkpoint(9, [], cp5).status == 400  # old > new
        assert w.add_checkpoint(0, [bytes(32)], cp5).status == 422  # size 0 needs no proof
        res = w.add_checkpoint(0, [], cp5)
        assert res.ok and res.cosignature
        cosigned = cp5 + res.cosignature
        assert verify_cosignature(cosigned, w.vkey()) > 0
        note.open_note(cosigned, [note.Verifier.parse(vkey)])  # log key still verifies
        assert w.add_checkpoint(3, [], la.checkpoint()).status == 409
        assert w.add_checkpoint(3, [], la.checkpoint()).size == 5
        # proof from 5 in a, checkpoint 7 in b: inconsistent -> 422 with evidence
        bad = w.add_checkpoint(5, la.consistency_proof(5, 7), lb.checkpoint())
        assert bad.status == 422 and bad.evidence == [cp5, lb.checkpoint()]
        good = w.add_checkpoint(5, la.consistency_proof(5, 7), la.checkpoint())
        assert good.ok
        # now b's size-7 checkpoint is a second root at the same size: split view, which
        # c2sp.org/tlog-witness answers with 409 (old size = checkpoint size, roots differ)
        split = w.add_checkpoint(7, [], lb.checkpoint())
        assert split.status == 409 and split.size == 7 and la.checkpoint() in split.evidence
        kept = w.evidence()
        assert len(kept) == 1 and kept[0]["offered"] == lb.checkpoint()
    assert Witness.load(tmp_path / "w").logs()[ORIGIN]["size"] == 7  # persisted


def test_witness_request_roundtrip_and_tampered_cosignature(tmp_path: Path) -> None:
    proof = [bytes(range(32))]
    req = format_request(4, proof, "o\n5\nAAAA\n\n\u2014 o AAAA\n")
    assert parse_request(req) == (4, proof, "o\n5\nAAAA\n\n\u2014 o AAAA\n")
    with pytest.raises(LedgerError):
        parse_request("new 4\n\nx")
    w = Witness.init(tmp_path / "w", "witness.test/w1")
    with Ledger.open(tmp_path / "log", origin=ORIGIN) as log:
        log.append(b"x")
        w.add_log(log.verifier_key())
        cos = w.add_checkpoint(0, [], log.checkpoint()).cosignature
        assert cos is not None
        tampered = log.checkpoint().replace("\n1\n", "\n2\n") + cos
    with pytest.raises(LedgerError):
        verify_cosignature(tampered, w.vkey())


def test_monitor_detects_split_view_and_rollback(tmp_path: Path) -> None:
    a, b = _fork(tmp_path)
    state = tmp_path / "mon.json"
    first = check(a, state)
    assert first.ok and first.size == 7
    again = check(a, state)
    assert again.ok and again.previous_size == 7
    split = check(b, state, vkey=(a / "log.vkey").read_text().strip())
    assert not split.ok and "split view" in (split.problem or "")
    assert len(split.evidence) == 2 and split.evidence[0] != split.evidence[1]
    with Ledger.open(b) as lb:
        lb.append(b"b3")
    diverged = check(b, state)
    assert not diverged.ok and "not consistent with checkpoint 7" in (diverged.problem or "")
    # a rollback: the same log (same key) served from an older copy
    d, d_old = tmp_path / "d", tmp_path / "d_old"
    with Ledger.open(d, origin="other.test/log") as ld:
        ld.append_many([b"1", b"2"])
    shutil.copytree(d, d_old)
    with Ledger.open(d) as ld:
        ld.append_many([b"3", b"4", b"5"])
    assert check(d, tmp_path / "m2.json").ok
    rb = check(d_old, tmp_path / "m2.json")
    assert not rb.ok and "rollback" in (rb.problem or "") and len(rb.evidence) == 2


def test_monitor_on_empty_log(tmp_path: Path) -> None:
    Ledger.open(tmp_path / "log", origin=ORIGIN).close()
    assert check(tmp_path / "log", tmp_path / "m.json").size == 0
    with Ledger.open(tmp_path / "log") as log:
        log.append(b"first")
    rep = check(tmp_path / "log", tmp_path / "m.json")
    assert rep.ok and rep.previous_size == 0 and rep.size == 1
