"""C2SP tlog-checkpoint bodies: ``origin\\nsize\\nbase64(root)\\n`` plus extension lines.

The checkpoint is the note body a log signs (see :mod:`modelkin.ledger.note`); it commits
to one tree head. Parsing is strict (decimal size without leading zeros, 32-byte root)
because a lenient parser lets two texts mean one tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelkin.errors import LedgerError
from modelkin.ledger import note as _note
from modelkin.ledger.merkle import MAX_SIZE


def parse_size(text: str, where: str, what: str = "tree size") -> int:
    """A strict C2SP decimal: digits only, no leading zeros (``0`` itself allowed), at most
    2**64-1. A lenient parser would let two texts name one size."""
    if (
        not text.isascii()
        or not text.isdigit()
        or (text != "0" and text.startswith("0"))
        or len(text) > 20
    ):
        raise LedgerError(where, f"bad {what} {text[:30]!r}")
    value = int(text)
    if value > MAX_SIZE:
        raise LedgerError(where, f"{what} {text} is above 2^64-1")
    return value


@dataclass(frozen=True)
class Checkpoint:
    """One tree head: the log's origin line, tree size and root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The checkpoint text (the signed-note body)."""
        ext = "".join(line + "\n" for line in self.extensions)
        return f"{self.origin}\n{self.size}\n{_note.b64(self.root)}\n{ext}"


def parse(body: str, where: str = "checkpoint") -> Checkpoint:
    """Parse a checkpoint body (the text before the signatures)."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise LedgerError(where, "checkpoint needs origin, size and root lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin:
        raise LedgerError(where, "empty origin line")
    size = parse_size(size_s, where)
    root = _note.unb64(root_s, where)
    if len(root) != 32:
        raise LedgerError(where, f"root hash is {len(root)} bytes, want 32")
    ext = tuple(lines[3:-1])
    if any(not e for e in ext):
        raise LedgerError(where, "empty extension line")
    return Checkpoint(origin, size, root, ext)


def open_checkpoint(
    text: str, verifier: _note.Verifier, where: str = "checkpoint"
) -> tuple[Checkpoint, str]:
    """Verify a signed checkpoint note with the log's key; returns (checkpoint, body)."""
    body, _ = _note.open_note(text, [verifier], where)
    return parse(body, where), body
