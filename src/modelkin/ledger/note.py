"""C2SP signed-note: text signed by one or more Ed25519 keys.

A note is a UTF-8 body ending in a newline, a blank line, then signature lines
``— <name> base64(keyID[4] || signature)`` (U+2014, space). An Ed25519 key ID is
``SHA-256(name || 0x0A || 0x01 || pubkey)[:4]``; a verifier key is written
``name+hex(keyID)+base64(0x01 || pubkey)`` and a private key (Go's ``sumdb/note`` form)
``PRIVATE+KEY+name+hex(keyID)+base64(0x01 || seed)``. Verifiers ignore signatures by
unknown keys, but a signature by a known key that does not verify rejects the note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from modelkin.errors import LedgerError

ALG_ED25519 = 0x01
"""signed-note signature type for plain Ed25519."""
MAX_SIGNATURES = 100
"""C2SP requires accepting at least 16; more than this is treated as abuse."""
_DASH = "\u2014 "


def b64(data: bytes) -> str:
    """Standard base64 (RFC 4648 s. 4), as every C2SP text format uses."""
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, where: str) -> bytes:
    """Strict standard base64 decode; bad input is a :class:`LedgerError` naming ``where``."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise LedgerError(where, f"invalid base64 {text[:40]!r}") from exc


def _check_name(name: str, where: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise LedgerError(where, f"invalid key name {name!r} (no spaces or '+')")


def key_id(name: str, alg: int, pub: bytes) -> bytes:
    """signed-note key ID: SHA-256(name || 0x0A || alg || pub)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A public key that can check one name's signatures (``alg`` says which kind)."""

    name: str
    key_hash: bytes
    alg: int
    public: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse ``name+hex(keyID)+base64(alg || pub)``; checks the key ID matches."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise LedgerError("verifier key", f"malformed {vkey[:60]!r}")
        name, hexid, blob = parts
        _check_name(name, "verifier key")
        raw = unb64(blob, "verifier key")
        try:
            kid = bytes.fromhex(hexid)
        except ValueError as exc:
            raise LedgerError("verifier key", f"bad key id {hexid!r}") from exc
        if len(raw) != 33 or len(kid) != 4:
            raise LedgerError("verifier key", "expected a 32-byte Ed25519 key and 4-byte id")
        if key_id(name, raw[0], raw[1:]) != kid:
            raise LedgerError("verifier key", f"key id {hexid} does not match key {name}")
        return cls(name, kid, raw[0], raw[1:])

    def __str__(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}+{b64(bytes([self.alg]) + self.public)}"

    def check(self, msg: bytes, sig: bytes) -> bool:
        """Ed25519 verification of ``sig`` over ``msg``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(sig, msg)
        except (InvalidSignature, ValueError):
            return False
        return True


class Signer:
    """An Ed25519 signed-note signing key with its name."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        _check_name(name, "signing key")
        self.name = name
        self._key = private
        pub = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, key_id(name, ALG_ED25519, pub), ALG_ED25519, pub)

    @classmethod
    def generate(cls, name: str) -> Signer:
        """A fresh random key (OS CSPRNG)."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, skey: str) -> Signer:
        """Parse ``PRIVATE+KEY+name+hex(keyID)+base64(0x01 || seed)``."""
        parts = skey.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise LedgerError("signing key", "not a PRIVATE+KEY+... signed-note key")
        raw = unb64(parts[4], "signing key")
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise LedgerError("signing key", "expected an Ed25519 seed")
        signer = cls(parts[2], Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if signer.verifier.key_hash.hex() != parts[3]:
            raise LedgerError("signing key", "key id does not match the key")
        return signer

    def private_text(self) -> str:
        """The private key in Go ``sumdb/note`` text form (keep it secret, 0600)."""
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        blob = b64(bytes([ALG_ED25519]) + seed)
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_hash.hex()}+{blob}"

    def sign_bytes(self, msg: bytes) -> bytes:
        """Raw Ed25519 signature (64 bytes)."""
        return self._key.sign(msg)

    def signature_line(self, body: str) -> str:
        """One note signature line over ``body``."""
        sig = self.sign_bytes(body.encode())
        return f"{_DASH}{self.name} {b64(self.verifier.key_hash + sig)}\n"


def _check_body(body: str, where: str) -> None:
    if not body.endswith("\n"):
        raise LedgerError(where, "note text must end with a newline")
    for c in body:
        if (ord(c) < 0x20 and c != "\n") or ord(c) == 0x7F:
            raise LedgerError(where, "note text contains control characters")


def sign(body: str, *signers: Signer) -> str:
    """A signed note: ``body``, blank line, one signature line per signer."""
    _check_body(body, "note")
    return body + "\n" + "".join(s.signature_line(body) for s in signers)


@dataclass(frozen=True)
class Signature:
    """One parsed signature line."""

    name: str
    key_hash: bytes
    sig: bytes

    def line(self) -> str:
        """The signature line as it appears in a note."""
        return f"{_DASH}{self.name} {b64(self.key_hash + self.sig)}\n"


def split(note: str, where: str = "note") -> tuple[str, list[Signature]]:
    """Split a note into body text and parsed signature lines (nothing is verified)."""
    if len(note) > 1 << 20:
        raise LedgerError(where, "note larger than 1 MiB")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise LedgerError(where, "no blank line before the signatures")
    body, rest = note[: cut + 1], note[cut + 2 :]
    _check_body(body, where)
    if not rest.endswith("\n"):
        raise LedgerError(where, "signature block must end with a newline")
    sigs: list[Signature] = []
    for line in rest[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise LedgerError(where, f"malformed signature line {line[:60]!r}")
        name, _, blob = line[len(_DASH) :].partition(" ")
        _check_name(name, where)
        raw = unb64(blob, where)
        if len(raw) < 5:
            raise LedgerError(where, f"signature by {name} too short")
        sigs.append(Signature(name, raw[:4], raw[4:]))
    if not sigs:
        raise LedgerError(where, "note has no signatures")
    if len(sigs) > MAX_SIGNATURES:
        raise LedgerError(where, f"more than {MAX_SIGNATURES} signatures")
    return body, sigs


def open_note(note: str, verifiers: list[Verifier], where: str = "note") -> tuple[str, list[str]]:
    """Verify ``note``: returns (body, names that signed it) or raises :class:`LedgerError`.

    Signatures by unknown keys are ignored; a bad signature by a known key, or no
    signature by any known key, rejects the note."""
    body, sigs = split(note, where)
    known = {(v.name, v.key_hash): v for v in verifiers if v.alg == ALG_ED25519}
    ok: list[str] = []
    for s in sigs:
        v = known.get((s.name, s.key_hash))
        if v is None:
            continue
        if not v.check(body.encode(), s.sig):
            raise LedgerError(where, f"invalid signature by {s.name}")
        ok.append(s.name)
    if not ok:
        raise LedgerError(where, "no signature by a known key")
    return body, ok
