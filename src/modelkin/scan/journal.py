"""The append-only JSONL progress journal that makes a collection scan resumable.

Protocol (the order is what makes an interrupted scan safe to resume):

1. the fingerprint file is written atomically (temporary file, fsync, rename, fsync of
   the directory), so it is either absent or complete;
2. a ``done`` line naming its sha256 is appended and fsynced: only now is the model done;
3. when registering, the registration is submitted, then a ``registered`` line appended.

A crash between 1 and 2 leaves an orphan file that the rerun overwrites; between 3's two
steps, the rerun finds the record in the registry instead of submitting it twice
(:mod:`.register`). A crash during an append leaves a torn last line without a newline;
opening the journal cuts it off (it was never acknowledged). Any other malformed line
is refused: the journal is accepted data and is never silently rewritten.

One scan writes an output directory at a time (an exclusive ``flock`` on the journal).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from modelkin.errors import ModelkinError

JOURNAL_NAME = "journal.jsonl"
JOURNAL_VERSION = 1
#: Longest journal line read back (a model with 100k files has a long stat signature).
MAX_LINE_BYTES = 64 * 1024 * 1024
EVENTS = ("done", "failed", "registered", "register_failed")


def now() -> str:
    """UTC time, RFC 3339, second precision."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class JournalEntry:
    """The latest outcome for one model key (``done`` or ``failed``) and its registration."""

    key: str
    status: str
    record: dict[str, Any]
    registration: dict[str, Any] | None = None
    register_error: str | None = None


@dataclass
class Journal:
    """An open journal: the state replayed from disk, and the file to append to."""

    path: Path
    entries: dict[str, JournalEntry] = field(default_factory=dict)
    lines: int = 0
    _file: IO[bytes] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, out_dir: Path) -> Journal:
        """Lock, replay and open for appending ``<out_dir>/journal.jsonl`` (created if new)."""
        out_dir = Path(out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            f = (out_dir / JOURNAL_NAME).open("a+b")
        except OSError as exc:
            raise ModelkinError(out_dir, f"cannot open journal: {exc.strerror or exc}") from None
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise ModelkinError(
                out_dir, "another scan is writing to this output directory (journal locked)"
            ) from None
        journal = cls(path=out_dir / JOURNAL_NAME, _file=f)
        try:
            journal._replay(f)
        except BaseException:
            journal.close()
            raise
        return journal

    def _replay(self, f: IO[bytes]) -> None:
        f.seek(0)
        good_end = 0
        number = 0
        while True:
            line = f.readline(MAX_LINE_BYTES + 1)
            if not line:
                break
            number += 1
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES:
                    raise ModelkinError(f"{self.path}:{number}", "journal line too long")
                break  # a torn final append: never acknowledged, cut off below
            try:
                event = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelkinError(
                    f"{self.path}:{number}", f"malformed journal line ({exc}); fix or move it"
                ) from None
            self._apply(event, f"{self.path}:{number}")
            good_end = f.tell()
        self.lines = number
        f.seek(0, os.SEEK_END)
        if f.tell() != good_end:
            f.truncate(good_end)
            f.flush()
            os.fsync(f.fileno())

    def _apply(self, event: Any, where: str) -> None:
        if (
            not isinstance(event, dict)
            or event.get("v") != JOURNAL_VERSION
            or event.get("event") not in EVENTS
            or not isinstance(event.get("key"), str)
        ):
            raise ModelkinError(where, "not a modelkin scan journal event")
        key, kind = event["key"], event["event"]
        if kind in ("done", "failed"):
            self.entries[key] = JournalEntry(key=key, status=kind, record=event)
            return
        entry = self.entries.get(key)
        if entry is None or entry.status != "done":
            raise ModelkinError(where, f"registration of {key} before it was scanned")
        if event.get("manifest_digest") != entry.record.get("manifest_digest"):
            return  # a registration of an earlier version of the files
        if kind == "registered":
            entry.registration, entry.register_error = event, None
        else:
            entry.register_error = str(event.get("error"))

    def append(self, event: dict[str, Any]) -> None:
        """Append one event durably (write, flush, fsync) and apply it to the state."""
        if self._file is None:
            raise ModelkinError(self.path, "journal is closed")
        record = {"v": JOURNAL_VERSION, "at": now(), **event}
        self._apply(record, str(self.path))
        line = json.dumps(record, sort_keys=True, separators=(",", ":")).encode("utf-8")
        self._file.write(line + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.lines += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()  # closing releases the flock
            self._file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
