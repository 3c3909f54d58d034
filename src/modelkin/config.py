"""Where modelkin keeps its embedded default state.

One data directory holds everything a single-machine registry needs: the ledger (SQLite),
the registry database (SQLite), a content-addressed blob store, fingerprints and keys. It is
``$MODELKIN_HOME`` if set, else ``$XDG_DATA_HOME/modelkin``, else ``~/.local/share/modelkin``,
and is created on first use. Every command that touches state also takes an explicit
``--home`` so tests and servers never share state by accident.

Beyond one machine, ``$MODELKIN_DB_URL`` (or ``--db-url``) names a PostgreSQL database,
``postgresql+psycopg://user:password@host:port/dbname``, that then holds both the registry
tables and the ledger's rows; the home still holds the ledger's signing key, its
``signed.state`` record and the blobs, so servers sharing a database share the home too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    """The data directory used when none is given."""
    env = os.environ.get("MODELKIN_HOME")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "modelkin"


DB_URL_ENV = "MODELKIN_DB_URL"


def default_db_url() -> str | None:
    """The database URL from ``$MODELKIN_DB_URL``, or None for the SQLite files in the home."""
    return os.environ.get(DB_URL_ENV) or None


@dataclass(frozen=True)
class Home:
    """Paths inside one data directory (created lazily by the components that own them)."""

    root: Path

    @classmethod
    def resolve(cls, root: str | Path | None = None) -> Home:
        return cls(Path(root) if root is not None else default_home())

    @property
    def ledger_dir(self) -> Path:
        """The transparency log: ``log.db`` (SQLite) and the log's signing key."""
        return self.root / "ledger"

    @property
    def registry_db(self) -> Path:
        """The registry's SQLite database (rebuildable from the ledger)."""
        return self.root / "registry.db"

    @property
    def blobs_dir(self) -> Path:
        """Content-addressed blobs (``sha256/<hex>``): large envelopes, fingerprints, curves."""
        return self.root / "blobs"

    @property
    def keys_dir(self) -> Path:
        """Ed25519 identities created with ``modelkin keys new``."""
        return self.root / "keys"

    @property
    def search_dir(self) -> Path:
        """The 1:N search index (a rebuildable cache of the registry's fingerprints)."""
        return self.root / "search"

    def ensure(self) -> Home:
        """Create the root directory (components create their own subdirectories)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self
