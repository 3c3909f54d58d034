"""Witness cosignatures a log has collected for its own checkpoints.

A log that wants to show it is witnessed keeps, per trusted witness, the newest
c2sp.org/tlog-cosignature it received and serves it appended to the checkpoint note (the
cosignature lines are ordinary signed-note signature lines, so clients that do not know
the witness simply ignore them, per c2sp.org/signed-note).

Before a cosignature is kept, :func:`check_cosigned_note` makes sure the note is a
checkpoint *this* log signed (its signature verifies and the root equals the log's own
root at that size) and that every cosignature by a trusted witness verifies; signatures by
unknown keys are ignored, a bad one by a trusted key rejects the whole note
(:class:`CosignatureRejected`); a note that is not a signed checkpoint at all is a plain
:class:`ModelkinError`. The store is one small JSON file replaced atomically
(fsync, rename), so a crash leaves either the old or the new state, never a torn one; the
read-modify-write of :meth:`CosignatureStore.add` holds an exclusive ``flock`` on a sibling
``.lock`` file, so two server processes on one home never drop each other's cosignatures.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from modelkin.errors import LedgerError, ModelkinError
from modelkin.fsio import write_atomic
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.witness import ALG_COSIGNATURE_V1, verify_cosignature

MAX_STORE = 1 << 20
"""The store holds one record per configured witness; anything larger is corruption."""


class CosignatureRejected(LedgerError):
    """The note is not a checkpoint of this log, or a trusted witness's cosignature is bad."""


@dataclass(frozen=True)
class Cosignature:
    """The newest accepted cosignature of one witness, with the checkpoint it covers."""

    witness: str
    key_id: str
    size: int
    timestamp: int
    body: str
    log_line: str
    line: str

    @property
    def ref(self) -> str:
        """``name+hex(keyID)``: how the store and callers name the witness."""
        return f"{self.witness}+{self.key_id}"


def witness_ref(v: _note.Verifier) -> str:
    """The :attr:`Cosignature.ref` of a configured witness key."""
    return f"{v.name}+{v.key_hash.hex()}"


def parse_witness_keys(vkeys: Iterable[str]) -> list[_note.Verifier]:
    """Parse operator-configured witness keys; each must be a cosignature/v1 (0x04) key."""
    out: list[_note.Verifier] = []
    for vkey in vkeys:
        v = _note.Verifier.parse(vkey)
        if v.alg != ALG_COSIGNATURE_V1:
            raise LedgerError(f"witness key {v.name}", "not a cosignature/v1 (0x04) key")
        out.append(v)
    return out


def check_cosigned_note(
    note: str,
    log_vkey: str,
    log_root: Callable[[int], bytes],
    log_size: int,
    witnesses: list[_note.Verifier],
) -> list[Cosignature]:
    """The trusted witnesses' cosignatures on ``note``, all verified (see module docstring).

    ``log_root(n)`` is the log's own tree head at size ``n``; ``log_size`` its signed size.
    Returns an empty list when no trusted witness cosigned."""
    where = "cosigned checkpoint"
    log = _note.Verifier.parse(log_vkey)
    try:
        _, sigs = _note.split(note, where)
    except LedgerError as exc:  # malformed input, not a signature problem
        raise ModelkinError(exc.where, exc.problem) from exc
    try:
        body, _ = _note.open_note(note, [log], where)
    except LedgerError as exc:
        raise CosignatureRejected(exc.where, f"not signed by this log: {exc.problem}") from exc
    try:
        cp = parse_checkpoint(body, where)
    except LedgerError as exc:
        raise ModelkinError(exc.where, exc.problem) from exc
    if cp.origin != log.name:
        raise CosignatureRejected(where, f"origin {cp.origin!r} is not this log")
    if cp.size > log_size:
        raise LedgerError(where, f"size {cp.size} > the log's size {log_size}")
    if log_root(cp.size) != cp.root:
        raise LedgerError(where, f"root differs from the log's at size {cp.size}")
    log_line = next(s.line() for s in sigs if (s.name, s.key_hash) == (log.name, log.key_hash))
    present = {(s.name, s.key_hash): s for s in sigs}
    accepted: list[Cosignature] = []
    for w in witnesses:
        sig = present.get((w.name, w.key_hash))
        if sig is None:
            continue
        try:
            ts = verify_cosignature(note, str(w))
        except LedgerError as exc:
            raise CosignatureRejected(exc.where, exc.problem) from exc
        accepted.append(
            Cosignature(w.name, w.key_hash.hex(), cp.size, ts, body, log_line, sig.line())
        )
    return accepted


class CosignatureStore:
    """Per-witness newest cosignature, kept in one JSON file (``cosignatures.json``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Cosignature]:
        try:
            if self.path.stat().st_size > MAX_STORE:
                raise LedgerError(self.path, "cosignature store larger than 1 MiB")
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {k: Cosignature(**v) for k, v in data.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, AttributeError) as exc:
            raise LedgerError(self.path, f"corrupt cosignature store ({exc})") from exc

    def all(self) -> dict[str, Cosignature]:
        """Witness ref (``name+hex(keyID)``) -> its newest stored cosignature."""
        with self._lock:
            return self._read()

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """This process's lock, then the cross-process ``flock`` on ``<store>.lock``."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = self.path.with_name(self.path.name + ".lock")
            with open(lock, "a+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def add(self, cosigs: list[Cosignature]) -> list[Cosignature]:
        """Keep each cosignature unless the witness already cosigned a larger tree (a
        witness never goes backwards, so an older one is stale); returns those kept."""
        with self._exclusive():
            current = self._read()
            kept = [
                c
                for c in cosigs
                if c.ref not in current
                or (c.size, c.timestamp) > (current[c.ref].size, current[c.ref].timestamp)
            ]
            if kept:
                current.update({c.ref: c for c in kept})
                data = {k: asdict(v) for k, v in current.items()}
                write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
            return kept


def cosigned_note(stored: Iterable[Cosignature], trusted: Iterable[str]) -> str | None:
    """The newest checkpoint cosigned by a trusted witness (its ref in ``trusted``), as a
    signed note: body, the log's signature, then every trusted cosignature of that body."""
    keys = set(trusted)
    mine = [c for c in stored if c.ref in keys]
    if not mine:
        return None
    best = max(mine, key=lambda c: c.size)
    lines = sorted(c.line for c in mine if c.body == best.body)
    return best.body + "\n" + best.log_line + "".join(lines)
