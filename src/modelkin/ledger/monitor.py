"""A monitor that follows a local log and proves or disproves append-only behaviour.

Each check reads the log's latest signed checkpoint, verifies its signature with the key
pinned in the monitor's state file (first run: trust on first use of ``log.vkey``, or an
explicit key), and proves it consistent with the last checkpoint the monitor accepted. A
smaller tree (rollback), a different root at the same size, or a failing consistency proof
is a split view: the report carries both signed checkpoints as evidence, and the state
is not advanced, so the alarm repeats until someone looks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from modelkin.errors import LedgerError
from modelkin.fsio import write_atomic
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import open_checkpoint
from modelkin.ledger.log import Ledger


@dataclass
class MonitorReport:
    """One monitoring step: ``ok`` or ``problem`` with ``evidence`` (signed notes)."""

    size: int
    previous_size: int | None
    problem: str | None = None
    evidence: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def check(
    log_dir: Path, state_path: Path, vkey: str | None = None, db_url: str | None = None
) -> MonitorReport:
    """Run one monitoring step against the log in ``log_dir`` (rows in ``db_url`` if given)."""
    state_path = Path(state_path)
    state: dict[str, object] = {}
    if state_path.exists():
        try:
            state = json.loads(state_path.read_text())
        except ValueError as exc:
            raise LedgerError(state_path, f"corrupt monitor state ({exc})") from exc
    pinned = vkey or state.get("vkey")
    if pinned is None:
        try:
            pinned = (Path(log_dir) / "log.vkey").read_text().strip()
        except OSError as exc:
            raise LedgerError(log_dir, "no log.vkey to pin; pass the log's key") from exc
    verifier = _note.Verifier.parse(str(pinned))
    prev_note = str(state.get("checkpoint", ""))
    prev_size = int(str(state["size"])) if "size" in state else None
    try:
        log = Ledger.open(Path(log_dir), create=False, db_url=db_url)
    except LedgerError as exc:
        return MonitorReport(-1, prev_size, f"cannot open log: {exc.problem}", [prev_note])
    with log:
        note_text = log.checkpoint()
        cp, _ = open_checkpoint(note_text, verifier, f"{log_dir} checkpoint")
        report = MonitorReport(cp.size, prev_size)
        if prev_size is not None:
            old_root = _note.unb64(str(state["root"]), str(state_path))
            if cp.size < prev_size:
                report.problem = f"rollback: log now signs size {cp.size} after {prev_size}"
            elif cp.size == prev_size and cp.root != old_root:
                report.problem = f"split view: two different roots signed for size {cp.size}"
            elif 0 < prev_size < cp.size:
                proof = log.consistency_proof(prev_size, cp.size)
                if not mk.verify_consistency(prev_size, cp.size, old_root, cp.root, proof):
                    report.problem = (
                        f"split view: checkpoint {cp.size} is not consistent with "
                        f"checkpoint {prev_size}"
                    )
            if report.problem:
                report.evidence = [prev_note, note_text]
                return report
    new_state = {
        "vkey": str(verifier),
        "size": cp.size,
        "root": _note.b64(cp.root),
        "checkpoint": note_text,
    }
    write_atomic(state_path, json.dumps(new_state, indent=1).encode())
    return report
