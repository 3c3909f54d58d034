"""What one running server holds: the open registry and a lock around the ledger.

The registry's SQL engine is safe to share between worker threads; the ledger is a single
object over one database connection (SQLite or PostgreSQL), so every call that reaches it
(submit, proofs, lineage, labels) goes through :attr:`ServerState.ledger_lock`. Writes are
serialised by the registry anyway: in-process by this lock, between processes (several
servers on one PostgreSQL database) by the registry's writer lock and the ledger's
advisory sequencer lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from modelkin.ledger import note as _note
from modelkin.ledger.cosigs import CosignatureStore, parse_witness_keys
from modelkin.registry import Registry, pages
from modelkin.server.budget import WorkGate
from modelkin.server.csrf import CsrfGuard
from modelkin.server.guards import RateLimiter
from modelkin.server.settings import ServerSettings

T = TypeVar("T")


@dataclass
class ServerState:
    """Shared per-app state (created in the lifespan, closed at shutdown)."""

    registry: Registry
    settings: ServerSettings
    limiter: RateLimiter
    work: WorkGate
    ledger_lock: threading.RLock = field(default_factory=threading.RLock)
    witnesses: list[_note.Verifier] = field(init=False)
    cosigs: CosignatureStore = field(init=False)
    csrf: CsrfGuard = field(init=False)
    _counts: tuple[int, dict[str, int]] = field(init=False, default=(-1, {}))
    federation: Any = None  # server.federation.Federation, set in the app's lifespan

    def __post_init__(self) -> None:
        self.witnesses = parse_witness_keys(self.settings.witnesses)
        self.cosigs = CosignatureStore(self.registry.home.ledger_dir / "cosignatures.json")
        self.csrf = CsrfGuard.for_home(self.registry.home.root)

    def kind_counts(self) -> dict[str, int]:
        """Active records per kind, recounted only when the registry has grown (the count
        is a scan; its key, the applied ledger size, is one indexed row)."""
        size = self.registry.applied_size()
        cached_size, counts = self._counts
        if cached_size != size:
            counts = pages.kind_counts(self.registry)
            self._counts = (size, counts)
        return counts

    @property
    def ledger(self) -> Any:
        return self.registry.ledger

    def publish_tiles(self) -> None:
        """The log grew: refresh the C2SP tlog-tiles directory (if the operator asked for
        one) and have the federation's witnesses cosign the new checkpoint."""
        if self.federation is not None:
            self.federation.notify()
        if self.settings.tiles_dir is not None:
            from modelkin.ledger.tiles import write_tiles

            with self.ledger_lock:
                write_tiles(self.ledger, self.settings.tiles_dir, history=False)

    def locked(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` holding the ledger lock."""
        with self.ledger_lock:
            return fn()
