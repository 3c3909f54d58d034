"""Scanning a collection in process and on a process pool: results, failures, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.scan import PoolRunner, ScanEvent, ScanOptions, SerialRunner, collect, scan_collection
from modelkin.scan.journal import JOURNAL_NAME
from modelkin.scan.runners import Result, Task

ReadFps = Callable[[Path], dict[str, bytes]]


def _journal(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / JOURNAL_NAME).read_text().splitlines()]


def _scan(collection: Path, out: Path, **kw: Any) -> Any:
    events: list[ScanEvent] = []
    summary = scan_collection(
        collect(collection), SerialRunner(), ScanOptions(out_dir=out, **kw), None, events.append
    )
    return summary, events


def test_serial_scan_writes_loadable_fingerprints_and_reports_the_broken(
    collection: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    summary, events = _scan(collection, out)
    assert (summary.total, summary.done, summary.skipped) == (5, 4, 0)
    assert summary.retried == 1  # the broken model was tried twice
    (failed,) = summary.failed
    assert failed["name"] == "broken"
    assert "model.safetensors" in failed["error"] and "truncated" in failed["error"]
    assert [e.kind for e in events].count("done") == 4
    assert events[-1].completed == 5
    by_name = {e["name"]: e for e in _journal(out) if e["event"] == "done"}
    alpha = Fingerprint.load(out / by_name["acme/alpha"]["fingerprint"])
    # bound to the files it was computed from, like a registered fingerprint
    direct = fingerprint_model(
        collection / "acme" / "alpha", manifest=by_name["acme/alpha"]["manifest_digest"]
    )
    assert alpha.manifest == by_name["acme/alpha"]["manifest_digest"]
    assert alpha.digest() == direct.digest() == by_name["acme/alpha"]["fingerprint_digest"]


def test_resume_after_a_limited_run_gives_identical_outputs(
    collection: Path, tmp_path: Path, fingerprint_bytes: ReadFps
) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    _scan(collection, full)
    first, _ = _scan(collection, part, limit=2)
    assert (first.done, first.not_attempted) == (2, 3)
    second, _ = _scan(collection, part)
    assert (second.skipped, second.done, len(second.failed)) == (2, 2, 1)
    assert fingerprint_bytes(part) == fingerprint_bytes(full)
    done = [e["key"] for e in _journal(part) if e["event"] == "done"]
    assert len(done) == len(set(done)) == 4  # nothing fingerprinted twice


def test_changed_model_is_scanned_again(collection: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _scan(collection, out)
    cfg = collection / "acme" / "beta" / "config.json"
    cfg.write_text(cfg.read_text() + "\n")
    again, events = _scan(collection, out)
    assert (again.skipped, again.done) == (3, 1)
    assert [e.name for e in events if e.kind == "done"] == ["acme/beta"]
    # a damaged fingerprint file is noticed too
    fp = next((out / "fingerprints").glob("zeta_gamma-*"))
    fp.write_bytes(b"\x1f\x8b damaged")
    _, events = _scan(collection, out)
    assert [e.name for e in events if e.kind == "done"] == ["zeta/gamma"]
    assert Fingerprint.load(fp).name is not None


# Runs the real CLI with an audit hook that holds the scan when it first opens a file of
# the model named by argv[2]: it reports on the pipe argv[1] and waits for a signal there.
# The scan is provably mid-way when the test signals it, however loaded the machine is.
_HOLD_AT_MODEL = """
import os, runpy, signal, sys
ready, target = int(sys.argv[1]), sys.argv[2]
held = []
def hold(event, args):
    if event == "open" and not held and isinstance(args[0], (str, bytes, os.PathLike)):
        if os.fsdecode(args[0]).startswith(target):
            held.append(True)
            os.write(ready, b"held")
            os.close(ready)
            signal.pause()
sys.addaudithook(hold)
sys.argv = ["modelkin", *sys.argv[3:]]
runpy.run_module("modelkin", run_name="__main__", alter_sys=True)
"""


def test_ctrl_c_keeps_journal_consistent_and_rerun_finishes(
    collection: Path, tmp_path: Path, fingerprint_bytes: ReadFps
) -> None:
    """A real SIGINT to the CLI in a subprocess, sent while it is reading a model after
    others are journaled done (held there by an audit hook, not found by a sleep)."""
    for n in range(3):
        shutil.copytree(collection / "acme" / "alpha", collection / "more" / f"m{n}")
    full, out = tmp_path / "full", tmp_path / "out"
    _scan(collection, full, retries=0)
    target = str(collection / "more" / "m1") + os.sep
    cmd = ["scan-collection", str(collection), "-o", str(out), "--json"]
    read_end, write_end = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD_AT_MODEL, str(write_end), target, *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as ready:
        held = ready.read()  # returns when the hook reports, or at EOF if the CLI died
    assert held == b"held", proc.communicate(timeout=60)
    journal = out / JOURNAL_NAME
    assert b'"done"' in journal.read_bytes()  # mid-scan: some models done, m1 in progress
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr.decode()
    summary = json.loads(stdout)
    assert summary["interrupted"], summary
    assert 1 <= summary["done"] < 7, (summary, journal.read_text())
    assert b"rerun the same command to resume" in stderr
    rest, _ = _scan(collection, out, retries=0)
    assert rest.skipped == summary["done"]
    assert rest.skipped + rest.done + len(rest.failed) == 8
    assert fingerprint_bytes(out) == fingerprint_bytes(full)
    assert not list((out / "fingerprints").glob(".*"))  # no temporary files left behind


def test_process_pool_matches_serial(
    collection: Path, tmp_path: Path, fingerprint_bytes: ReadFps
) -> None:
    serial, pooled = tmp_path / "serial", tmp_path / "pool"
    _scan(collection, serial)
    summary = scan_collection(
        collect(collection), PoolRunner(2), ScanOptions(out_dir=pooled, retries=0)
    )
    assert (summary.done, len(summary.failed), summary.retried) == (4, 1, 0)
    assert summary.runner["runner"] == "processes"
    assert fingerprint_bytes(pooled) == fingerprint_bytes(serial)
    pids = {e.get("pid") for e in _journal(pooled)}
    assert pids == {None}  # worker details stay out of the journal


def test_missing_listed_path_is_a_failure_not_an_abort(collection: Path, tmp_path: Path) -> None:
    lst = tmp_path / "list.txt"
    lst.write_text(f"{collection / 'acme' / 'alpha'}\n{tmp_path / 'gone'}\n")
    summary, _ = _scan(lst, tmp_path / "out", retries=0)
    assert summary.done == 1
    assert "no such file or directory" in summary.failed[0]["error"]


def test_worker_crash_is_retried_then_reported(collection: Path, tmp_path: Path) -> None:
    class _Crashing(SerialRunner):
        def wait(self) -> list[tuple[Task, Result]]:
            task = self._queue.pop(0)
            return [(task, {"ok": False, "error": f"{task.path}: worker died", "peak_rss": 0})]

    summary = scan_collection(
        collect(collection / "acme"), _Crashing(), ScanOptions(out_dir=tmp_path / "out")
    )
    assert summary.retried == 2 and len(summary.failed) == 2 and summary.done == 0
    assert all(e["attempts"] == 2 for e in _journal(tmp_path / "out"))


def test_worker_manifest_is_the_registry_manifest(collection: Path) -> None:
    """The worker hashes exactly the files a registration lists (hidden ones skipped,
    nested ones named by relative path) and its resume signature covers the same files."""
    from modelkin.scan.work import scan_one, stat_signature
    from modelkin.statements.manifest import manifest_digest, scan_directory

    model = collection / "acme" / "alpha"
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref")
    (model / "sub").mkdir()
    (model / "sub" / "extra.txt").write_text("x")
    files = scan_directory(model)
    assert "sub/extra.txt" in {f["name"] for f in files}
    assert not any(f["name"].startswith(".git") for f in files)
    assert [row[0] for row in stat_signature(model)] == [f["name"] for f in files]
    done = scan_one(str(model))
    assert done["ok"] and done["manifest"] == files
    assert done["manifest_digest"] == manifest_digest(files)
