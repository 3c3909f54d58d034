"""The registry operator's verifier key: who signs the registry's own lineage checks.

Kept in the home (``<home>/verifier/key.json``, 0600), created on first need and registered
in the ledger as an ordinary identity (``verifier-<keyid prefix>``), so every verification
it signs can be checked by anyone holding the log. A registry trusts this key's statements
to decide a claim's status (:mod:`.verdicts`); anyone else's are shown as theirs.
"""

from __future__ import annotations

from pathlib import Path

from modelkin.config import Home
from modelkin.errors import ModelkinError
from modelkin.statements.identity import Identity


def key_path(home: Home) -> Path:
    return home.root / "verifier" / "key.json"


def existing_keyid(home: Home) -> str | None:
    """The verifier's keyid, or None when this home has no verifier key yet."""
    path = key_path(home)
    return Identity.load(path).keyid if path.exists() else None


def load_or_create(home: Home) -> Identity:
    """The verifier identity, created (with a name derived from its key) on first use."""
    path = key_path(home)
    if path.exists():
        return Identity.load(path)
    fresh = Identity.generate("verifier")
    ident = Identity(f"verifier-{fresh.keyid[:16]}", fresh.public_key, fresh.private_key)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        ident.save(path)
    except ModelkinError:
        if not path.exists():
            raise
        return Identity.load(path)  # another process sharing this home made it first
    return ident
