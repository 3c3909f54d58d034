"""Witness policies in the Sigsum trust-policy format: which logs and witnesses a party
trusts, and how many cosignatures make a checkpoint count.

The file format is Sigsum's (``sigsum-policy``, sigsum-go ``pkg/policy``), line based,
``#`` comments, fields separated by white space, names defined before they are used::

    log <pubkey> [<url>]
    witness <name> <pubkey> [<url>]
    group <name> all|any|<k> <member>...
    quorum <name>                   # exactly once; "none" needs no cosignature

``<pubkey>`` is the raw Ed25519 public key in hex, as Sigsum writes it. C2SP signed notes
also need the key *name* (it is hashed into the key ID), which a raw key lacks, so:

- a log given by a raw key signs checkpoints under its origin (the C2SP convention: the
  log's key name is its origin line), so any origin is accepted whose signature verifies
  with that key and that name;
- a witness given by a raw key cosigns under its policy name (as the deployed witnesses
  do: ``witness.glasklar.is`` is both the policy name and the cosigner's key name).

Either key may instead be written as a C2SP vkey (``name+keyid+base64``; type 0x01 for
logs, 0x04 cosignature/v1 for witnesses), whose name then applies. URLs are used by the
parties that talk to each other: a log's URL is where its checkpoint and tiles are
fetched (mirrors, federated lookups, ``verify-remote``); a witness's URL is its
C2SP tlog-witness submission prefix (logs submit their checkpoints there).

A checkpoint *counts* only when the log's signature verifies with a policy log key and
the cosignatures that verify satisfy the quorum (:meth:`Policy.check`). Cosignatures by
keys the policy does not name are ignored; an invalid one by a named witness does not
count and is reported.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.errors import LedgerError
from modelkin.ledger import note as _note
from modelkin.ledger.checkpoint import Checkpoint
from modelkin.ledger.checkpoint import parse as parse_checkpoint

ALG_COSIGNATURE_V1 = 0x04
NONE = "none"
MAX_POLICY = 1 << 20
MAX_COSIGNATURE_AGE_S = 10 * 365 * 86400  # sanity bound only; freshness is the caller's


class PolicyError(LedgerError):
    """A policy file is malformed, or a checkpoint does not satisfy the policy."""


def _hex_key(text: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise PolicyError(where, f"{text[:40]!r} is not a hex Ed25519 key or a vkey") from None
    if len(raw) != 32:
        raise PolicyError(where, f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    return raw


def _key(text: str, alg: int, where: str) -> tuple[bytes, str | None]:
    """``(public key, key name or None)`` from a raw hex key or a vkey of type ``alg``."""
    if "+" not in text:
        return _hex_key(text, where), None
    try:
        v = _note.Verifier.parse(text)
    except LedgerError as exc:
        raise PolicyError(where, exc.problem) from None
    if v.alg != alg:
        kind = "log (0x01)" if alg == _note.ALG_ED25519 else "cosignature/v1 (0x04)"
        raise PolicyError(where, f"key {v.name} is not a {kind} key")
    return v.public, v.name


def _url(fields: list[str], where: str) -> str | None:
    if not fields:
        return None
    url = fields[0].rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise PolicyError(where, f"URL {fields[0]!r} must start with http:// or https://")
    return url


@dataclass(frozen=True)
class LogKey:
    """A log the policy trusts: its Ed25519 key, optional key name, optional URL."""

    public: bytes
    name: str | None = None
    url: str | None = None

    def accepts(self, origin: str) -> bool:
        """Whether this key may sign checkpoints of ``origin``."""
        return self.name is None or self.name == origin

    def verifier(self, origin: str) -> _note.Verifier:
        """The signed-note verifier for checkpoints of ``origin``."""
        name = self.name or origin
        kid = _note.key_id(name, _note.ALG_ED25519, self.public)
        return _note.Verifier(name, kid, _note.ALG_ED25519, self.public)

    def line(self) -> str:
        key = str(self.verifier(self.name)) if self.name is not None else self.public.hex()
        return " ".join(x for x in ("log", key, self.url or "") if x)


@dataclass(frozen=True)
class WitnessKey:
    """A witness: its policy name, cosigner key name, Ed25519 key and optional URL."""

    name: str
    key_name: str
    public: bytes
    url: str | None = None

    @property
    def verifier(self) -> _note.Verifier:
        kid = _note.key_id(self.key_name, ALG_COSIGNATURE_V1, self.public)
        return _note.Verifier(self.key_name, kid, ALG_COSIGNATURE_V1, self.public)

    @property
    def vkey(self) -> str:
        return str(self.verifier)

    def cosignature_time(self, body: str, sigs: list[_note.Signature]) -> int | None:
        """Timestamp of this witness's valid cosignature among ``sigs``, or None; raises
        :class:`PolicyError` when its line is present but does not verify."""
        v = self.verifier
        found = [s for s in sigs if s.name == v.name and s.key_hash == v.key_hash]
        for s in found:
            if len(s.sig) != 72:
                raise PolicyError(f"witness {self.name}", "cosignature has the wrong length")
            (ts,) = struct.unpack(">Q", s.sig[:8])
            if ts >= 1 << 63:
                raise PolicyError(f"witness {self.name}", "cosignature timestamp above 2^63-1")
            msg = f"cosignature/v1\ntime {ts}\n{body}".encode()
            if not v.check(msg, s.sig[8:]):
                raise PolicyError(f"witness {self.name}", "invalid cosignature")
            return int(ts)
        return None


@dataclass(frozen=True)
class Group:
    """``k`` of ``members`` (witness or group names) must vouch."""

    name: str
    threshold: int
    members: tuple[str, ...]


@dataclass
class Verdict:
    """What :meth:`Policy.check` found: the checkpoint, who vouched, and whether it counts."""

    checkpoint: Checkpoint
    body: str
    log: LogKey
    vouched: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)
    satisfied: bool = False
    quorum: str = NONE

    def describe(self) -> str:
        """One line for humans: which witnesses vouched and whether the quorum is met."""
        names = ", ".join(sorted(self.vouched)) or "no witness"
        state = "satisfied" if self.satisfied else "NOT satisfied"
        return f"quorum {self.quorum} {state}; vouched by {names}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.checkpoint.origin,
            "size": self.checkpoint.size,
            "root": _note.b64(self.checkpoint.root),
            "quorum": self.quorum,
            "satisfied": self.satisfied,
            "vouched_by": [{"witness": n, "timestamp": t} for n, t in sorted(self.vouched.items())],
            "invalid_cosignatures": self.invalid,
        }


@dataclass
class Policy:
    """A parsed trust policy (see the module docstring)."""

    logs: list[LogKey] = field(default_factory=list)
    witnesses: dict[str, WitnessKey] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    quorum: str = NONE
    source: str = "policy"

    # ---- parsing -------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, where: str = "policy") -> Policy:
        """Parse policy text; errors name ``where`` and the line number."""
        if len(text) > MAX_POLICY:
            raise PolicyError(where, "policy larger than 1 MiB")
        pol = cls(source=where)
        names: set[str] = {NONE}
        quorum: str | None = None
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0]
            fields = line.split()
            if not fields:
                continue
            at = f"{where}:{lineno}"
            kw, args = fields[0], fields[1:]
            if kw == "log":
                if not 1 <= len(args) <= 2:
                    raise PolicyError(at, "a log line is: log <pubkey> [<url>]")
                pub, name = _key(args[0], _note.ALG_ED25519, at)
                pol.logs.append(LogKey(pub, name, _url(args[1:], at)))
            elif kw == "witness":
                if not 2 <= len(args) <= 3:
                    raise PolicyError(at, "a witness line is: witness <name> <pubkey> [<url>]")
                wname = args[0]
                if wname in names:
                    raise PolicyError(at, f"duplicate name {wname!r}")
                pub, key_name = _key(args[1], ALG_COSIGNATURE_V1, at)
                key_name = key_name or wname
                if "+" in key_name:
                    raise PolicyError(at, f"witness name {key_name!r} cannot be a key name")
                names.add(wname)
                pol.witnesses[wname] = WitnessKey(wname, key_name, pub, _url(args[2:], at))
            elif kw == "group":
                if len(args) < 3:
                    raise PolicyError(at, "a group line is: group <name> all|any|<k> <member>...")
                gname, thr, members = args[0], args[1], tuple(args[2:])
                if gname in names:
                    raise PolicyError(at, f"duplicate name {gname!r}")
                for m in members:
                    if m not in names or m == NONE:
                        raise PolicyError(
                            at, f"undefined name {m!r} (define it on an earlier line)"
                        )
                if len(set(members)) != len(members):
                    raise PolicyError(at, f"group {gname!r} names a member twice")
                n = len(members)
                if thr == "any":
                    k = 1
                elif thr == "all":
                    k = n
                elif thr.isascii() and thr.isdigit() and not thr.startswith("0"):
                    k = int(thr)
                    if not 1 <= k <= n:
                        raise PolicyError(at, f"threshold {k} out of range 1..{n}")
                else:
                    raise PolicyError(at, f"threshold {thr!r} is not all, any or a number")
                names.add(gname)
                pol.groups[gname] = Group(gname, k, members)
            elif kw == "quorum":
                if len(args) != 1:
                    raise PolicyError(at, "a quorum line is: quorum <name>")
                if quorum is not None:
                    raise PolicyError(at, "quorum can only be set once")
                if args[0] not in names:
                    raise PolicyError(at, f"undefined name {args[0]!r}")
                quorum = args[0]
            else:
                raise PolicyError(at, f"unknown keyword {kw!r}")
        if quorum is None:
            raise PolicyError(where, "no quorum line (write 'quorum none' to need no witness)")
        pol.quorum = quorum
        return pol

    @classmethod
    def load(cls, path: Path | str) -> Policy:
        """Read and parse a policy file."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_POLICY:
                raise PolicyError(path, "policy larger than 1 MiB")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(path, f"cannot read the policy ({exc})") from exc
        return cls.parse(text, str(path))

    def text(self) -> str:
        """The policy in its file format (parses back to an equal policy)."""
        out = [lk.line() for lk in self.logs]
        for w in self.witnesses.values():
            key = w.public.hex() if w.key_name == w.name else w.vkey
            out.append(" ".join(x for x in ("witness", w.name, key, w.url or "") if x))
        for g in self.groups.values():
            k = "all" if g.threshold == len(g.members) else str(g.threshold)
            out.append(" ".join(["group", g.name, k, *g.members]))
        out.append(f"quorum {self.quorum}")
        return "\n".join(out) + "\n"

    @property
    def digest(self) -> str:
        """SHA-256 of :meth:`text`: names the policy a verdict was reached under."""
        return hashlib.sha256(self.text().encode()).hexdigest()

    # ---- evaluation ----------------------------------------------------------------
    def satisfied_by(self, vouched: set[str], name: str | None = None) -> bool:
        """Whether witnesses ``vouched`` satisfy ``name`` (default: the quorum)."""
        name = self.quorum if name is None else name
        if name == NONE:
            return True
        if name in self.witnesses:
            return name in vouched
        g = self.groups[name]
        return sum(self.satisfied_by(vouched, m) for m in g.members) >= g.threshold

    def logs_for(self, origin: str) -> list[LogKey]:
        """The policy's log keys that may sign ``origin``."""
        return [lk for lk in self.logs if lk.accepts(origin)]

    def log_verifier(self, note_text: str, where: str = "checkpoint") -> tuple[LogKey, str]:
        """Which policy log signed ``note_text`` (the signature must verify); returns the
        log key and the note body. Raises :class:`PolicyError` otherwise."""
        body, _ = _note.split(note_text, where)
        origin = body.split("\n", 1)[0]
        candidates = self.logs_for(origin)
        if not candidates:
            raise PolicyError(where, f"log {origin!r} is not in the policy")
        errors = []
        for lk in candidates:
            try:
                _note.open_note(note_text, [lk.verifier(origin)], where)
                return lk, body
            except LedgerError as exc:
                errors.append(exc.problem)
        raise PolicyError(where, f"not signed by a policy key of {origin!r} ({errors[0]})")

    def check(self, note_text: str, where: str = "checkpoint") -> Verdict:
        """Evaluate a (cosigned) checkpoint note against the policy; never raises for a
        checkpoint that is merely under-witnessed (``satisfied`` is False), raises
        :class:`PolicyError` when the log's own signature is missing or bad."""
        lk, body = self.log_verifier(note_text, where)
        cp = parse_checkpoint(body, where)
        _, sigs = _note.split(note_text, where)
        verdict = Verdict(cp, body, lk, quorum=self.quorum)
        for w in self.witnesses.values():
            try:
                ts = w.cosignature_time(body, sigs)
            except PolicyError as exc:
                verdict.invalid[w.name] = exc.problem
                continue
            if ts is not None:
                verdict.vouched[w.name] = ts
        verdict.satisfied = self.satisfied_by(set(verdict.vouched))
        return verdict

    def require(self, note_text: str, where: str = "checkpoint") -> Verdict:
        """:meth:`check`, raising :class:`PolicyError` unless the quorum is satisfied."""
        v = self.check(note_text, where)
        if not v.satisfied:
            raise PolicyError(where, f"checkpoint does not satisfy the policy: {v.describe()}")
        return v

    def to_json(self) -> dict[str, Any]:
        """The policy as JSON for the browser-side check (see ``static/policy.js``): every
        key with its signed-note key ID precomputed, groups and the quorum."""
        return {
            "format": "sigsum-policy",
            "digest": self.digest,
            "logs": [
                {"public_key": lk.public.hex(), "key_name": lk.name, "url": lk.url}
                for lk in self.logs
            ],
            "witnesses": [
                {
                    "name": w.name,
                    "key_name": w.key_name,
                    "public_key": w.public.hex(),
                    "key_id": w.verifier.key_hash.hex(),
                    "url": w.url,
                }
                for w in self.witnesses.values()
            ],
            "groups": [
                {"name": g.name, "threshold": g.threshold, "members": list(g.members)}
                for g in self.groups.values()
            ],
            "quorum": self.quorum,
        }


class PolicySet:
    """Several policies, one per log (or group of logs), used as one: a checkpoint is
    judged by the policy that names its log. Sigsum's format has one quorum per file;
    a federation where each log is witnessed by the *other* registries needs a quorum per
    log, so a client holds one file per log (``--policy`` repeated)."""

    def __init__(self, policies: list[Policy]) -> None:
        if not policies:
            raise PolicyError("policy", "no policy given")
        self.policies = list(policies)
        self.source = ", ".join(p.source for p in policies)

    @property
    def logs(self) -> list[LogKey]:
        return [lk for p in self.policies for lk in p.logs]

    @property
    def witnesses(self) -> dict[str, WitnessKey]:
        return {n: w for p in self.policies for n, w in p.witnesses.items()}

    @property
    def digest(self) -> str:
        return hashlib.sha256("".join(p.text() for p in self.policies).encode()).hexdigest()

    def _policy_for(self, note_text: str, where: str) -> tuple[Policy, LogKey, str]:
        body, _ = _note.split(note_text, where)
        origin = body.split("\n", 1)[0]
        first: PolicyError | None = None
        for p in self.policies:
            if not p.logs_for(origin):
                continue
            try:
                lk, body = p.log_verifier(note_text, where)
                return p, lk, body
            except PolicyError as exc:
                first = first or exc
        raise first or PolicyError(where, f"log {origin!r} is not in the policy")

    def log_verifier(self, note_text: str, where: str = "checkpoint") -> tuple[LogKey, str]:
        _, lk, body = self._policy_for(note_text, where)
        return lk, body

    def check(self, note_text: str, where: str = "checkpoint") -> Verdict:
        p, _, _ = self._policy_for(note_text, where)
        return p.check(note_text, where)

    def require(self, note_text: str, where: str = "checkpoint") -> Verdict:
        p, _, _ = self._policy_for(note_text, where)
        return p.require(note_text, where)

    def own(self, public: bytes) -> Policy | None:
        """The policy that names the log with this key (its witnesses cosign that log)."""
        return next((p for p in self.policies if any(lk.public == public for lk in p.logs)), None)

    def text(self) -> str:
        return "\n".join(f"# {p.source}\n{p.text()}" for p in self.policies)

    def to_json(self) -> dict[str, Any]:
        return {"format": "sigsum-policy-set", "digest": self.digest,
                "policies": [p.to_json() for p in self.policies]}  # fmt: skip


Trust = Policy | PolicySet
"""What checkpoint consumers accept: one policy file or a set (one per log)."""


def load_trust(paths: list[Path]) -> Trust:
    """One policy file as a :class:`Policy`, several as a :class:`PolicySet`."""
    pols = [Policy.load(p) for p in paths]
    return pols[0] if len(pols) == 1 else PolicySet(pols)
