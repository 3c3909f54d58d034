"""A C2SP tlog-witness with C2SP tlog-cosignature/v1 cosignatures.

The witness remembers, per log origin, the latest checkpoint it cosigned. ``add_checkpoint``
follows c2sp.org/tlog-witness ``add-checkpoint`` exactly: 404 unknown origin, 403 no
signature by a trusted key of that origin, 400 old size larger than the checkpoint (or a
malformed request), 409 old size differs from the witness's record (the reply carries the
witness's size, served as ``text/x.tlog.size``), 409 also when the old size equals the
checkpoint size but the roots differ (a split view), 422 the consistency proof does not
verify. An old size of 0 needs an empty proof (the empty tree is a prefix of every tree).
Sizes are u64: a checkpoint or old size above 2^64-1 is malformed (400), never recorded.

Logs are known either by ``add_log`` (recorded in the state file) or from a trust policy
(:mod:`.policy`, passed as ``logs``): a policy log given by a raw key is known under any
origin whose checkpoint its key verifies with that origin as key name. A request that
proves misbehaviour (a validly signed checkpoint inconsistent with the record) is kept as
evidence (``evidence/<sha256(origin)>.json``, the latest per origin) before the refusal.

The new state is persisted (fsync, atomic rename) *before* the cosignature is returned,
and the check and the update happen under one lock (a thread lock plus ``flock`` on
``witness.lock`` across processes), so two requests can never roll the record back.

Cosignature (c2sp.org/tlog-cosignature): a note signature line whose key ID is
``SHA-256(name || 0x0A || 0x04 || pub)[:4]`` and whose signature field is
``u64 timestamp || Ed25519(cosignature/v1\\ntime <ts>\\n<checkpoint body>)``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from modelkin.errors import LedgerError
from modelkin.fsio import write_atomic
from modelkin.ledger import merkle as mk
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.checkpoint import parse_size

if TYPE_CHECKING:
    from modelkin.ledger.policy import LogKey

ALG_COSIGNATURE_V1 = 0x04
"""signed-note signature type of a timestamped Ed25519 cosignature/v1."""
MAX_PROOF = 63
STATE, KEYFILE = "witness.json", "witness.key"


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosigner_vkey(name: str, public: bytes) -> str:
    """Verifier key string of a cosigner (signature type 0x04)."""
    kid = _note.key_id(name, ALG_COSIGNATURE_V1, public)
    return f"{name}+{kid.hex()}+{_note.b64(bytes([ALG_COSIGNATURE_V1]) + public)}"


def cosign_line(signer: _note.Signer, body: str, timestamp: int | None = None) -> str:
    """A cosignature/v1 note signature line by ``signer`` over a checkpoint body (the key
    ID uses signature type 0x04, so the same Ed25519 key never doubles as a log key)."""
    ts = int(time.time()) if timestamp is None else timestamp
    kid = _note.key_id(signer.name, ALG_COSIGNATURE_V1, signer.verifier.public)
    sig = signer.sign_bytes(cosigned_message(body, ts))
    return f"\u2014 {signer.name} {_note.b64(kid + struct.pack('>Q', ts) + sig)}\n"


def verify_cosignature(checkpoint_note: str, vkey: str) -> int:
    """Check the cosignature by ``vkey`` on a note; returns its timestamp or raises."""
    v = _note.Verifier.parse(vkey)
    if v.alg != ALG_COSIGNATURE_V1:
        raise LedgerError("cosigner key", "not a cosignature/v1 (0x04) key")
    body, sigs = _note.split(checkpoint_note)
    for s in sigs:
        if s.name == v.name and s.key_hash == v.key_hash:
            if len(s.sig) != 72:
                raise LedgerError("cosignature", f"by {v.name} has the wrong length")
            (ts,) = struct.unpack(">Q", s.sig[:8])
            if not v.check(cosigned_message(body, ts), s.sig[8:]):
                raise LedgerError("cosignature", f"invalid cosignature by {v.name}")
            return int(ts)
    raise LedgerError("cosignature", f"no cosignature by {v.name}")


@dataclass
class AddResult:
    """Outcome of ``add-checkpoint``: HTTP-style ``status`` and what goes with it."""

    status: int
    cosignature: str | None = None
    size: int | None = None
    message: str = ""
    evidence: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200


class Witness:
    """A witness keeping its state in ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        name: str,
        key: Ed25519PrivateKey,
        logs: list[LogKey] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.name = name
        self._key = key
        self.public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_hash = _note.key_id(name, ALG_COSIGNATURE_V1, self.public)
        self._lock = threading.Lock()
        self.trusted: list[LogKey] = list(logs or [])

    @classmethod
    def init(cls, state_dir: Path, name: str) -> Witness:
        """Create a witness with a fresh key (``witness.key``, mode 0600)."""
        state_dir = Path(state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        keyf = state_dir / KEYFILE
        if keyf.exists():
            raise LedgerError(keyf, "a witness already exists here")
        signer = _note.Signer.generate(name)
        fd = os.open(keyf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(signer.private_text() + "\n")
        w = cls.load(state_dir)
        w._save({"logs": {}})
        return w

    @classmethod
    def load(cls, state_dir: Path, logs: list[LogKey] | None = None) -> Witness:
        """Open an existing witness directory (``logs``: extra trusted logs, e.g. from a
        policy, beside those recorded with :meth:`add_log`)."""
        keyf = Path(state_dir) / KEYFILE
        try:
            signer = _note.Signer.parse(keyf.read_text())
        except OSError as exc:
            raise LedgerError(keyf, "no witness here (run 'modelkin witness init')") from exc
        return cls(Path(state_dir), signer.name, signer._key, logs)

    @classmethod
    def open_or_init(cls, state_dir: Path, name: str, logs: list[LogKey] | None = None) -> Witness:
        """The witness in ``state_dir``, created with a fresh key named ``name`` if absent."""
        if not (Path(state_dir) / KEYFILE).exists():
            cls.init(state_dir, name)
        w = cls.load(state_dir, logs)
        if w.name != name:
            raise LedgerError(state_dir, f"the witness here is named {w.name!r}, not {name!r}")
        return w

    def vkey(self) -> str:
        """This witness's cosigner verifier key."""
        return cosigner_vkey(self.name, self.public)

    def _load(self) -> dict[str, dict[str, dict[str, object]]]:
        path = self.state_dir / STATE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {"logs": {}}
        except ValueError as exc:
            raise LedgerError(path, f"corrupt witness state ({exc})") from exc
        if not isinstance(data, dict) or not isinstance(data.get("logs"), dict):
            raise LedgerError(path, "corrupt witness state")
        return data

    def _save(self, state: dict[str, dict[str, dict[str, object]]]) -> None:
        write_atomic(self.state_dir / STATE, json.dumps(state, indent=1).encode())

    def _locked(self) -> int:
        fd = os.open(self.state_dir / "witness.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def add_log(self, vkey: str, origin: str | None = None) -> str:
        """Start witnessing a log (its origin defaults to the key name)."""
        v = _note.Verifier.parse(vkey)
        origin = origin or v.name
        with self._lock:
            fd = self._locked()
            try:
                st = self._load()
                if origin in st["logs"]:
                    raise LedgerError(origin, "log already known to this witness")
                st["logs"][origin] = {
                    "vkey": vkey.strip(),
                    "size": 0,
                    "root": _note.b64(mk.EMPTY_ROOT),
                    "checkpoint": "",
                }
                self._save(st)
            finally:
                os.close(fd)
        return origin

    def logs(self) -> dict[str, dict[str, object]]:
        """The witness's record per origin (vkey, size, root, last checkpoint)."""
        return self._load()["logs"]

    def cosign(self, body: str, timestamp: int | None = None) -> str:
        """A cosignature line over a checkpoint body."""
        ts = int(time.time()) if timestamp is None else timestamp
        sig = self._key.sign(cosigned_message(body, ts))
        blob = _note.b64(self.key_hash + struct.pack(">Q", ts) + sig)
        return f"\u2014 {self.name} {blob}\n"

    def _verifiers(self, rec: dict[str, object] | None, origin: str) -> list[_note.Verifier]:
        """Keys trusted for ``origin``: the recorded one, else the policy keys that may
        sign it; once a policy log is recorded under an origin, only its key is (an origin
        names one log: another key claiming it must not share, or reset, its record)."""
        if rec is not None and rec.get("vkey"):
            return [_note.Verifier.parse(str(rec["vkey"]))]
        return [lk.verifier(origin) for lk in self.trusted if lk.accepts(origin)]

    def _keep_evidence(self, origin: str, recorded: str, offered: str, problem: str) -> None:
        """Keep a proven-misbehaviour pair (both validly signed by the log)."""
        tag = hashlib.sha256(origin.encode()).hexdigest()
        doc = {"origin": origin, "problem": problem, "recorded": recorded, "offered": offered,
               "seen_at": int(time.time())}  # fmt: skip
        write_atomic(self.state_dir / "evidence" / f"{tag}.json", json.dumps(doc).encode())

    def add_checkpoint(self, old_size: int, proof: list[bytes], checkpoint_note: str) -> AddResult:
        """C2SP tlog-witness ``add-checkpoint`` (see module docstring for the codes)."""
        try:
            body, _ = _note.split(checkpoint_note)
            cp = parse_checkpoint(body)
        except LedgerError as exc:
            return AddResult(400, message=f"malformed checkpoint: {exc.problem}")
        if not 0 <= old_size <= mk.MAX_SIZE:
            return AddResult(400, message=f"old size {old_size} is not a u64")
        if len(proof) > MAX_PROOF:
            return AddResult(400, message="more than 63 proof hashes")
        with self._lock:
            fd = self._locked()
            try:
                st = self._load()
                rec = st["logs"].get(cp.origin)
                verifiers = self._verifiers(rec, cp.origin)
                if not verifiers:
                    return AddResult(404, message=f"unknown log origin {cp.origin!r}")
                signer = None
                for v in verifiers:  # ignore keys that did not sign; a bad signature fails
                    try:
                        _note.open_note(checkpoint_note, [v])
                        signer = v
                        break
                    except LedgerError as exc:
                        problem = exc.problem
                if signer is None:
                    return AddResult(403, message=problem)
                if old_size > cp.size:
                    return AddResult(
                        400, message=f"old size {old_size} > checkpoint size {cp.size}"
                    )
                if rec is None:  # a policy log seen for the first time: bind its key, size 0
                    rec = {"vkey": str(signer), "size": 0, "root": _note.b64(mk.EMPTY_ROOT),
                           "checkpoint": ""}  # fmt: skip
                known = int(str(rec["size"]))
                if old_size != known:
                    return AddResult(
                        409, size=known, message=f"witness has size {known}, not {old_size}"
                    )
                old_root = _note.unb64(str(rec["root"]), "witness state")
                if old_size == cp.size:
                    if proof:
                        return AddResult(422, message="equal sizes need an empty proof")
                    if cp.root != old_root:
                        problem = (
                            f"split view: a different root for size {cp.size} than the one "
                            "this witness cosigned"
                        )
                        if rec["checkpoint"]:
                            self._keep_evidence(
                                cp.origin, str(rec["checkpoint"]), checkpoint_note, problem
                            )
                        return AddResult(
                            409,
                            size=known,
                            message=problem,
                            evidence=[str(rec["checkpoint"]), checkpoint_note],
                        )
                    good = True
                elif old_size == 0:
                    good = not proof
                else:
                    good = mk.verify_consistency(old_size, cp.size, old_root, cp.root, proof)
                if not good:
                    problem = (
                        f"checkpoint of size {cp.size} is not consistent with the witnessed "
                        f"size {known} (split view or bad proof)"
                    )
                    if rec["checkpoint"] and proof:
                        self._keep_evidence(
                            cp.origin, str(rec["checkpoint"]), checkpoint_note, problem
                        )
                    return AddResult(
                        422, message=problem, evidence=[str(rec["checkpoint"]), checkpoint_note]
                    )
                rec.update(size=cp.size, root=_note.b64(cp.root), checkpoint=checkpoint_note)
                st["logs"][cp.origin] = rec
                self._save(st)  # persist before replying
            finally:
                os.close(fd)
        return AddResult(200, cosignature=self.cosign(body), size=cp.size)

    def evidence(self) -> list[dict[str, object]]:
        """Every kept misbehaviour record (one per origin, the latest)."""
        out: list[dict[str, object]] = []
        for p in sorted((self.state_dir / "evidence").glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):
                continue
        return out


def parse_request(text: str) -> tuple[int, list[bytes], str]:
    """Parse an ``add-checkpoint`` request body: ``old N``, proof lines, blank, checkpoint.

    Strict, as c2sp.org/tlog-witness writes it: decimal old size without leading zeros and
    at most 2^64-1, at most 63 base64 proof lines of 32-byte hashes."""
    where = "add-checkpoint"
    head, sep, cp = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or not lines[0].startswith("old "):
        raise LedgerError(where, "request must start with 'old <size>'")
    size = parse_size(lines[0][4:], where, "old size")
    if len(lines) - 1 > MAX_PROOF:
        raise LedgerError(where, "more than 63 proof lines")
    proof = [_note.unb64(x, where) for x in lines[1:]]
    if any(len(p) != 32 for p in proof):
        raise LedgerError(where, "proof lines must be 32-byte hashes")
    return size, proof, cp


def format_request(old_size: int, proof: list[bytes], checkpoint_note: str) -> str:
    """Render an ``add-checkpoint`` request body."""
    lines = [f"old {old_size}"] + [_note.b64(p) for p in proof]
    return "\n".join(lines) + "\n\n" + checkpoint_note
