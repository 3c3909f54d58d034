"""Ed25519 identities: who signs statements.

A registrant holds a private key on disk (mode 0600); anyone verifies with the public key,
which is itself published in the ledger as an identity statement. The key id is the hex
sha256 of the 32-byte raw public key, so it can be recomputed from the key alone and never
depends on the (free-text, collision-prone) name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from modelkin.errors import ModelkinError, StatementError

KEYFILE_VERSION = "modelkin-identity/v1"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_KEYFILE = 64 * 1024


def keyid_of(public_key: Ed25519PublicKey) -> str:
    """Hex sha256 of the raw public key bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def check_name(name: str) -> str:
    """Identity names double as file names and CLI arguments: keep them plain."""
    if not _NAME_RE.match(name):
        raise ModelkinError(
            name, "identity name must be 1-64 characters of letters, digits, '.', '_' or '-'"
        )
    return name


def load_public_key_pem(pem: str, where: str = "public key") -> Ed25519PublicKey:
    """Parse a PEM SubjectPublicKeyInfo that must hold an Ed25519 key."""
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise StatementError(where, f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise StatementError(where, "public key is not Ed25519")
    return key


@dataclass(frozen=True)
class PublicIdentity:
    """A verifier's view of an identity: name and public key, no secret."""

    name: str
    public_key: Ed25519PublicKey

    @property
    def keyid(self) -> str:
        return keyid_of(self.public_key)

    @property
    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature over ``message``."""
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_pem(cls, name: str, pem: str) -> PublicIdentity:
        return cls(name, load_public_key_pem(pem, f"identity {name}"))


@dataclass(frozen=True)
class Identity(PublicIdentity):
    """An identity with its private key: can sign."""

    private_key: Ed25519PrivateKey | None = None

    @classmethod
    def generate(cls, name: str) -> Identity:
        priv = Ed25519PrivateKey.generate()
        return cls(check_name(name), priv.public_key(), priv)

    def sign(self, message: bytes) -> bytes:
        if self.private_key is None:  # pragma: no cover - constructed only with a key
            raise ModelkinError(self.name, "identity has no private key")
        return self.private_key.sign(message)

    def public(self) -> PublicIdentity:
        return PublicIdentity(self.name, self.public_key)

    def save(self, path: str | Path) -> Path:
        """Write the keyfile (JSON with a PKCS#8 PEM private key) readable by the owner only."""
        if self.private_key is None:  # pragma: no cover
            raise ModelkinError(self.name, "identity has no private key")
        path = Path(path)
        if path.exists():
            raise ModelkinError(path, "key file already exists; refusing to overwrite a key")
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")
        body = json.dumps(
            {"format": KEYFILE_VERSION, "name": self.name, "keyid": self.keyid, "private_key": pem},
            indent=2,
        )
        # O_EXCL + 0600 at creation: the secret is never briefly world-readable.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Identity:
        """Read a keyfile written by :meth:`save`; checks the stored key id matches the key."""
        path = Path(path)
        try:
            if path.stat().st_size > _MAX_KEYFILE:
                raise ModelkinError(path, "key file is too large to be a modelkin key")
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ModelkinError(path, "key file not found") from exc
        except (OSError, ValueError) as exc:
            raise ModelkinError(path, f"unreadable key file: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != KEYFILE_VERSION:
            raise ModelkinError(path, f"not a {KEYFILE_VERSION} key file")
        try:
            priv = serialization.load_pem_private_key(str(data["private_key"]).encode(), None)
        except (KeyError, ValueError, TypeError) as exc:
            raise ModelkinError(path, f"bad private key: {exc}") from exc
        if not isinstance(priv, Ed25519PrivateKey):
            raise ModelkinError(path, "private key is not Ed25519")
        ident = cls(check_name(str(data.get("name", ""))), priv.public_key(), priv)
        if data.get("keyid") != ident.keyid:
            raise ModelkinError(path, "stored keyid does not match the private key")
        return ident
