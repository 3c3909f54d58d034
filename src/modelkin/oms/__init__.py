"""OpenSSF Model Signing (OMS) interoperability: verify and write ``model_signing`` bundles.

* :func:`verify_for_registration` checks a bundle made by the ``model-signing`` package
  (key, certificate, or Sigstore keyless against a user-supplied trusted root, all
  offline) and that it signs exactly the model's files, name for name
  (:mod:`modelkin.oms.verify`);
* :func:`sign_model` writes a bundle that ``model_signing verify`` accepts
  (:mod:`modelkin.oms.sign`);
* :mod:`modelkin.oms.bundle` holds the format itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelkin.oms.bundle import Bundle, OmsError, is_ignored, parse_bundle, read_bundle
from modelkin.oms.sign import sign_model
from modelkin.oms.verify import (
    Verified,
    bundle_method,
    match_files,
    summary,
    verify_sigstore,
    verify_with_certificates,
    verify_with_key,
)


@dataclass(frozen=True)
class Trust:
    """What the user trusts, as file contents: exactly one of the three kinds is used,
    the one the bundle was signed with."""

    public_key: bytes | None = None
    anchors: bytes | None = None
    trusted_root: bytes | None = None
    identity: str | None = None
    issuer: str | None = None

    @property
    def material(self) -> bytes | None:
        """The trust file that a third party needs to redo the verification."""
        return self.anchors or self.trusted_root


def verify_bundle(bundle: Bundle, trust: Trust) -> Verified:
    """Verify the bundle's signature the way it was made, with the trust given."""
    method = bundle_method(bundle)
    if method == "key":
        if trust.public_key is None:
            raise OmsError(bundle.where, "key-signed bundle: give the signer's public key")
        return verify_with_key(bundle, trust.public_key)
    if method == "certificate":
        if trust.anchors is None:
            raise OmsError(bundle.where, "certificate-signed bundle: give trust anchors (PEM)")
        return verify_with_certificates(bundle, trust.anchors)
    if trust.trusted_root is None or not trust.identity or not trust.issuer:
        raise OmsError(
            bundle.where,
            "Sigstore bundle: give a trusted root (trusted_root.json), the signer identity "
            "and the OIDC issuer (verified offline; nothing is fetched)",
        )
    return verify_sigstore(bundle, trust.trusted_root, trust.identity, trust.issuer)


def recheck(
    oms: Mapping[str, Any], files: Iterable[Mapping[str, Any]], blob: Any, where: str
) -> None:
    """Redo a registered ``oms`` record's verification from stored bytes (what the registry
    does on every submit and replay, so the record's signer is never taken on trust).

    ``blob(sha256)`` returns stored bytes or None."""
    raw = blob(oms["bundle"])
    if raw is None:
        raise OmsError(where, f"OMS bundle {oms['bundle']} is not in the blob store")
    bundle = parse_bundle(raw, f"{where}: OMS bundle {oms['bundle'][:16]}")
    trust_bytes = blob(oms["trust"]) if oms.get("trust") else None
    if oms["method"] != "key" and trust_bytes is None:
        raise OmsError(where, "OMS record names no stored trust anchors or trusted root")
    trust = Trust(
        public_key=str(oms.get("public_key") or "").encode() or None,
        anchors=trust_bytes if oms["method"] == "certificate" else None,
        trusted_root=trust_bytes if oms["method"] == "sigstore" else None,
        identity=oms.get("identity"),
        issuer=oms.get("issuer"),
    )
    verified = verify_bundle(bundle, trust)
    if verified.method != oms["method"] or verified.signer != oms["signer"]:
        raise OmsError(where, f"OMS bundle is signed by {verified.signer} ({verified.method}), "
                       f"not {oms['signer']} ({oms['method']})")  # fmt: skip
    expected = summary(verified, bundle)
    for key in ("subject", "ignore_paths", "certificate_sha256", "anchor_sha256",
                "trusted_root_sha256", "public_key_sha256"):  # fmt: skip
        if key in oms and oms[key] != expected.get(key):
            raise OmsError(where, f"OMS record's {key} does not match its bundle")
    match_files(verified.model, files, where)


def verify_for_registration(
    bundle_path: Path,
    files: Iterable[Mapping[str, Any]],
    trust: Trust,
    extra_ignored: Iterable[str] = (),
) -> tuple[Bundle, Verified]:
    """Read, verify and match a bundle against a model's manifest files."""
    bundle = read_bundle(Path(bundle_path))
    verified = verify_bundle(bundle, trust)
    match_files(verified.model, files, str(bundle_path), extra_ignored)
    return bundle, verified


__all__ = [
    "Bundle",
    "OmsError",
    "Trust",
    "Verified",
    "is_ignored",
    "match_files",
    "parse_bundle",
    "read_bundle",
    "recheck",
    "sign_model",
    "summary",
    "verify_bundle",
    "verify_for_registration",
]
