"""What a server runs to take part in a federation, started and stopped with the app.

From the operator's settings (:class:`.settings.ServerSettings`):

- the trust **policy** (Sigsum format): peer logs with their URLs, witnesses with their
  URLs, the quorum. The server's own log is recognised in it by its key;
- a **witness** (``witness_dir``): a C2SP tlog-witness for every *other* log of the policy,
  answering ``POST /add-checkpoint``;
- a **submitter**: after every append (and every ``witness_interval`` seconds) the log's
  latest checkpoint goes to every witness of the policy that has a URL; once a quorum has
  cosigned one, it becomes the checkpoint the server serves (``GET /checkpoint``) and the
  one its proofs carry;
- **mirrors**: logs followed over their tlog-tiles interface, verified, and served
  read-only under ``/mirror/<sha256(origin)>/`` (c2sp.org/tlog-mirror's layout).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelkin.errors import LedgerError
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.mirror import Mirror, origin_hash
from modelkin.ledger.policy import LogKey, Policy, PolicySet, Trust
from modelkin.ledger.witness import Witness
from modelkin.ledger.witnessing import WitnessSubmitter
from modelkin.server.settings import ServerSettings


class Federation:
    """The federation parts of one server (each optional)."""

    def __init__(self, settings: ServerSettings, home: Path, registry: Any, lock: Any) -> None:
        self.settings = settings
        self._registry = registry  # its ledger object is reopened around writes: never cache it
        self._lock = lock
        ledger = registry.ledger
        pols = [Policy.load(p) for p in settings.policies]
        self.policy: Trust | None = None
        if pols:
            self.policy = pols[0] if len(pols) == 1 else PolicySet(pols)
        own = _note.Verifier.parse(ledger.verifier_key())
        self.origin = own.name
        self.own_key = LogKey(own.public, own.name)
        # the policy naming this log says which witnesses cosign it, and its quorum
        self.own_policy = next(
            (p for p in pols if any(lk.public == own.public for lk in p.logs)), None
        )
        others = [lk for p in pols for lk in p.logs if lk.public != own.public]
        self.peers = [lk.url for lk in others if lk.url]
        self.witness: Witness | None = None
        if settings.witness_dir is not None:
            name = settings.witness_name
            if not name:
                raise LedgerError("--witness-dir", "a witness needs a name (--witness-name)")
            self.witness = Witness.open_or_init(settings.witness_dir, name, logs=others)
        self.submitter: WitnessSubmitter | None = None
        if self.own_policy is not None and any(w.url for w in self.own_policy.witnesses.values()):
            self.submitter = WitnessSubmitter(Path(ledger.directory), self.own_policy)
        self.mirrors: dict[str, Mirror] = {}
        for url in settings.mirrors:
            if self.policy is None:
                raise LedgerError("--mirror", "mirroring needs a --policy naming the log's key")
            d = home / "mirrors" / hashlib.sha256(url.encode()).hexdigest()[:16]
            mname = f"{settings.witness_name}-mirror" if settings.witness_name else None
            self.mirrors[url] = Mirror(d, url, self.policy, mname)

    # ---- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        if self.submitter is not None:
            self.submitter.start(self.latest, self.settings.witness_interval)
        for m in self.mirrors.values():
            m.start(self.settings.mirror_interval)

    def stop(self) -> None:
        if self.submitter is not None:
            self.submitter.stop()
        for m in self.mirrors.values():
            m.stop()

    def notify(self) -> None:
        """The log grew: have the witnesses cosign its new checkpoint."""
        if self.submitter is not None:
            self.submitter.notify()

    # ---- the log's checkpoints and proofs ------------------------------------------
    def _proof(self, old: int, new: int) -> list[bytes]:
        with self._lock:
            return list(self._registry.ledger.consistency_proof(old, new))

    def latest(self) -> tuple[str, Callable[[int, int], list[bytes]]]:
        with self._lock:
            return str(self._registry.ledger.checkpoint()), self._proof

    def witnessed(self) -> str | None:
        return self.submitter.witnessed() if self.submitter is not None else None

    def served(self) -> str | None:
        """The checkpoint to serve: the newest one the policy's quorum cosigned."""
        return self.witnessed()

    def proof_source(self, min_size: int, wait: float = 0.0) -> tuple[str, int]:
        """A checkpoint covering ``min_size`` entries: the witnessed one when it does
        (waiting up to ``wait`` seconds for the witnesses), else the latest."""
        note = None
        if self.submitter is not None:
            note = self.submitter.wait_witnessed(min_size, wait) if wait else self.witnessed()
        if note is not None:
            size = parse_checkpoint(_note.split(note)[0]).size
            if size >= min_size:
                return note, size
        with self._lock:
            latest = str(self._registry.ledger.checkpoint())
        return latest, parse_checkpoint(_note.split(latest)[0]).size

    def mirror(self, ohash: str) -> Mirror | None:
        for m in self.mirrors.values():
            origin = m.reader.origin()
            if origin is not None and origin_hash(origin) == ohash:
                return m
        return None

    def status(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "policy": self.policy.to_json() if self.policy else None,
            "peers": self.peers,
            "witness": (
                {"vkey": self.witness.vkey(), "logs": self.witness.logs()} if self.witness else None
            ),
            "witnessing": self.submitter.status() if self.submitter else None,
            "witnessed_checkpoint": self.witnessed(),
            "mirrors": [mirror_status(m) for m in self.mirrors.values()],
        }


def mirror_status(m: Mirror) -> dict[str, Any]:
    """One mirror as the API lists it."""
    origin = m.reader.origin()
    return {
        "url": m.url,
        "origin": origin,
        "prefix": f"/mirror/{origin_hash(origin)}" if origin else None,
        "size": m.reader.size(),
        "cosigner": m.cosigner_vkey(),
        "last": m.last.to_dict() if m.last else None,
        "alarm": m.alarm(),
    }
