"""An inclusion proof as a page shows it: every step of the audit path, checked here.

A record page does not ask the reader to trust a "✓": it lists the leaf hash of the ledger
entry, each sibling hash with the side it joins from and the hash that results, and the root
this yields beside the root the log signed in its checkpoint. The server checks the
checkpoint's signature with the log key and the path (RFC 9162 s. 2.1.3.2, the same
algorithm as :func:`modelkin.ledger.merkle.root_from_inclusion`); ``/static/proof.js``
repeats the path check in the reader's browser from the entry bytes the page carries, so a
server that lied in its own "✓" would be caught by the page it served.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.ledger.checkpoint import open_checkpoint
from modelkin.ledger.merkle import inclusion_steps, leaf_hash
from modelkin.ledger.note import Verifier
from modelkin.registry.core import checkpoint_size
from modelkin.server.state import ServerState

#: Entries above this size are not embedded in the page (the browser then checks the path
#: from the leaf hash the server states, and says so).
MAX_EMBEDDED_ENTRY = 256 << 10


@dataclass
class Step:
    """One level of the audit path: the sibling joins from ``side``; ``result`` is the hash."""

    side: str  # "left" | "right"
    sibling: str
    result: str


@dataclass
class ProofView:
    index: int
    tree_size: int
    checkpoint: str
    origin: str
    log_key: str
    entry_b64: str | None
    entry_bytes: int
    leaf: str
    steps: list[Step] = field(default_factory=list)
    computed_root: str = ""
    signed_root: str = ""
    signature_ok: bool = False
    path_ok: bool = False
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.signature_ok and self.path_ok

    @property
    def path_hex(self) -> str:
        return " ".join(s.sibling for s in self.steps)


def walk(index: int, size: int, leaf: bytes, proof: list[bytes]) -> tuple[list[Step], bytes | None]:
    """The steps of RFC 9162 s. 2.1.3.2 and the root, or ``None`` for a malformed proof."""
    steps, root = inclusion_steps(index, size, leaf, proof)
    return [Step(side, sib.hex(), r.hex()) for side, sib, r in steps], root


def proof_view(state: ServerState, index: int) -> ProofView:
    """Gather and check the inclusion proof of ledger entry ``index`` (one locked read)."""

    def gather() -> tuple[str, int, bytes, list[bytes], str]:
        checkpoint = str(state.ledger.checkpoint())
        size = checkpoint_size(checkpoint)
        entry = bytes(state.ledger.entry(index))
        proof = [bytes(h) for h in state.ledger.inclusion_proof(index, size)]
        return checkpoint, size, entry, proof, str(state.ledger.verifier_key())

    checkpoint, size, entry, proof, vkey = state.locked(gather)
    leaf = leaf_hash(entry)
    view = ProofView(
        index=index,
        tree_size=size,
        checkpoint=checkpoint,
        origin=checkpoint.split("\n", 1)[0],
        log_key=vkey,
        entry_b64=base64.b64encode(entry).decode() if len(entry) <= MAX_EMBEDDED_ENTRY else None,
        entry_bytes=len(entry),
        leaf=leaf.hex(),
    )
    steps, root = walk(index, size, leaf, proof)
    view.steps = steps
    view.computed_root = root.hex() if root is not None else ""
    try:
        cp, _ = open_checkpoint(checkpoint, Verifier.parse(vkey), "the log's checkpoint")
    except ModelkinError as exc:
        view.problem = str(exc)
        return view
    view.signature_ok = cp.size == size
    view.signed_root = cp.root.hex()
    view.path_ok = root is not None and root == cp.root
    if not view.path_ok:
        view.problem = "the audit path does not lead to the signed root"
    return view


def as_dict(view: ProofView) -> dict[str, Any]:
    """For tests and templates that want plain data."""
    return {
        "index": view.index,
        "tree_size": view.tree_size,
        "leaf": view.leaf,
        "steps": [s.__dict__ for s in view.steps],
        "computed_root": view.computed_root,
        "signed_root": view.signed_root,
        "ok": view.ok,
    }
