"""OpenSSF Model Signing (OMS) v1.0 bundles: parse, check the signed statement, build one.

Format (model-transparency's ``model_signing`` 1.x, which is what labs use): a Sigstore
bundle (media type ``application/vnd.dev.sigstore.bundle.v0.3+json``) whose
``dsseEnvelope`` holds an in-toto Statement v1 (payload type ``application/vnd.in-toto+json``)
with predicate type ``https://model_signing/signature/v1.0``. The predicate has
``serialization`` (``method`` ``files`` or ``shards``, ``hash_type``, ``allow_symlinks``,
``ignore_paths``) and ``resources``: one ``{name, algorithm, digest}`` per file. The
statement's single subject digest is SHA-256 over the concatenated raw resource digests in
the listed order. The DSSE signature covers PAE(payload type, payload) (DSSE v1 protocol).

Everything here is pure parsing and hashing (``json``, ``base64``, ``hashlib``): which key
or certificate may sign is decided in :mod:`modelkin.oms.verify`. A bundle is hostile
input: its size is bounded, every field is type-checked, and a problem is an
:class:`OmsError` naming the bundle file and the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError

BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
#: model_signing's default ignore list (its ``hashing.Config`` defaults)
DEFAULT_IGNORED = (".git", ".gitattributes", ".github", ".gitignore")
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class OmsError(ModelkinError):
    """An OMS bundle is malformed, wrongly signed, untrusted or does not match the files."""


@dataclass(frozen=True)
class Resource:
    """One signed file: its path relative to the model root and its SHA-256 (hex)."""

    name: str
    sha256: str


@dataclass(frozen=True)
class Bundle:
    """A parsed bundle: the DSSE parts, the verification material, the raw document."""

    payload: bytes
    payload_type: str
    signature: bytes
    material: dict[str, Any]
    raw: bytes = field(repr=False)
    where: str = "bundle"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class SignedModel:
    """What an OMS statement signs: the model's name, root digest, files and ignore list."""

    name: str
    subject_digest: str
    resources: tuple[Resource, ...]
    ignore_paths: tuple[str, ...]
    allow_symlinks: bool


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 SP len(type) SP type SP len(body) SP body``."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _b64(value: Any, what: str, where: str) -> bytes:
    if not isinstance(value, str):
        raise OmsError(where, f"{what} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise OmsError(where, f"{what} is not valid base64") from None


def parse_bundle(raw: bytes, where: str = "bundle") -> Bundle:
    """Parse a bundle's JSON; checks shape only (no signature is checked here)."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise OmsError(where, f"bundle is {len(raw)} bytes, more than {MAX_BUNDLE_BYTES}")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise OmsError(where, f"not a JSON Sigstore bundle: {exc}") from None
    if not isinstance(doc, dict):
        raise OmsError(where, "bundle must be a JSON object")
    media = doc.get("mediaType")
    if media != BUNDLE_MEDIA_TYPE:
        raise OmsError(where, f"mediaType {media!r} is not {BUNDLE_MEDIA_TYPE!r}")
    env = doc.get("dsseEnvelope")
    if not isinstance(env, dict):
        raise OmsError(where, "no dsseEnvelope: not an OMS model signature")
    sigs = env.get("signatures")
    if not isinstance(sigs, list) or len(sigs) != 1 or not isinstance(sigs[0], dict):
        raise OmsError(where, "dsseEnvelope must carry exactly one signature")
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        raise OmsError(where, "no verificationMaterial")
    payload_type = env.get("payloadType")
    if payload_type != INTOTO_PAYLOAD_TYPE:
        raise OmsError(where, f"payloadType {payload_type!r} is not {INTOTO_PAYLOAD_TYPE!r}")
    return Bundle(
        payload=_b64(env.get("payload"), "dsseEnvelope.payload", where),
        payload_type=payload_type,
        signature=_b64(sigs[0].get("sig"), "dsseEnvelope.signatures[0].sig", where),
        material=material,
        raw=raw,
        where=where,
    )


def read_bundle(path: Path) -> Bundle:
    """Read and parse a bundle file (bounded size)."""
    try:
        size = path.stat().st_size
        if size > MAX_BUNDLE_BYTES:
            raise OmsError(path, f"bundle is {size} bytes, more than {MAX_BUNDLE_BYTES}")
        raw = path.read_bytes()
    except OSError as exc:
        raise OmsError(path, f"cannot read bundle: {exc.strerror or exc}") from None
    return parse_bundle(raw, str(path))


def root_digest(resources: tuple[Resource, ...] | list[Resource]) -> str:
    """OMS subject digest: SHA-256 over the raw resource digests, in the listed order."""
    h = hashlib.sha256()
    for r in resources:
        h.update(bytes.fromhex(r.sha256))
    return h.hexdigest()


def signed_model(bundle: Bundle) -> SignedModel:
    """The statement inside a bundle whose signature has been verified, checked for shape.

    Refuses what modelkin cannot compare with its own manifest: shard serialisation and
    digests other than SHA-256 (the registry's manifest is whole-file SHA-256)."""
    where = bundle.where
    try:
        st = json.loads(bundle.payload)
    except (UnicodeDecodeError, ValueError):
        raise OmsError(where, "signed payload is not JSON") from None
    if not isinstance(st, dict) or st.get("_type") != STATEMENT_TYPE:
        raise OmsError(where, f"signed payload is not an in-toto {STATEMENT_TYPE} statement")
    if st.get("predicateType") != PREDICATE_TYPE:
        raise OmsError(
            where, f"predicateType {st.get('predicateType')!r} is not {PREDICATE_TYPE!r}"
        )
    subjects = st.get("subject")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise OmsError(where, "statement must have exactly one subject")
    subj = subjects[0]
    digest = (
        (subj.get("digest") or {}).get("sha256") if isinstance(subj.get("digest"), dict) else None
    )
    if not isinstance(digest, str) or not _HEX64.match(digest):
        raise OmsError(where, "subject digest sha256 missing or not 64 lower-case hex digits")
    pred = st.get("predicate")
    if not isinstance(pred, dict):
        raise OmsError(where, "statement has no predicate object")
    ser = pred.get("serialization")
    if not isinstance(ser, dict):
        raise OmsError(where, "predicate has no serialization object")
    if ser.get("method") != "files":
        raise OmsError(
            where,
            f"serialization method {ser.get('method')!r} is not supported: modelkin compares "
            "whole-file digests (sign with model_signing's default 'files' method)",
        )
    if ser.get("hash_type") != "sha256":
        raise OmsError(where, f"hash_type {ser.get('hash_type')!r} is not sha256")
    ignore = ser.get("ignore_paths", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise OmsError(where, "serialization.ignore_paths must be a list of strings")
    items = pred.get("resources")
    if not isinstance(items, list) or not items:
        raise OmsError(where, "predicate lists no resources")
    resources: list[Resource] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise OmsError(where, f"resources[{n}] is not an object")
        name, algo, hexd = item.get("name"), item.get("algorithm"), item.get("digest")
        if not isinstance(name, str) or not name or name.startswith("/") or ".." in name.split("/"):
            raise OmsError(where, f"resources[{n}].name {name!r} is not a relative path")
        if algo != "sha256" or not isinstance(hexd, str) or not _HEX64.match(hexd):
            raise OmsError(where, f"resources[{n}] ({name}): digest is not a sha256 hex digest")
        if name in seen:
            raise OmsError(where, f"resources list {name} twice")
        seen.add(name)
        resources.append(Resource(name, hexd))
    computed = root_digest(resources)
    if computed != digest:
        raise OmsError(
            where, f"subject digest {digest} does not match its resources (computed {computed})"
        )
    return SignedModel(
        name=str(subj.get("name") or ""),
        subject_digest=digest,
        resources=tuple(resources),
        ignore_paths=tuple(ignore),
        allow_symlinks=bool(ser.get("allow_symlinks", False)),
    )


def statement_payload(
    model_name: str, files: list[tuple[str, str]], ignore_paths: tuple[str, ...]
) -> bytes:
    """The in-toto statement model_signing would sign for ``files`` ((name, sha256) pairs).

    Resources sorted by name, as model_signing's manifests are; the bytes returned are what
    goes into the DSSE envelope (and what the signature covers)."""
    resources = [Resource(n, d) for n, d in sorted(files)]
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": model_name, "digest": {"sha256": root_digest(resources)}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": False,
                "ignore_paths": list(ignore_paths),
            },
            "resources": [
                {"name": r.name, "algorithm": "sha256", "digest": r.sha256} for r in resources
            ],
        },
    }
    return json.dumps(statement, separators=(",", ":")).encode("utf-8")


def is_ignored(name: str, ignore_paths: tuple[str, ...]) -> bool:
    """Whether a file (POSIX path relative to the model root) is under an ignored path."""
    return any(name == p.strip("/") or name.startswith(p.strip("/") + "/") for p in ignore_paths)
