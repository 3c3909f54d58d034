"""Full recomputation of a log from its stored entries (``modelkin ledger verify``).

Everything the database holds is re-derived from the entry bytes alone: leaf hashes, every
stored subtree hash, and the root at every checkpointed size, whose signature is checked
with the log's key. Problems name the entry index (or index range) that is wrong, so a
modified, deleted, reordered or inserted row is located, not just noticed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelkin.errors import LedgerError
from modelkin.ledger import _store
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
    size = log.size()
    cps = {s: (r, n) for s, r, n in store.checkpoint_rows()}
    report = VerifyReport(size=size, checkpoints=len(cps))
    problems = report.problems
    if 0 in cps:
        _check_checkpoint(log, 0, cps[0][0], cps[0][1], mk.EMPTY_ROOT, problems)
    frontier: list[tuple[int, bytes]] = []
    expected = 0
    n = 0
    for idx, leaf, data in log.iter_rows():
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
        if n in cps:
            r = frontier[-1][1]
            for _, h in reversed(frontier[:-1]):
                r = mk.node_hash(h, r)
            _check_checkpoint(log, n, cps[n][0], cps[n][1], r, problems)
    if expected < size:
        problems.append(f"entries {expected}..{size - 1}: missing (deleted rows)")
    stray = [s for s in cps if s > size]
    for s in stray:
        problems.append(f"checkpoint at size {s}: beyond the committed size {size}")
    return report
