"""Verifying another party's log from the outside (``modelkin ledger verify-remote``).

Given where its tiles are (an ``http(s)://`` prefix or a directory) and what to trust (a
verifier key, or a Sigsum-format policy with a witness quorum), check: the checkpoint's
signature by a trusted log key and the policy's quorum of cosignatures; that the tiles
imply the signed root; optionally the whole tree recomputed from the entry bundles
(``full``), an inclusion proof of one entry built from tiles, and a consistency proof
from an older checkpoint the caller kept (what the Go checksum database client does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelkin.errors import LedgerError
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.policy import LogKey, Policy, PolicyError, Trust, Verdict
from modelkin.ledger.tiled import TiledLog, fetch_checkpoint, open_source, verify_tree
from modelkin.ledger.tlogproof import format_proof


def policy_for_key(vkey: str) -> Policy:
    """A policy trusting one log key and needing no witness (``--vkey`` alone)."""
    v = _note.Verifier.parse(vkey)
    if v.alg != _note.ALG_ED25519:
        raise LedgerError("verifier key", f"{v.name} is not an Ed25519 (0x01) log key")
    return Policy(logs=[LogKey(v.public, v.name)], quorum="none", source=f"key {v.name}")


@dataclass
class RemoteReport:
    """What :func:`verify_remote` checked (``checked``) and found wrong (``problems``)."""

    location: str
    checkpoint: str = ""
    verdict: Verdict | None = None
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tlog_proof: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.verdict is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "location": self.location,
            "checkpoint": self.checkpoint,
            "policy": self.verdict.to_dict() if self.verdict else None,
            "checked": self.checked,
            "problems": self.problems,
            "tlog_proof": self.tlog_proof,
        }


def verify_remote(
    location: str,
    policy: Trust,
    *,
    full: bool = False,
    index: int | None = None,
    since: str | None = None,
) -> RemoteReport:
    """Verify the tiled log at ``location`` under ``policy`` (see module docstring)."""
    rep = RemoteReport(location)
    src = open_source(location)
    try:
        rep.checkpoint = text = fetch_checkpoint(src)
        try:
            verdict = policy.check(text, f"{location}/checkpoint")
        except LedgerError as exc:
            rep.problems.append(f"checkpoint: {exc.problem}")
            return rep
        rep.verdict = verdict
        cp = verdict.checkpoint
        rep.checked.append(
            f"checkpoint {cp.origin} size {cp.size}: signed by the log; {verdict.describe()}"
        )
        if not verdict.satisfied:
            rep.problems.append(f"checkpoint does not satisfy the policy: {verdict.describe()}")
        tl = TiledLog(src, cp.size)
        try:
            if tl.root() != cp.root:
                rep.problems.append("the tiles do not imply the checkpoint's root")
            else:
                rep.checked.append("tiles imply the signed root")
            if full:
                found = verify_tree(tl, cp.root)
                rep.problems.extend(found)
                if not found:
                    rep.checked.append(
                        f"all {cp.size} entries recomputed from the bundles: every tile matches"
                    )
            if index is not None:
                _check_inclusion(tl, cp.size, cp.root, index, text, rep)
            if since is not None:
                _check_since(tl, policy, since, cp.size, cp.root, rep)
        except LedgerError as exc:
            rep.problems.append(f"{exc.where}: {exc.problem}")
        return rep
    finally:
        close = getattr(src, "close", None)
        if close is not None:
            close()


def _check_inclusion(
    tl: TiledLog, size: int, root: bytes, index: int, text: str, rep: RemoteReport
) -> None:
    if not 0 <= index < size:
        rep.problems.append(f"index {index}: not in the tree of size {size}")
        return
    proof = tl.inclusion_proof(index)
    entry = tl.entries(index // 256)[index % 256]
    if mk.verify_inclusion(mk.leaf_hash(entry), index, size, proof, root):
        rep.checked.append(f"entry {index} included (proof of {len(proof)} hashes)")
        rep.tlog_proof = format_proof(index, proof, text)
    else:
        rep.problems.append(f"entry {index}: inclusion proof from tiles does not verify")


def _check_since(
    tl: TiledLog, policy: Trust, since: str, size: int, root: bytes, rep: RemoteReport
) -> None:
    """The older checkpoint must be signed by the same log and be a prefix of this one."""
    try:
        _, body = policy.log_verifier(since, "older checkpoint")
        old = parse_checkpoint(body, "older checkpoint")
    except (LedgerError, PolicyError) as exc:
        rep.problems.append(f"older checkpoint: {exc.problem}")
        return
    if old.origin != (rep.verdict.checkpoint.origin if rep.verdict else ""):
        rep.problems.append(f"older checkpoint is of another log ({old.origin!r})")
    elif old.size > size:
        rep.problems.append(f"rollback: the log now serves size {size} after {old.size}")
    elif old.size == size:
        if old.root != root:
            rep.problems.append(f"split view: two different roots signed for size {size}")
        else:
            rep.checked.append(f"older checkpoint {old.size} is the same tree")
    elif old.size == 0:
        rep.checked.append("older checkpoint is the empty tree (a prefix of every tree)")
    elif mk.verify_consistency(old.size, size, old.root, root, tl.consistency_proof(old.size)):
        rep.checked.append(f"consistent with the older checkpoint of size {old.size}")
    else:
        rep.problems.append(
            f"split view: the checkpoint of size {size} is not consistent with the older "
            f"one of size {old.size}"
        )
