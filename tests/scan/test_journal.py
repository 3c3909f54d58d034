"""The progress journal: durable appends, torn tails, refusal of corrupt lines, locking."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.errors import ModelkinError
from modelkin.scan import Journal
from modelkin.scan.journal import JOURNAL_NAME


def _done(key: str, digest: str = "d1") -> dict[str, object]:
    return {"event": "done", "key": key, "manifest_digest": digest}


def test_replay_latest_state_and_registrations(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        j.append({"event": "failed", "key": "a", "error": "boom"})
        j.append(_done("a"))
        j.append({"event": "registered", "key": "a", "manifest_digest": "d1", "record_id": "r"})
        j.append(_done("b", "old"))
        j.append({"event": "registered", "key": "b", "manifest_digest": "old", "record_id": "s"})
        j.append(_done("b", "new"))  # the files changed: the old registration no longer counts
    with Journal.open(tmp_path) as j:
        assert j.lines == 6
        assert j.entries["a"].status == "done"
        assert j.entries["a"].registration is not None
        assert j.entries["b"].record["manifest_digest"] == "new"
        assert j.entries["b"].registration is None


def test_torn_last_line_is_cut_and_appends_continue(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        j.append(_done("a"))
    path = tmp_path / JOURNAL_NAME
    good = path.read_bytes()
    path.write_bytes(good + b'{"v":1,"event":"done","key":"b"')  # crash mid-append
    with Journal.open(tmp_path) as j:
        assert set(j.entries) == {"a"}
        j.append(_done("c"))
    assert path.read_bytes().startswith(good)
    with Journal.open(tmp_path) as j:
        assert set(j.entries) == {"a", "c"}


def test_corrupt_middle_line_is_refused_not_rewritten(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as j:
        j.append(_done("a"))
    path = tmp_path / JOURNAL_NAME
    path.write_bytes(b"garbage\n" + path.read_bytes())
    before = path.read_bytes()
    with pytest.raises(ModelkinError, match=r"journal.jsonl:1: malformed journal line"):
        Journal.open(tmp_path)
    path.write_bytes(b'{"v":1,"event":"registered","key":"zz"}\n')
    with pytest.raises(ModelkinError, match="before it was scanned"):
        Journal.open(tmp_path)
    path.write_bytes(before)
    assert path.read_bytes() == before


def test_one_writer_per_output_directory(tmp_path: Path) -> None:
    with Journal.open(tmp_path), pytest.raises(ModelkinError, match="another scan"):
        Journal.open(tmp_path)
    Journal.open(tmp_path).close()  # released on close
