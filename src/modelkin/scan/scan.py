"""The driver of a collection scan: skip what is done, dispatch the rest, record results.

For each model of the collection: if the journal says it is done, its fingerprint file
is intact and its files' sizes and modification times are unchanged, it is skipped;
otherwise a task goes to the runner. Results are written (fingerprint file, then journal
line) as they stream back; a failed model is retried once (``retries``) and then
journaled as failed with its error: nothing a single model does aborts the scan. With a
:class:`~modelkin.scan.register.Registrar`, every done model is also registered, once.

Ctrl-C (KeyboardInterrupt) cancels the tasks in flight, shuts the runner down and
returns a summary marked ``interrupted``: everything journaled so far stays done, and a
rerun resumes with the rest.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelkin.errors import ModelkinError
from modelkin.fsio import write_atomic
from modelkin.scan.collection import ModelEntry
from modelkin.scan.journal import Journal, JournalEntry, sha256_bytes
from modelkin.scan.runners import Result, Runner, Task
from modelkin.scan.work import stat_signature

if TYPE_CHECKING:  # registering loads the registry; a plain scan need not
    from modelkin.scan.register import Registrar

FINGERPRINT_DIR = "fingerprints"
FINGERPRINT_SUFFIX = ".fp.gz"
#: Fingerprint files are a few MB; anything past the fingerprint format's own limit
#: (64 MiB) in their place is not one of ours and is not read.
MAX_FINGERPRINT_FILE = 64 * 1024 * 1024


@dataclass
class ScanOptions:
    """``limit``: at most this many models are attempted in this run (the rest wait for
    the next run); ``retries``: extra attempts for a failed model; ``rescan``: ignore the
    journal's done entries."""

    out_dir: Path
    limit: int | None = None
    retries: int = 1
    rescan: bool = False


@dataclass(frozen=True)
class ScanEvent:
    """Progress, for a progress bar: ``kind`` is start, skipped, done, retry, failed,
    registered or register_failed; ``completed`` counts models finished so far."""

    kind: str
    name: str = ""
    detail: str = ""
    completed: int = 0
    total: int = 0


@dataclass
class ScanSummary:
    """What a scan did; ``to_dict`` is the CLI's ``--json`` output."""

    out_dir: str
    runner: dict[str, Any]
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    retried: int = 0
    not_attempted: int = 0
    registered: int = 0
    already_registered: int = 0
    register_failed: list[dict[str, str]] = field(default_factory=list)
    bytes: int = 0
    seconds: float = 0.0
    worker_peak_rss: int = 0
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fingerprint_path(out_dir: Path, key: str) -> Path:
    return Path(out_dir) / FINGERPRINT_DIR / f"{key}{FINGERPRINT_SUFFIX}"


def is_current(entry: ModelEntry, state: JournalEntry | None, out_dir: Path) -> bool:
    """Whether ``entry`` is done and unchanged: journaled done, fingerprint file present
    with the journaled sha256, model files with the journaled sizes and times."""
    if state is None or state.status != "done":
        return False
    fp = fingerprint_path(out_dir, entry.key)
    try:
        if fp.stat().st_size > MAX_FINGERPRINT_FILE:
            return False
        if sha256_bytes(fp.read_bytes()) != state.record.get("file_sha256"):
            return False
        return stat_signature(entry.path) == state.record.get("stat")
    except (OSError, ModelkinError):
        return False


@contextlib.contextmanager
def _commit() -> Iterator[None]:
    """Defer Ctrl-C while one result is committed (file, journal line, counters,
    registration), so an interrupted scan's summary agrees with its journal; a pending
    SIGINT is delivered as KeyboardInterrupt on leaving the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _Driver:
    def __init__(
        self,
        entries: list[ModelEntry],
        runner: Runner,
        options: ScanOptions,
        registrar: Registrar | None,
        on_event: Callable[[ScanEvent], None],
        journal: Journal,
    ) -> None:
        self.by_key = {e.key: e for e in entries}
        if len(self.by_key) != len(entries):
            raise ModelkinError("collection", "two models share a key (listed twice?)")
        self.runner, self.options, self.registrar = runner, options, registrar
        self.emit, self.journal = on_event, journal
        self.summary = ScanSummary(out_dir=str(options.out_dir), runner={}, total=len(entries))
        self.completed = 0

    def event(self, kind: str, entry: ModelEntry, detail: str = "") -> None:
        self.emit(ScanEvent(kind, entry.name, detail, self.completed, self.summary.total))

    def register(self, entry: ModelEntry) -> None:
        if self.registrar is None:
            return
        state = self.journal.entries[entry.key]
        if state.registration is not None:
            return
        done = state.record
        try:
            got = self.registrar.register(
                entry, done, fingerprint_path(self.options.out_dir, entry.key)
            )
        except ModelkinError as exc:
            self.journal.append(
                {
                    "event": "register_failed",
                    "key": entry.key,
                    "manifest_digest": done["manifest_digest"],
                    "error": str(exc),
                }
            )
            self.summary.register_failed.append({"name": entry.name, "error": str(exc)})
            self.event("register_failed", entry, str(exc))
            return
        self.journal.append(
            {
                "event": "registered",
                "key": entry.key,
                "manifest_digest": done["manifest_digest"],
                "record_id": got["record_id"],
                "ledger_index": got["ledger_index"],
                "warnings": got["warnings"],
            }
        )
        if got["existing"]:
            self.summary.already_registered += 1
        else:
            self.summary.registered += 1
        self.event("registered", entry, got["record_id"])

    def record(self, task: Task, result: Result, queue: deque[Task]) -> None:
        entry = self.by_key[task.key]
        self.summary.worker_peak_rss = max(
            self.summary.worker_peak_rss, int(result.get("peak_rss", 0))
        )
        if not result.get("ok"):
            error = str(result.get("error"))
            if task.attempt <= self.options.retries:
                self.summary.retried += 1
                queue.appendleft(Task(task.key, task.path, task.attempt + 1))
                self.event("retry", entry, error)
                return
            self.journal.append(
                {
                    "event": "failed",
                    "key": entry.key,
                    "name": entry.name,
                    "path": str(entry.path),
                    "attempts": task.attempt,
                    "error": error,
                }
            )
            self.completed += 1
            self.summary.failed.append({"name": entry.name, "path": task.path, "error": error})
            self.event("failed", entry, error)
            return
        data: bytes = result["fingerprint"]
        write_atomic(fingerprint_path(self.options.out_dir, entry.key), data)
        self.journal.append(
            {
                "event": "done",
                "key": entry.key,
                "name": entry.name,
                "path": str(entry.path),
                "attempts": task.attempt,
                "stat": result["stat"],
                "manifest": result["manifest"],
                "manifest_digest": result["manifest_digest"],
                "fingerprint": f"{FINGERPRINT_DIR}/{entry.key}{FINGERPRINT_SUFFIX}",
                "fingerprint_digest": result["fingerprint_digest"],
                "file_sha256": sha256_bytes(data),
                "structure": result["structure"],
                "format": result["format"],
                "bytes": result["bytes"],
                "seconds": round(float(result["seconds"]), 3),
            }
        )
        self.completed += 1
        self.summary.done += 1
        self.summary.bytes += int(result["bytes"])
        self.event("done", entry, result["fingerprint_digest"])
        self.register(entry)

    def run(self) -> None:
        queue: deque[Task] = deque()
        for entry in self.by_key.values():
            state = self.journal.entries.get(entry.key)
            if not self.options.rescan and is_current(entry, state, self.options.out_dir):
                self.completed += 1
                self.summary.skipped += 1
                self.event("skipped", entry)
                with _commit():
                    self.register(entry)
            elif self.options.limit is not None and len(queue) >= self.options.limit:
                self.summary.not_attempted += 1
            else:
                queue.append(Task(entry.key, str(entry.path)))
        if not queue:
            return
        self.runner.start()
        self.summary.runner = self.runner.describe()
        self.emit(ScanEvent("start", "", "", self.completed, self.summary.total))
        while queue or self.runner.in_flight():
            while queue and self.runner.in_flight() < self.runner.slots:
                self.runner.submit(queue.popleft())
            for task, result in self.runner.wait():
                with _commit():
                    self.record(task, result, queue)


def scan_collection(
    entries: list[ModelEntry],
    runner: Runner,
    options: ScanOptions,
    registrar: Registrar | None = None,
    on_event: Callable[[ScanEvent], None] | None = None,
) -> ScanSummary:
    """Fingerprint (and optionally register) ``entries`` with ``runner``; resumable.

    Outputs in ``options.out_dir``: ``fingerprints/<key>.fp.gz`` (one
    :class:`~modelkin.fingerprint.Fingerprint` file per model) and ``journal.jsonl``."""
    started = time.perf_counter()
    with Journal.open(options.out_dir) as journal:
        driver = _Driver(entries, runner, options, registrar, on_event or _ignore, journal)
        try:
            driver.run()
            driver.runner.close()
        except KeyboardInterrupt:
            driver.runner.close(cancel=True)
            driver.summary.interrupted = True
        except BaseException:
            driver.runner.close(cancel=True)
            raise
        summary = driver.summary
    if not summary.runner:
        summary.runner = runner.describe()
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _ignore(_: ScanEvent) -> None:
    return None
