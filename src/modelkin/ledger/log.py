"""The ledger: a durable, append-only RFC 6962 log with signed C2SP checkpoints.

One sequencer thread owns all writes. ``append`` hands its entry to the sequencer and
blocks; the sequencer drains whatever is queued (group commit: no artificial wait unless
``batch_wait_s`` is set), splits it into batches of at most ``max_batch`` (256) entries,
hashes the new leaves into the stored subtree hashes, signs one checkpoint per batch,
commits up to ``max_group`` batches in one SQLite transaction (one WAL fsync), then records
the signed size and root in ``signed.state`` (outside the database) and only then wakes
the callers with their index, inclusion proof and checkpoint. Several processes may append
to one log: each commit happens under the store's exclusive sequencer lock (``flock`` on
``log.lock`` for SQLite, an advisory lock for PostgreSQL) and first adopts whatever another
process committed. Storage is a small interface (:mod:`._store`): SQLite ``log.db`` in the
directory by default, or a PostgreSQL database named by ``db_url``; the signing key and
``signed.state`` stay in the directory either way. On open, a database smaller
than ``signed.state`` (a restore from an old backup) or one whose tree at that size has a
different root is refused: the log must never sign a smaller or inconsistent tree
(``verify`` opens such a log read-only and names what is wrong instead). ``signed.state``
also counts the checkpoints signed, and :meth:`Ledger.checkpoint` always serves a
checkpoint of the committed size (signing it again if its row was deleted: Ed25519 is
deterministic, so the note is byte-identical to the one signed at commit), so deleting
checkpoint rows can neither pass ``verify`` nor make the log serve an older tree.

A SQLite file that fails ``PRAGMA quick_check`` is refused for writing (checked before
each process's first commit, unless ``log.db`` is unchanged since it was last found sound:
see :meth:`._store_sqlite.SqliteStore.writable_problems`); empty entries are refused
(there is nothing to attest).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from modelkin.errors import LedgerError, NotFoundError
from modelkin.ledger import _signed_state, _store, _store_sqlite
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import Checkpoint

_T = TypeVar("_T")
MAX_ENTRY = 65535
"""Largest entry: C2SP tlog-tiles entry bundles prefix each entry with a uint16 length."""
DB_NAME, LOCK_NAME = _store_sqlite.DB_NAME, _store_sqlite.LOCK_NAME
KEY_NAME, VKEY_NAME, STATE_NAME = "log.key", "log.vkey", "signed.state"


@dataclass(frozen=True)
class AppendResult:
    """What an append returns once the entry is durable and integrated."""

    index: int
    leaf_hash: bytes
    duplicate: bool
    tree_size: int
    inclusion_proof: list[bytes]
    checkpoint: str

    def tlog_proof(self, extra: bytes | None = None) -> str:
        """This result as a C2SP ``.tlog-proof`` offline bundle."""
        from modelkin.ledger.tlogproof import format_proof

        return format_proof(self.index, self.inclusion_proof, self.checkpoint, extra)


@dataclass
class VerifyReport:
    """Outcome of a full recomputation: ``problems`` name the indexes that are wrong."""

    size: int
    checkpoints: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Job:
    entries: list[bytes]
    caller: int = field(default_factory=threading.get_ident)
    done: threading.Event = field(default_factory=threading.Event)
    results: list[AppendResult] = field(default_factory=list)
    error: BaseException | None = None


class Ledger:
    """A transparency log: key and ``signed.state`` in one directory, rows in a :class:`Store`."""

    def __init__(
        self,
        directory: Path,
        store: _store.Store,
        signer: _note.Signer,
        origin: str,
        read_only: bool = False,
    ) -> None:
        self.directory = directory
        self.origin = origin
        self._store = store
        self._signer = signer
        self._lock = threading.RLock()
        self._cache: dict[int, bytes] = {}
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._state: _signed_state.StateWriter | None = None
        self.max_batch = 256
        self.max_group = 16
        self.batch_wait_s = 0.0
        self.regroup_wait_s = 0.002
        self.read_only = read_only
        self._integrity_checked = False
        self._size = int(store.get_meta("size") or 0)
        ncp = store.get_meta("checkpoints")
        self._ncp: int | None = int(ncp) if ncp is not None else None
        try:
            self._frontier = self._load_frontier(self._size)
        except LedgerError:
            if not read_only:
                raise
            self._frontier = []  # verify names what is missing
        latest = store.latest_checkpoint()
        self._cp_size, self._checkpoint = latest if latest else (-1, "")

    # ---- opening -------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        origin: str | None = None,
        create: bool = True,
        db_url: str | None = None,
        read_only: bool = False,
    ) -> Ledger:
        """Open the log in ``directory``; creating one needs ``origin`` (its key name).

        ``db_url`` (``postgresql+psycopg://...``) keeps the rows in PostgreSQL; the key and
        ``signed.state`` still live in ``directory``, which servers sharing the database
        must share (or hold copies of ``log.key``). ``read_only`` (for ``verify``) skips
        the refusal of a shrunk or rewritten database and refuses every append instead."""
        directory = Path(directory)
        pg = _store.is_postgres(db_url)
        existed = not pg and (directory / DB_NAME).exists()
        if not pg and not existed:
            if not create:
                raise LedgerError(directory, "no log here (run 'modelkin ledger init')")
            if not origin:
                raise LedgerError(directory, "creating a log needs an origin, e.g. example.org/log")
            directory.mkdir(parents=True, exist_ok=True)
        store = _store.open_store(directory, db_url)
        try:
            with store.sequencer():  # two processes creating one log: the second opens it
                if store.get_meta("origin") is None:
                    if existed:
                        raise LedgerError(store.where, "database has no origin; not a modelkin log")
                    cls._create(directory, store, origin, create)
            return cls._open_existing(directory, store, origin, read_only)
        except BaseException:
            store.close()
            raise

    @staticmethod
    def _create(directory: Path, store: _store.Store, origin: str | None, create: bool) -> None:
        """Generate the key and write the empty log (caller holds the sequencer lock)."""
        if not create:
            raise LedgerError(store.where, "no log in this database (run 'modelkin ledger init')")
        if not origin:
            raise LedgerError(directory, "creating a log needs an origin, e.g. example.org/log")
        keyf = directory / KEY_NAME
        if keyf.exists():
            raise LedgerError(
                keyf, "key exists but the log database is empty; refusing to reuse it"
            )
        directory.mkdir(parents=True, exist_ok=True)
        signer = _note.Signer.generate(origin)
        fd = os.open(keyf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(signer.private_text() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        (directory / VKEY_NAME).write_text(str(signer.verifier) + "\n")
        body = Checkpoint(origin, 0, mk.EMPTY_ROOT).body()
        store.init(origin, str(signer.verifier), mk.EMPTY_ROOT, _note.sign(body, signer))

    @classmethod
    def _open_existing(
        cls, directory: Path, store: _store.Store, origin: str | None, read_only: bool = False
    ) -> Ledger:
        keyf = directory / KEY_NAME
        try:
            signer = _note.Signer.parse(keyf.read_text())
        except OSError as exc:
            raise LedgerError(keyf, f"cannot read the log key ({exc.strerror})") from exc
        stored_origin = store.get_meta("origin")
        if stored_origin is None:
            raise LedgerError(store.where, "database has no origin; not a modelkin log")
        if origin is not None and origin != stored_origin:
            raise LedgerError(directory, f"log origin is {stored_origin!r}, not {origin!r}")
        vkey = store.get_meta("vkey")
        if vkey is not None and vkey != str(signer.verifier):
            raise LedgerError(keyf, "this key did not create the log stored in the database")
        log = cls(directory, store, signer, stored_origin, read_only)
        if not read_only:
            log._check_state()
        return log

    def _check_state(self) -> None:
        """Refuse a log that shrank or diverged from what it last signed."""
        rec = _signed_state.read(self.directory / STATE_NAME)
        if rec is None:
            return
        size, root = rec
        if size > self._size:
            raise LedgerError(
                self.directory,
                f"log shrank: it last signed size {size} but the database holds {self._size} "
                "entries (restored from an old backup?); refusing to sign a smaller tree",
            )
        if self.root(size) != root:
            raise LedgerError(
                self.directory,
                f"database tree at size {size} differs from the root the log signed; "
                "refusing to sign an inconsistent tree",
            )

    def _write_state(self) -> None:
        if self._state is None:
            self._state = _signed_state.StateWriter(self.directory / STATE_NAME)
        assert self._ncp is not None
        self._state.write(self._size, self._frontier_root(), self._ncp)

    # ---- hashes ----------------------------------------------------------------------
    def _get(self, level: int, index: int) -> bytes:
        key = _store.hash_id(level, index)
        h = self._cache.get(key)
        if h is not None:
            return h
        with self._lock:
            h = self._store.leaf(index) if level == 0 else self._store.node(key)
        if h is None:
            raise LedgerError(self._store.where, f"missing hash level {level} index {index}")
        return h

    def _prefetched(self, fn: Callable[[mk.HashGetter], _T]) -> _T:
        """Run ``fn`` with all the stored hashes it needs fetched in two queries.

        A dry run with placeholder hashes records which subtrees ``fn`` reads (the set
        depends only on sizes and indexes), then one ``IN`` query per table loads them."""
        want: list[tuple[int, int]] = []

        def record(level: int, index: int) -> bytes:
            want.append((level, index))
            return bytes(32)

        fn(record)
        leaves = [i for lv, i in want if lv == 0 and _store.hash_id(0, i) not in self._cache]
        nodes = [
            _store.hash_id(lv, i)
            for lv, i in want
            if lv > 0 and _store.hash_id(lv, i) not in self._cache
        ]
        with self._lock:
            if leaves:
                for idx, leaf in self._store.leaves(leaves):
                    self._cache[_store.hash_id(0, idx)] = leaf
            if nodes:
                for key, h in self._store.nodes(nodes):
                    self._cache[key] = h
        return fn(self._get)

    def _load_frontier(self, size: int) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                out.append((level, self._get(level, start >> level)))
                start += 1 << level
        return out

    def _frontier_root(self) -> bytes:
        if not self._frontier:
            return mk.EMPTY_ROOT
        r = self._frontier[-1][1]
        for _, h in reversed(self._frontier[:-1]):
            r = mk.node_hash(h, r)
        return r

    # ---- appending -----------------------------------------------------------------
    def append(self, entry: bytes) -> AppendResult:
        """Append one entry; returns once it is durable, integrated and signed."""
        return self.append_many([entry])[0]

    def append_many(self, entries: list[bytes]) -> list[AppendResult]:
        """Append entries in order (one job for the sequencer); results in the same order.

        If an error is raised, earlier groups of a large job may already be durable;
        appending the same entries again returns them as duplicates with their indexes."""
        if self.read_only:
            raise LedgerError(self.directory, "log opened read-only (for verification)")
        for i, e in enumerate(entries):
            if not isinstance(e, bytes | bytearray | memoryview):
                raise LedgerError(f"entry {i}", "entries must be bytes")
            if not len(e):
                raise LedgerError(f"entry {i}", "empty entry (there is nothing to attest)")
            if len(e) > MAX_ENTRY:
                raise LedgerError(
                    f"entry {i}", f"{len(e)} bytes exceeds the {MAX_ENTRY}-byte entry limit"
                )
        if not entries:
            return []
        job = _Job([bytes(e) for e in entries])
        self._start()
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            if isinstance(job.error, LedgerError):
                raise job.error
            raise LedgerError(self.directory, f"append failed: {job.error}") from job.error
        return job.results

    def _start(self) -> None:
        with self._lock:
            if self._closed:
                raise LedgerError(self.directory, "log is closed")
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="ledger-sequencer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """The sequencer loop: form a group, integrate it (one fsync), wake its callers.

        Group commit without an artificial delay, with one refinement measured on 16
        appending threads: the callers the previous group just woke are usually about to
        append again, and forming the next group before they are back splits the same
        callers into two half-size groups (two fsyncs where one would do). So the group
        waits for *those* callers, and only for as long as a fraction of the last commit
        took (at most ``regroup_wait_s``); a caller that does not come back costs that once.
        """
        released: set[int] = set()
        last_commit = 0.0
        while True:
            job = self._queue.get()
            if job is None:
                return
            jobs = [job]
            pending = len(job.entries)
            waiting_for = released - {job.caller}
            stop = False
            now = time.monotonic()
            deadline = now + self.batch_wait_s
            regroup = now + min(self.regroup_wait_s, last_commit / 4) if waiting_for else now
            while pending < self.max_batch * self.max_group:
                left = max(deadline, regroup if waiting_for else now) - time.monotonic()
                try:
                    nxt = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                pending += len(nxt.entries)
                waiting_for.discard(nxt.caller)
            t0 = time.monotonic()
            try:
                self._integrate(jobs)
            except BaseException as exc:  # handed to every waiting caller
                for j in jobs:
                    j.error = exc
            last_commit = time.monotonic() - t0
            released = {j.caller for j in jobs}
            for j in jobs:
                j.done.set()
            if stop:
                return

    def _integrate(self, jobs: list[_Job]) -> None:
        """Sequence, store and sign the queued entries: one checkpoint per ``max_batch``
        entries, one transaction per ``max_group`` batches."""
        flat = [e for j in jobs for e in j.entries]
        placed: list[tuple[int, bytes, bool]] = []
        chunks = [flat[i : i + self.max_batch] for i in range(0, len(flat), self.max_batch)]
        for g in range(0, len(chunks), self.max_group):
            placed.extend(self._commit_batch(chunks[g : g + self.max_group]))
        size, note_text = self._size, self._checkpoint
        pos = 0
        for j in jobs:
            for _ in j.entries:
                idx, lh, dup = placed[pos]
                pos += 1
                proof = mk.inclusion_proof(idx, size, self._get)
                j.results.append(AppendResult(idx, lh, dup, size, proof, note_text))

    def _commit_batch(self, batches: list[list[bytes]]) -> list[tuple[int, bytes, bool]]:
        """Commit one group holding the store's sequencer lock, so several processes (a
        server and a CLI, or two servers on one PostgreSQL database) append to one log:
        whoever holds the lock first commits, the others adopt its work before theirs."""
        with self._store.sequencer():
            self._catch_up()
            if not self._integrity_checked:
                self._check_writable()
            return self._commit_locked(batches)

    def _check_writable(self) -> None:
        """Refuse to write into a damaged database (once per process: O(database))."""
        problems = self._store.writable_problems()
        if problems:
            raise LedgerError(
                self._store.where,
                f"database is corrupted ({problems[0]}); refusing to write. Run "
                "'modelkin ledger verify' and restore the log from a good copy",
            )
        if self._ncp is None:  # a log from before checkpoints were counted
            self._ncp = self._store.count_checkpoints(self._size)
        self._integrity_checked = True

    def _catch_up(self) -> None:
        """Adopt entries another process appended since this one last wrote."""
        with self._lock:
            db_size = int(self._store.get_meta("size") or 0)
            mine = sum(1 << lvl for lvl, _ in self._frontier)
            if db_size == mine:
                return
            if db_size < mine:
                raise LedgerError(self.directory, f"log shrank from {mine} to {db_size} entries")
            self._frontier = self._load_frontier(db_size)
            ncp = self._store.get_meta("checkpoints")
            self._ncp = int(ncp) if ncp is not None else None
            self._refresh()
            if self._ncp is None:
                self._ncp = self._store.count_checkpoints(db_size)

    def _refresh(self) -> None:
        """Pick up the committed size and checkpoint (appends by other processes)."""
        with self._lock:
            latest = self._store.latest_checkpoint()
            if latest is not None and latest[0] > self._size:
                self._size, self._checkpoint = latest
                self._cp_size = latest[0]

    def _commit_locked(self, batches: list[list[bytes]]) -> list[tuple[int, bytes, bool]]:
        """Stage each batch (dedupe, hash, sign one checkpoint per batch) and commit the
        group in one transaction: one WAL fsync for up to ``max_group`` batches."""
        out: list[tuple[int, bytes, bool]] = []
        new_rows: list[tuple[int, bytes, bytes]] = []
        new_hashes: list[tuple[int, bytes]] = []
        new_cps: list[tuple[int, bytes, str]] = []
        seen: dict[bytes, int] = {}
        old_size, old_frontier = self._size, list(self._frontier)
        size = sum(1 << lvl for lvl, _ in self._frontier)
        frontier = self._frontier
        with self._lock:
            for batch in batches:
                hashes = [mk.leaf_hash(data) for data in batch]
                for leaf, i in self._store.find(hashes):  # one lookup for the whole batch
                    seen[leaf] = i
                start = size
                for data, lh in zip(batch, hashes, strict=True):
                    idx = seen.get(lh)
                    if idx is not None:
                        out.append((idx, lh, True))
                        continue
                    idx = size
                    seen[lh] = idx
                    new_rows.append((idx, lh, data))
                    self._cache[_store.hash_id(0, idx)] = lh
                    frontier.append((0, lh))
                    size += 1
                    while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
                        (lvl, right), (_, left) = frontier.pop(), frontier.pop()
                        h = mk.node_hash(left, right)
                        key = _store.hash_id(lvl + 1, (size >> (lvl + 1)) - 1)
                        new_hashes.append((key, h))
                        self._cache[key] = h
                        frontier.append((lvl + 1, h))
                    out.append((idx, lh, False))
                if size > start:
                    root = self._frontier_root()
                    body = Checkpoint(self.origin, size, root).body()
                    new_cps.append((size, root, _note.sign(body, self._signer)))
            if not new_rows:
                return out
            assert self._ncp is not None
            ncp = self._ncp + len(new_cps)
            try:
                self._store.commit(new_rows, new_hashes, size, new_cps, ncp)
                self._size, self._ncp = size, ncp  # readers see it only once durable
            except BaseException:
                self._size, self._frontier = old_size, old_frontier
                for i, _, _ in new_rows:
                    self._cache.pop(_store.hash_id(0, i), None)
                for k, _ in new_hashes:
                    self._cache.pop(k, None)
                raise
            self._cp_size, self._checkpoint = size, new_cps[-1][2]
            self._write_state()
            if len(self._cache) > 4_000_000:
                self._cache.clear()
        return out

    # ---- reading ---------------------------------------------------------------------
    def size(self) -> int:
        """Number of entries integrated (equal to the latest checkpoint's size)."""
        self._refresh()
        return self._size

    def _check_index(self, index: int, size: int) -> None:
        if not 0 <= index < size:
            raise NotFoundError(f"entry {index}", f"no such entry in a log of size {size}")

    def entry(self, index: int) -> bytes:
        """The bytes of entry ``index``."""
        self._check_index(index, self._size)
        with self._lock:
            data = self._store.data(index)
        if data is None:
            raise LedgerError(self._store.where, f"entry {index} is missing from the database")
        return data

    def stored_hashes(self, level: int, start: int, count: int) -> list[bytes]:
        """Hashes of the complete subtrees ``start .. start+count-1`` at ``level`` (tiles),
        read in one query."""
        n = self._size

        def fn(get: mk.HashGetter) -> list[bytes]:
            if (start + count) << level > n:
                raise NotFoundError(f"level {level} hashes", f"not covered by size {n}")
            return [get(level, start + i) for i in range(count)]

        return self._prefetched(fn)

    def entries(self, start: int, stop: int) -> list[bytes]:
        """Entries ``[start, stop)`` (clipped to the log size)."""
        stop = min(stop, self._size)
        with self._lock:
            return self._store.entries(start, stop)

    def index_of(self, leaf_hash: bytes) -> int | None:
        """Index of the entry with this RFC 6962 leaf hash, if logged."""
        with self._lock:
            found = self._store.find([bytes(leaf_hash)])
        return found[0][1] if found else None

    def _size_arg(self, size: int | None) -> int:
        if size is None or size > self._size:
            self._refresh()
        cur = self._size
        if size is None:
            return cur
        if not 0 <= size <= cur:
            raise NotFoundError(f"size {size}", f"the log has only {cur} entries")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Tree head of the first ``size`` entries (default: the whole log)."""
        n = self._size_arg(size)
        return self._prefetched(lambda get: mk.tree_root(n, get))

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        n = self._size_arg(size)
        self._check_index(index, n)
        return self._prefetched(lambda get: mk.inclusion_proof(index, n, get))

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        """RFC 9162 consistency proof from size ``old`` to ``new``, 1 <= old <= new.

        Old size 0 is refused: the empty tree is a prefix of every tree, so there is
        nothing to prove, and an empty list handed back as a "proof" would read as
        evidence (see :mod:`.merkle`; a C2SP witness request from 0 carries no proof)."""
        new = self._size_arg(new)
        if old == 0:
            raise LedgerError(
                f"sizes {old} {new}",
                "no consistency proof from size 0: the empty tree is a prefix of every "
                "tree (RFC 9162 proofs are for 1 <= old <= new)",
            )
        if not 0 < old <= new:
            raise LedgerError(f"sizes {old} {new}", "old size must be between 1 and new size")
        return self._prefetched(lambda get: mk.consistency_proof(old, new, get))

    def checkpoint(self) -> str:
        """The signed checkpoint of the committed tree (C2SP signed note).

        Never older than the log: when the stored row of the latest checkpoint is missing
        (deleted behind the log's back), the checkpoint of the committed size and root is
        signed again. Ed25519 is deterministic, so this is the very note the log signed
        at commit, not a new statement; ``verify`` still reports the deleted row."""
        self._refresh()
        with self._lock:
            if self._cp_size != self._size:
                n = self._size
                root = self._prefetched(lambda get: mk.tree_root(n, get))
                body = Checkpoint(self.origin, n, root).body()
                self._cp_size, self._checkpoint = self._size, _note.sign(body, self._signer)
            return self._checkpoint

    def checkpoints(self) -> list[str]:
        """Every checkpoint the log signed, smallest first."""
        with self._lock:
            return [note for _, _, note in self._store.checkpoint_rows()]

    def checkpoints_page(
        self, after: int | None = None, limit: int = 50, newest_first: bool = False
    ) -> list[tuple[int, str]]:
        """``(size, note)`` of one keyset page of checkpoints: at most ``limit`` past tree
        size ``after`` (a bounded query, however many checkpoints the log has signed)."""
        with self._lock:
            return self._store.checkpoint_page(after, max(1, limit), newest_first)

    def verifier_key(self) -> str:
        """The log's signed-note verifier key ``name+hex(keyID)+base64(0x01||pub)``."""
        return str(self._signer.verifier)

    def tlog_proof(self, index: int, extra: bytes | None = None) -> str:
        """C2SP ``.tlog-proof`` for ``index`` against the latest checkpoint."""
        from modelkin.ledger.tlogproof import format_proof

        proof = self.inclusion_proof(index)
        return format_proof(index, proof, self.checkpoint(), extra)

    def iter_rows(self) -> Iterator[tuple[int, bytes, bytes]]:
        """Every stored entry row ``(idx, leaf, data)`` in index order, straight from disk."""
        return self._store.iter_rows()

    def verify(self) -> VerifyReport:
        """Recompute the whole tree from stored entries and check every stored hash and
        every checkpoint (signature and root); problems name the entry indexes."""
        from modelkin.ledger.verify import verify_log

        with self._lock:
            return verify_log(self)

    # ---- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Stop the sequencer (after queued appends finish) and close the database."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._state is not None:
            self._state.close()
            self._state = None
        self._store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
