"""Full recomputation of a log from its stored entries (``modelkin ledger verify``).

Everything the database holds is re-derived from the entry bytes alone: leaf hashes, every
stored subtree hash, and the root at every checkpointed size, whose signature is checked
with the log's key. Problems name the entry index (or index range) that is wrong, so a
modified, deleted, reordered or inserted row is located, not just noticed.

Beyond the rows, it checks what the database cannot vouch for itself: the database
engine's own integrity check (a damaged SQLite page is a finding, not a traceback); the
checkpoint of size 0 and of the committed size exist; and ``signed.state``, kept outside
the database, agrees: the log never shrank below the size it last signed, the tree at
that size has the root it signed (a history rewritten with every hash recomputed is
named here), and as many checkpoints exist up to that size as the log signed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modelkin.errors import LedgerError
from modelkin.ledger import _signed_state, _store
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import open_checkpoint

if TYPE_CHECKING:
    from modelkin.ledger.log import Ledger, VerifyReport


def _check_checkpoint(
    log: Ledger, size: int, stored_root: bytes, text: str, root: bytes, problems: list[str]
) -> None:
    verifier = _note.Verifier.parse(log.verifier_key())
    try:
        cp, _ = open_checkpoint(text, verifier, f"checkpoint {size}")
    except LedgerError as exc:
        problems.append(f"checkpoint at size {size}: {exc.problem}")
        return
    if cp.size != size or cp.root != stored_root or cp.origin != log.origin:
        problems.append(f"checkpoint at size {size}: signed text does not match its row")
    if cp.root != root:
        last = size - 1
        problems.append(
            f"checkpoint at size {size}: signed root differs from the tree recomputed from "
            f"entries 0..{last}"
        )


def verify_log(log: Ledger) -> VerifyReport:
    """Recompute and cross-check everything (see module docstring)."""
    from modelkin.ledger.log import VerifyReport

    store = log._store
    problems: list[str] = []
    for msg in store.integrity_check(quick=False):
        problems.append(f"database integrity check: {msg}")
    try:
        size = int(store.get_meta("size") or 0)
        cps = {s: (r, n) for s, r, n in store.checkpoint_rows()}
    except LedgerError as exc:
        return VerifyReport(size=-1, checkpoints=0, problems=[*problems, exc.problem])
    report = VerifyReport(size=size, checkpoints=len(cps), problems=problems)
    try:
        head = _signed_state.read_head(log.directory / "signed.state")
    except LedgerError as exc:
        problems.append(f"signed.state: {exc.problem}")
        head = None
    try:
        roots = _recompute(log, size, cps, problems, head.size if head else None)
    except LedgerError as exc:  # a damaged page met while reading rows
        problems.append(f"database unreadable while recomputing: {exc.problem}")
        return report
    if 0 not in cps:
        problems.append("checkpoint at size 0 is missing (checkpoint row deleted)")
    if size not in cps:
        problems.append(
            f"checkpoint at the committed size {size} is missing (checkpoint row deleted)"
        )
    for s in sorted(x for x in cps if x > size):
        problems.append(f"checkpoint at size {s}: beyond the committed size {size}")
    if head is not None:
        _check_head(head, size, cps, roots, problems)
    return report


def _check_head(
    head: _signed_state.SignedHead,
    size: int,
    cps: dict[int, tuple[bytes, str]],
    roots: dict[int, bytes],
    problems: list[str],
) -> None:
    """Compare the database with ``signed.state``, the record kept outside it."""
    if head.size > size:
        problems.append(
            f"signed.state: the log last signed size {head.size} but the database holds "
            f"{size} entries (rolled back or restored from an old backup)"
        )
        return
    got = roots.get(head.size)
    if got is not None and got != head.root:
        problems.append(
            f"signed.state: the tree recomputed from entries 0..{head.size - 1} has a "
            f"different root than the one the log signed at size {head.size}: history "
            "rewritten (entries and hashes changed consistently)"
        )
    if head.checkpoints is not None:
        have = sum(1 for s in cps if s <= head.size)
        if have < head.checkpoints:
            problems.append(
                f"signed.state: the log signed {head.checkpoints} checkpoints up to size "
                f"{head.size} but the database holds {have}: {head.checkpoints - have} "
                "checkpoint rows deleted"
            )
        elif have > head.checkpoints:
            problems.append(
                f"signed.state: the log signed {head.checkpoints} checkpoints up to size "
                f"{head.size} but the database holds {have} (rows inserted)"
            )


def _recompute(
    log: Ledger,
    size: int,
    cps: dict[int, tuple[bytes, str]],
    problems: list[str],
    want_root_at: int | None,
) -> dict[int, bytes]:
    """Stream every row, recompute leaves, stored subtree hashes and checkpointed roots;
    returns the recomputed roots at ``want_root_at`` (when reached)."""
    store = log._store
    roots: dict[int, bytes] = {}
    if want_root_at == 0:
        roots[0] = mk.EMPTY_ROOT
    if 0 in cps:
        _check_checkpoint(log, 0, cps[0][0], cps[0][1], mk.EMPTY_ROOT, problems)
    frontier: list[tuple[int, bytes]] = []
    expected = 0
    n = 0
    for idx, leaf, data in store.iter_rows():
        if idx >= size:
            problems.append(f"entry {idx}: row beyond the committed size {size} (inserted)")
            continue
        if idx != expected:
            if idx > expected:
                problems.append(f"entries {expected}..{idx - 1}: missing (deleted rows)")
            expected = idx
        expected += 1
        good = mk.leaf_hash(data)
        if leaf != good:
            problems.append(f"entry {idx}: stored leaf hash does not match its data (modified)")
        frontier.append((0, good))
        n = idx + 1
        while len(frontier) >= 2 and frontier[-1][0] == frontier[-2][0]:
            (lvl, right), (_, left) = frontier.pop(), frontier.pop()
            h = mk.node_hash(left, right)
            lvl += 1
            node = (n >> lvl) - 1
            stored = store.node(_store.hash_id(lvl, node))
            if stored != h:
                lo, hi = node << lvl, ((node + 1) << lvl) - 1
                problems.append(
                    f"entries {lo}..{hi}: stored subtree hash (level {lvl}) differs from the "
                    "recomputed one (rows modified or reordered)"
                )
            frontier.append((lvl, h))
        if n in cps or n == want_root_at:
            r = frontier[-1][1]
            for _, h in reversed(frontier[:-1]):
                r = mk.node_hash(h, r)
            if n == want_root_at:
                roots[n] = r
            if n in cps:
                _check_checkpoint(log, n, cps[n][0], cps[n][1], r, problems)
    if expected < size:
        problems.append(f"entries {expected}..{size - 1}: missing (deleted rows)")
    return roots


def verify_directory(directory: Path, db_url: str | None = None) -> VerifyReport:
    """Open the log read-only and verify it; a database that exists but cannot even be
    opened (damaged pages in its header or schema) is reported as a finding."""
    from modelkin.ledger.log import Ledger, VerifyReport

    directory = Path(directory)
    try:
        log = Ledger.open(directory, create=False, db_url=db_url, read_only=True)
    except LedgerError as exc:
        if db_url is None and not (directory / "log.db").exists():
            raise
        return VerifyReport(size=-1, checkpoints=0, problems=[f"{exc.where}: {exc.problem}"])
    with log:
        return log.verify()
