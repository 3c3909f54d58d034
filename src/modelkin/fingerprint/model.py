"""The :class:`Fingerprint`: what the forensic tests need to know about one model.

It is plain data (a JSON tree) so that it is stable, versioned and diffable. On disk it is
gzip-compressed canonical JSON (RFC 8785) with a zero gzip timestamp, so the same model,
mode and seed always give the same bytes; :meth:`Fingerprint.digest` hashes the canonical
JSON, not the gzip stream.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785

from modelkin.errors import ModelkinError

#: Version of the fingerprint layout written by this modelkin. Version 2 adds full-width
#: unit features (``a_full``/``b_full``); version 1 files lack only those optional fields,
#: so they are still read (the hidden-basis recovery is then skipped). Version 3 adds the
#: optional per-role ``grid`` (quantization-grid trace, :func:`~modelkin.fingerprint.stats.
#: grid_signature`) and per-layer head circuits (``units[L]["circuits"]``); older files lack
#: only those, so a converted model is then called ``derived`` (never a false ``related``).
FINGERPRINT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
#: Largest fingerprint file (compressed and uncompressed) accepted by :meth:`load`.
MAX_FINGERPRINT_BYTES = 64 * 1024 * 1024
_MAGIC = b"\x1f\x8b"
_REQUIRED = ("version", "mode", "seed", "format", "files", "structure", "roles")


@dataclass
class Fingerprint:
    """A model's fingerprint.

    ``files`` maps file name to ``{"size", "sha256"}`` (``sha256`` is None for large files
    in fast mode); ``tensors`` maps tensor name to the sha256 of its float32 values (full
    mode only); ``roles`` maps a role string (``"L3.attn_q.weight"``) to its shape,
    statistics and seeded sample; ``units`` holds per-layer MLP unit features for matching;
    ``tokens`` the token-keyed embedding rows.
    """

    version: int
    mode: str
    seed: int
    format: str
    name: str
    files: dict[str, dict[str, Any]]
    structure: dict[str, Any]
    tokenizer: dict[str, Any] | None
    roles: dict[str, dict[str, Any]]
    tensors: dict[str, str] = field(default_factory=dict)
    units: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    #: Tensors the file lists but does not hold (a file truncated inside its tensor
    #: data): the fingerprint covers only what was readable. Written only when non-empty,
    #: so complete models keep their digests.
    missing: list[str] = field(default_factory=list)
    #: modelkin-manifest/v1 digest of the model files this was computed from (None: not
    #: bound, e.g. a fingerprint made before binding existed, or of a loose file)
    manifest: str | None = None
    _digest: str | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON tree; ``manifest`` only when bound, so unbound fingerprints keep the
        bytes (and digest) they always had."""
        out: dict[str, Any] = {
            "version": self.version,
            "mode": self.mode,
            "seed": self.seed,
            "format": self.format,
            "name": self.name,
            "files": self.files,
            "structure": self.structure,
            "tokenizer": self.tokenizer,
            "roles": self.roles,
            "tensors": self.tensors,
            "units": self.units,
            "tokens": self.tokens,
            "notes": self.notes,
        }
        if self.missing:
            out["missing"] = self.missing
        if self.manifest is not None:
            out["manifest"] = self.manifest
        return out

    def canonical_bytes(self) -> bytes:
        """RFC 8785 canonical JSON of :meth:`to_dict`."""
        return bytes(rfc8785.dumps(self.to_dict()))

    def digest(self) -> str:
        """sha256 (hex) of the canonical bytes: the fingerprint's identity.

        Computed once: a fingerprint is treated as immutable after it is built or loaded."""
        if self._digest is None:
            self._digest = hashlib.sha256(self.canonical_bytes()).hexdigest()
        return self._digest

    def save(self, path: str | Path) -> Path:
        """Write as deterministic gzip (timestamp 0) canonical JSON."""
        p = Path(path)
        data = gzip.compress(self.canonical_bytes(), compresslevel=9, mtime=0)
        try:
            p.write_bytes(data)
        except OSError as exc:
            raise ModelkinError(p, f"cannot write fingerprint: {exc.strerror or exc}") from None
        return p

    @classmethod
    def from_dict(cls, d: Any, where: str = "fingerprint") -> Fingerprint:
        """Validate and build; refuses unknown versions and missing or mistyped fields."""
        if not isinstance(d, dict):
            raise ModelkinError(where, "not a fingerprint (top level is not an object)")
        version = d.get("version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise ModelkinError(
                where,
                f"unsupported fingerprint version {d.get('version')!r} "
                f"(this modelkin reads versions {', '.join(map(str, READABLE_VERSIONS))})",
            )
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise ModelkinError(where, f"malformed fingerprint: missing {', '.join(missing)}")
        if d["mode"] not in ("fast", "full") or not isinstance(d["seed"], int):
            raise ModelkinError(where, "malformed fingerprint: bad mode or seed")
        for key in ("files", "structure", "roles"):
            if not isinstance(d[key], dict):
                raise ModelkinError(where, f"malformed fingerprint: {key} is not an object")
        for key in ("tensors", "units"):
            if not isinstance(d.get(key, {}), dict):
                raise ModelkinError(where, f"malformed fingerprint: {key} is not an object")
        for name, r in d["roles"].items():
            if not isinstance(r, dict) or not isinstance(r.get("shape"), list):
                raise ModelkinError(where, f"malformed fingerprint: role {name!r}")
        if not isinstance(d.get("missing", []), list):
            raise ModelkinError(where, "malformed fingerprint: missing is not a list")
        tok = d.get("tokenizer")
        if tok is not None and not isinstance(tok, dict):
            raise ModelkinError(where, "malformed fingerprint: tokenizer is not an object")
        manifest = d.get("manifest")
        if manifest is not None and not _is_hex64(manifest):
            raise ModelkinError(where, "malformed fingerprint: manifest is not a sha256 digest")
        return cls(
            version=d["version"],
            mode=d["mode"],
            seed=d["seed"],
            format=str(d["format"]),
            name=str(d.get("name", "")),
            files=d["files"],
            structure=d["structure"],
            tokenizer=tok,
            roles=d["roles"],
            tensors=d.get("tensors") or {},
            units=d.get("units") or {},
            tokens=d.get("tokens"),
            notes=[str(n) for n in d.get("notes") or []],
            missing=[str(n) for n in d.get("missing") or []],
            manifest=manifest,
        )

    @classmethod
    def load(cls, path: str | Path) -> Fingerprint:
        """Read a fingerprint file written by :meth:`save` (bounded, validated)."""
        p = Path(path)
        try:
            with p.open("rb") as f:
                raw = f.read(MAX_FINGERPRINT_BYTES + 1)
        except OSError as exc:
            raise ModelkinError(p, f"cannot read fingerprint: {exc.strerror or exc}") from None
        return cls.from_bytes(raw, str(p))

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = "fingerprint") -> Fingerprint:
        """Parse the bytes of a fingerprint file (bounded, validated)."""
        if len(raw) > MAX_FINGERPRINT_BYTES:
            raise ModelkinError(where, "fingerprint file too large")
        if raw[:2] != _MAGIC:
            raise ModelkinError(where, "not a fingerprint file (not gzip)")
        try:
            d = zlib.decompressobj(wbits=31)
            text = d.decompress(raw, MAX_FINGERPRINT_BYTES + 1)
            if len(text) > MAX_FINGERPRINT_BYTES or d.unconsumed_tail:
                raise ModelkinError(where, "fingerprint decompresses to more than the limit")
            obj = json.loads(text.decode("utf-8"))
        except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ModelkinError(where, f"malformed fingerprint file: {exc}") from None
        return cls.from_dict(obj, where)


def _is_hex64(value: object) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def is_fingerprint_file(path: Path) -> bool:
    """True when ``path`` is a file starting with the gzip magic (models never do)."""
    try:
        with path.open("rb") as f:
            return path.is_file() and f.read(2) == _MAGIC
    except OSError:
        return False
