"""Operator settings for one server: who may write, how fast, and how much at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ServerSettings:
    """Knobs an operator sets; the defaults suit a single-machine registry.

    ``tokens`` maps API token -> organisation. When it is non-empty every write needs
    ``Authorization: Bearer <token>`` *in addition to* a valid DSSE signature from a
    registered key: the signature proves who signed, the token proves the operator admitted
    that organisation, and the DSSE signer's registered organisation must be the token's
    (see :mod:`.orgs`). Reads are always public.

    ``witnesses`` are signed-note verifier keys (cosignature/v1) of witnesses the operator
    trusts: their cosignatures are accepted, stored and served with the checkpoint.
    """

    tokens: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = 1 << 20
    max_upload_bytes: int = 32 << 20
    writes_per_minute: int = 120
    ui_signer: Path | None = None
    tiles_dir: Path | None = None
    witnesses: tuple[str, ...] = ()

    def organisation_for(self, token: str | None) -> str | None:
        """The organisation a token belongs to, or None if unknown."""
        if token is None:
            return None
        return self.tokens.get(token)
