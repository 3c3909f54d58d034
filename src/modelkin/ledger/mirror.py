"""A mirror: a verified, read-only copy of another registry's log, followed over HTTP.

The mirror is a client of the origin log's C2SP tlog-tiles interface (``checkpoint``,
tiles, entry bundles). Each step (:meth:`Mirror.sync_once`):

1. fetch the origin's checkpoint; the log's own signature must verify with a key of the
   trust policy (:mod:`.policy`);
2. compare with the last checkpoint the mirror adopted: a smaller size (rollback), the
   same size with another root, or tiles that hash to the new signed root but whose
   consistency proof from the adopted tree fails, is a **split view**: the mirror writes
   an alarm with both signed checkpoints as evidence (``alarm.json``) and stops following
   until an operator removes it;
3. otherwise, when the policy's witness quorum is satisfied, fetch the new entry bundles,
   recompute every leaf, subtree hash and the root from the adopted tree's frontier plus
   the new entries, check every tile against what was recomputed, and commit entries,
   hashes and the checkpoint in one SQLite transaction only if the root is the signed one.

What the mirror serves is therefore only ever a tree it recomputed and a checkpoint the
policy accepts. Like c2sp.org/tlog-mirror, its copy is served through the tlog-tiles
interface under a prefix named by ``sha256(origin)`` and, when it has a key, the checkpoint
carries the mirror's own cosignature (its statement: "I have durably stored these
entries"). The copy lives in ``<dir>/log.db`` (the ledger's schema, the origin's rows and
checkpoints), the follower state in ``mirror.json``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.errors import LedgerError, NotFoundError
from modelkin.fsio import write_atomic
from modelkin.ledger import _store
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger._store_sqlite import SqliteStore
from modelkin.ledger.checkpoint import Checkpoint
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.policy import Trust
from modelkin.ledger.tiled import Source, TiledLog, fetch_checkpoint, open_source, verify_tree

STATE, ALARM, KEY = "mirror.json", "alarm.json", "mirror.key"


def origin_hash(origin: str) -> str:
    """The tlog-mirror path element for a log: lowercase hex SHA-256 of its origin."""
    return hashlib.sha256(origin.encode()).hexdigest()


class Replica:
    """The mirror's copy of one log: entries, subtree hashes and adopted checkpoints."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._store = SqliteStore(self.directory)
        self._lock = threading.RLock()

    # ---- reading (HashSource for tiles) ------------------------------------------------
    def size(self) -> int:
        with self._lock:
            return int(self._store.get_meta("size") or 0)

    def origin(self) -> str | None:
        with self._lock:
            return self._store.get_meta("origin")

    def checkpoint(self) -> str | None:
        """The latest adopted checkpoint note (with the cosignatures it came with)."""
        with self._lock:
            latest = self._store.latest_checkpoint()
        return None if latest is None else latest[1]

    def stored_hashes(self, level: int, start: int, count: int) -> list[bytes]:
        n = self.size()
        if (start + count) << level > n:
            raise NotFoundError(f"level {level} hashes", f"not covered by size {n}")
        with self._lock:
            if level == 0:
                got = dict(self._store.leaves(list(range(start, start + count))))
            else:
                keys = [_store.hash_id(level, start + i) for i in range(count)]
                got = {k & ((1 << _store.LEVEL_SHIFT) - 1): h for k, h in self._store.nodes(keys)}
        try:
            return [got[start + i] for i in range(count)]
        except KeyError as exc:
            raise LedgerError(self._store.where, f"missing hash {level}/{exc}") from exc

    def entries(self, start: int, stop: int) -> list[bytes]:
        with self._lock:
            return self._store.entries(start, min(stop, self.size()))

    def _get(self, level: int, index: int) -> bytes:
        return self.stored_hashes(level, index, 1)[0]

    def frontier(self) -> list[tuple[int, bytes]]:
        size = self.size()
        out: list[tuple[int, bytes]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append((level, self._get(level, start >> level)))
                start += 1 << level
        return out

    def root(self) -> bytes:
        return mk.tree_root(self.size(), self._get)

    # ---- writing -------------------------------------------------------------------
    def adopt(self, tl: TiledLog, note_text: str, cp: Checkpoint) -> list[str]:
        """Fetch, recompute and store entries up to ``cp`` in one transaction, committed
        only if everything matches; returns the problems (empty: adopted)."""
        with self._lock, self._store.sequencer():
            start = self.size()
            frontier = self.frontier()
            c = self._store.conn
            c.execute("BEGIN IMMEDIATE")
            try:
                nodes: list[tuple[int, bytes]] = []

                def rows(first: int, entries: list[bytes], leaves: list[bytes]) -> None:
                    c.executemany(
                        "INSERT INTO entries VALUES(?,?,?)",
                        [
                            (first + i, lh, e)
                            for i, (e, lh) in enumerate(zip(entries, leaves, strict=True))
                        ],
                    )
                    c.executemany("INSERT INTO hashes VALUES(?,?)", nodes)
                    nodes.clear()

                def node(level: int, index: int, h: bytes) -> None:
                    nodes.append((_store.hash_id(level, index), h))

                problems = verify_tree(tl, cp.root, frontier, start, rows, node)
                c.executemany("INSERT INTO hashes VALUES(?,?)", nodes)
                if problems:
                    c.execute("ROLLBACK")
                    return problems
                ncp = int(self._store.get_meta("checkpoints") or 0) + 1
                c.executemany(
                    "INSERT OR REPLACE INTO meta VALUES(?,?)",
                    [("size", str(cp.size)), ("checkpoints", str(ncp)), ("origin", cp.origin)],
                )
                c.execute(
                    "INSERT OR REPLACE INTO checkpoints VALUES(?,?,?)",
                    (cp.size, cp.root, note_text),
                )
                c.execute("COMMIT")
                return []
            except BaseException:
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def replace_note(self, cp: Checkpoint, note_text: str) -> None:
        """Keep a newer note for the same tree (e.g. with more cosignatures)."""
        with self._lock, self._store.sequencer():
            c = self._store.conn
            c.execute(
                "UPDATE checkpoints SET note=? WHERE size=? AND root=?",
                (note_text, cp.size, cp.root),
            )

    def close(self) -> None:
        self._store.close()


@dataclass
class SyncReport:
    """One follow step: ``status`` is ``adopted``, ``unchanged``, ``waiting`` (policy not
    yet satisfied), ``error`` (could not fetch or bad tiles: retried), or ``alarm``."""

    status: str
    size: int
    message: str = ""
    evidence: list[str] = field(default_factory=list)
    vouched: list[str] = field(default_factory=list)
    entries_added: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "size": self.size,
            "message": self.message,
            "evidence": self.evidence,
            "vouched_by": self.vouched,
            "entries_added": self.entries_added,
            "seconds": round(self.seconds, 4),
        }


class Mirror:
    """Follows one origin log (its tlog-tiles URL) into a :class:`Replica` in ``directory``."""

    def __init__(self, directory: Path, url: str, policy: Trust, name: str | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.url = url.rstrip("/")
        self.policy = policy
        self.replica = Replica(self.directory)  # the follower's connection (writes)
        self.reader = Replica(self.directory)  # what is served: committed rows only
        self._source: Source | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: SyncReport | None = None
        self._signer = self._load_key(name) if name else None

    def _load_key(self, name: str) -> _note.Signer:
        keyf = self.directory / KEY
        if keyf.exists():
            signer = _note.Signer.parse(keyf.read_text())
            if signer.name != name:
                raise LedgerError(keyf, f"the mirror key here is named {signer.name!r}")
            return signer
        signer = _note.Signer.generate(name)
        write_atomic(keyf, (signer.private_text() + "\n").encode(), mode=0o600)
        return signer

    def cosigner_vkey(self) -> str | None:
        """The mirror's cosignature/v1 verifier key (None without a key)."""
        if self._signer is None:
            return None
        from modelkin.ledger.witness import cosigner_vkey

        return cosigner_vkey(self._signer.name, self._signer.verifier.public)

    def served_checkpoint(self) -> str | None:
        """The adopted checkpoint, plus the mirror's cosignature when it has a key."""
        text = self.reader.checkpoint()
        if text is None or self._signer is None:
            return text
        from modelkin.ledger.witness import cosign_line

        body, _ = _note.split(text)
        return text + cosign_line(self._signer, body)

    # ---- alarm ---------------------------------------------------------------------
    def alarm(self) -> dict[str, Any] | None:
        """The split-view alarm, if one was raised (following stays stopped)."""
        try:
            data: dict[str, Any] = json.loads((self.directory / ALARM).read_text())
            return data
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise LedgerError(self.directory / ALARM, f"corrupt alarm file ({exc})") from exc

    def _raise_alarm(self, problem: str, previous: str, offered: str, size: int) -> SyncReport:
        doc = {"url": self.url, "problem": problem, "evidence": [previous, offered],
               "raised_at": int(time.time())}  # fmt: skip
        write_atomic(self.directory / ALARM, json.dumps(doc, indent=1).encode())
        return SyncReport("alarm", size, problem, [previous, offered])

    # ---- following -----------------------------------------------------------------
    def sync_once(self) -> SyncReport:
        """One verified step (see module docstring); never raises for remote problems."""
        t0 = time.perf_counter()
        rep = self._sync()
        rep.seconds = time.perf_counter() - t0
        with self._cond:
            self.last = rep
            self._cond.notify_all()
        return rep

    def _sync(self) -> SyncReport:
        mine = self.replica.size()
        if (found := self.alarm()) is not None:
            return SyncReport("alarm", mine, f"stopped: {found['problem']}", found["evidence"])
        if self._source is None:
            self._source = open_source(self.url)
        try:
            text = fetch_checkpoint(self._source)
            _, body = self.policy.log_verifier(text, f"{self.url}/checkpoint")
            cp = parse_checkpoint(body, f"{self.url}/checkpoint")
        except LedgerError as exc:
            return SyncReport("error", mine, f"{exc.where}: {exc.problem}")
        origin = self.replica.origin()
        if origin is not None and cp.origin != origin:
            return SyncReport(
                "error", mine, f"{self.url} now serves log {cp.origin!r}, not {origin!r}"
            )
        previous = self.replica.checkpoint()
        if previous is not None:
            prev = parse_checkpoint(_note.split(previous)[0])
            if cp.size < prev.size:
                msg = f"rollback: the log signs size {cp.size} after size {prev.size}"
                return self._raise_alarm(msg, previous, text, mine)
            if cp.size == prev.size:
                if cp.root != prev.root:
                    msg = f"split view: two different roots signed for size {cp.size}"
                    return self._raise_alarm(msg, previous, text, mine)
                verdict = self.policy.check(text)
                if verdict.satisfied and text != previous:
                    self.replica.replace_note(cp, text)
                return SyncReport("unchanged", mine, vouched=sorted(verdict.vouched))
        tl = TiledLog(self._source, cp.size)
        try:
            if tl.root() != cp.root:
                return SyncReport("error", mine, "the log's tiles do not hash to its signed root")
            if previous is not None and 0 < mine < cp.size:
                proof = tl.consistency_proof(mine)
                if not mk.verify_consistency(mine, cp.size, self.replica.root(), cp.root, proof):
                    msg = (
                        f"split view: the checkpoint of size {cp.size} is not consistent with "
                        f"the adopted checkpoint of size {mine}"
                    )
                    return self._raise_alarm(msg, previous, text, mine)
            verdict = self.policy.check(text)
            if not verdict.satisfied:
                return SyncReport("waiting", mine, f"checkpoint {cp.size}: {verdict.describe()}")
            problems = self.replica.adopt(tl, text, cp)
        except LedgerError as exc:
            return SyncReport("error", mine, f"{exc.where}: {exc.problem}")
        if problems:
            return SyncReport("error", mine, "; ".join(problems[:3]))
        return SyncReport(
            "adopted", cp.size, f"adopted size {cp.size}", vouched=sorted(verdict.vouched),
            entries_added=cp.size - mine,
        )  # fmt: skip

    def wait_for(self, size: int, timeout: float) -> SyncReport | None:
        """Block until a step adopted ``size`` or more, or an alarm (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                last = self.last
                if last is not None and (last.status == "alarm" or last.size >= size):
                    return last
                left = deadline - time.monotonic()
                if left <= 0:
                    return last
                self._cond.wait(left)

    def start(self, interval: float) -> None:
        """Follow in a background thread: a step every ``interval`` seconds until
        :meth:`stop` or an alarm."""

        def run() -> None:
            while not self._stop.is_set():
                rep = self.sync_once()
                if rep.status == "alarm":
                    return
                self._stop.wait(interval)

        self._thread = threading.Thread(target=run, name="mirror-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        close = getattr(self._source, "close", None)
        if close is not None:
            close()
        self.replica.close()
        self.reader.close()
