"""Who signed an OMS bundle, checked offline, and whether it signs exactly these files.

Three ways a model_signing bundle can be signed, each verified without the network:

* **key** (``verificationMaterial.publicKey``): ECDSA P-256/P-384/P-521 over the DSSE PAE,
  hash matched to the curve (SHA-256/384/512), with the public key the user gives; the
  bundle's ``hint`` (SHA-256 of the key's PEM SubjectPublicKeyInfo) must name that key.
* **certificate** (``x509CertificateChain``): the leaf certificate's key verifies the
  signature; the chain must link certificate by certificate (each issued by the next, each
  issuer a CA) up to a trust anchor the user gives, all valid at the leaf's start time
  (the only signing time such a bundle has, as model_signing itself checks), and the leaf
  must allow digital signatures or code signing.
* **Sigstore keyless** (``certificate`` + ``tlogEntries``): delegated to ``sigstore``'s
  verifier with a trusted root the user supplies (``trusted_root.json``: Fulcio CAs, Rekor
  and CT log keys), never fetched; the certificate's identity (SAN) and OIDC issuer must be
  the expected ones. Certificate chains, SCTs, Rekor inclusion proofs and signed entry
  timestamps are Sigstore's own protocol, which ``sigstore`` implements and maintains.

Key and certificate bundles are verified with ``cryptography`` alone; the tests cross-check
both ways with the real ``model-signing`` package.

:func:`match_files` is the part no OMS verifier does for you: OpenSSF model-transparency
issue 49 showed that checking a root digest alone lets renamed or swapped files pass, so
every signed file name must be one of the model's files with the same SHA-256, and every
model file (outside the signed ignore list) must be signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelkin.oms.bundle import Bundle, OmsError, SignedModel, is_ignored, pae, signed_model


def curve_hash(key_size: int) -> hashes.HashAlgorithm:
    """The hash OMS pairs with each curve (model_signing ``get_ec_key_hash``)."""
    return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key_size]


_CURVES = (256, 384, 521)


@dataclass(frozen=True)
class Verified:
    """A bundle whose signature verified: how, by whom, and the model it signs."""

    method: str  # "key", "certificate" or "sigstore"
    signer: str  # human-readable: key digest, certificate subject, or identity
    model: SignedModel
    details: dict[str, Any]


def _ec_key(key: Any, where: str) -> ec.EllipticCurvePublicKey:
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.key_size not in _CURVES:
        raise OmsError(where, "only ECDSA P-256, P-384 and P-521 keys are supported (as in OMS)")
    return key


def _verify_ecdsa(key: ec.EllipticCurvePublicKey, bundle: Bundle) -> None:
    algo = curve_hash(key.curve.key_size)
    try:
        key.verify(bundle.signature, pae(bundle.payload_type, bundle.payload), ec.ECDSA(algo))
    except InvalidSignature:
        raise OmsError(bundle.where, "signature does not verify with the signer's key") from None


def pem_key_digest(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the PEM SubjectPublicKeyInfo: model_signing's ``publicKey.hint``."""
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(pem).hexdigest()


def load_public_key(pem: bytes, where: str) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise OmsError(where, "not a PEM public key") from None
    return _ec_key(key, where)


def verify_with_key(bundle: Bundle, public_key_pem: bytes, key_where: str = "key") -> Verified:
    """A key-signed bundle, checked against the public key the user trusts."""
    key = load_public_key(public_key_pem, key_where)
    digest = pem_key_digest(key)
    pk = bundle.material.get("publicKey")
    if not isinstance(pk, dict):
        raise OmsError(bundle.where, "bundle is not key-signed (no verificationMaterial.publicKey)")
    hint = pk.get("hint")
    if hint and hint != digest:
        raise OmsError(bundle.where, f"bundle names key {hint}, not the given key {digest}")
    _verify_ecdsa(key, bundle)
    pem = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return Verified(
        method="key",
        signer=f"ECDSA key sha256:{digest}",
        model=signed_model(bundle),
        details={"public_key": pem, "public_key_sha256": digest},
    )


def _der_chain(bundle: Bundle) -> list[x509.Certificate]:
    chain = (bundle.material.get("x509CertificateChain") or {}).get("certificates")
    if not isinstance(chain, list) or not chain:
        raise OmsError(bundle.where, "bundle has no x509CertificateChain")
    certs = []
    for n, c in enumerate(chain[:10]):
        raw = c.get("rawBytes") if isinstance(c, dict) else None
        try:
            certs.append(x509.load_der_x509_certificate(base64.b64decode(raw or "", validate=True)))
        except (ValueError, binascii.Error):
            raise OmsError(bundle.where, f"certificate {n} of the chain is not DER") from None
    return certs


def load_anchors(pem: bytes, where: str) -> list[x509.Certificate]:
    try:
        anchors = x509.load_pem_x509_certificates(pem)
    except ValueError:
        raise OmsError(where, "no PEM certificates") from None
    return anchors


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _may_sign(cert: x509.Certificate) -> bool:
    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        return x509.oid.ExtendedKeyUsageOID.CODE_SIGNING in eku
    except x509.ExtensionNotFound:
        return False


def _fp(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def verify_with_certificates(
    bundle: Bundle, anchors_pem: bytes, anchors_where: str = "trust anchors"
) -> Verified:
    """A certificate-signed bundle, its chain checked up to one of the given anchors."""
    anchors = load_anchors(anchors_pem, anchors_where)
    chain = _der_chain(bundle)
    leaf = chain[0]
    when = leaf.not_valid_before_utc
    anchor_fps = {_fp(a): a for a in anchors}
    path = [leaf]
    reached: x509.Certificate | None = anchor_fps.get(_fp(leaf))
    for cert in chain[1:]:
        if reached is not None:
            break
        if not _issued_by(path[-1], cert) or not _is_ca(cert):
            raise OmsError(
                bundle.where,
                f"certificate chain broken: {path[-1].subject.rfc4514_string()} is not "
                f"issued by CA {cert.subject.rfc4514_string()}",
            )
        path.append(cert)
        reached = anchor_fps.get(_fp(cert))
    if reached is None:
        reached = next((a for a in anchors if _is_ca(a) and _issued_by(path[-1], a)), None)
        if reached is None:
            raise OmsError(
                bundle.where,
                f"certificate chain does not end at a trust anchor from {anchors_where}",
            )
        path.append(reached)
    for cert in path:
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            raise OmsError(
                bundle.where,
                f"certificate {cert.subject.rfc4514_string()} was not valid at {when.isoformat()}",
            )
    if not _may_sign(leaf):
        raise OmsError(bundle.where, "signing certificate allows neither digital signatures "
                       "nor code signing")  # fmt: skip
    key = _ec_key(leaf.public_key(), bundle.where)
    _verify_ecdsa(key, bundle)
    return Verified(
        method="certificate",
        signer=leaf.subject.rfc4514_string(),
        model=signed_model(bundle),
        details={
            "certificate_sha256": _fp(leaf),
            "issuer": leaf.issuer.rfc4514_string(),
            "anchor_sha256": _fp(reached),
            "anchor_subject": reached.subject.rfc4514_string(),
        },
    )


def verify_sigstore(
    bundle: Bundle, trusted_root_json: bytes, identity: str, issuer: str,
    root_where: str = "trusted root",
) -> Verified:  # fmt: skip
    """A Sigstore keyless bundle, verified offline against a user-supplied trusted root."""
    try:
        from sigstore.errors import Error as SigstoreError
        from sigstore.models import Bundle as SigstoreBundle
        from sigstore.models import TrustedRoot
        from sigstore.verify import Verifier, policy
    except ImportError:  # pragma: no cover - sigstore is a dependency
        raise OmsError(bundle.where, "Sigstore bundles need the 'sigstore' package") from None
    try:
        with tempfile.TemporaryDirectory() as tmp:  # sigstore's public API reads a file
            path = Path(tmp) / "trusted_root.json"
            path.write_bytes(trusted_root_json)
            root = TrustedRoot.from_file(str(path))
    except Exception as exc:  # sigstore raises its Error, pydantic and ValueError variants
        raise OmsError(root_where, f"not a Sigstore trusted_root.json: {exc}") from None
    try:
        sb = SigstoreBundle.from_json(bundle.raw)
        payload_type, payload = Verifier(trusted_root=root).verify_dsse(
            sb, policy.Identity(identity=identity, issuer=issuer)
        )
    except (SigstoreError, ValueError) as exc:
        raise OmsError(bundle.where, f"Sigstore verification failed: {exc}") from None
    if payload_type != bundle.payload_type or payload != bundle.payload:  # pragma: no cover
        raise OmsError(bundle.where, "Sigstore verified a different payload than the envelope's")
    cert = sb.signing_certificate
    return Verified(
        method="sigstore",
        signer=identity,
        model=signed_model(bundle),
        details={
            "identity": identity,
            "issuer": issuer,
            "certificate_sha256": _fp(cert),
            "trusted_root_sha256": hashlib.sha256(trusted_root_json).hexdigest(),
            "log_index": _log_index(bundle),
        },
    )


def _log_index(bundle: Bundle) -> int | None:
    entries = bundle.material.get("tlogEntries") or []
    try:
        return int(entries[0]["logIndex"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def bundle_method(bundle: Bundle) -> str:
    """``key``, ``certificate`` or ``sigstore``: how the bundle says it was signed."""
    m = bundle.material
    if "publicKey" in m:
        return "key"
    if "x509CertificateChain" in m and not m.get("tlogEntries"):
        return "certificate"
    if "certificate" in m or "x509CertificateChain" in m:
        return "sigstore"
    raise OmsError(bundle.where, "verificationMaterial names no key or certificate")


def match_files(
    model: SignedModel,
    files: Iterable[Mapping[str, Any]],
    where: str,
    extra_ignored: Iterable[str] = (),
) -> None:
    """Refuse unless the signed resources are exactly the model's files, name for name.

    ``files`` are the registry manifest's ``{name, sha256}`` entries; files under the
    bundle's signed ``ignore_paths`` (or ``extra_ignored``, e.g. the bundle file itself)
    are not compared. Every problem names the file."""
    ignored = (*model.ignore_paths, *extra_ignored)
    have = {
        str(f["name"]): str(f["sha256"]) for f in files if not is_ignored(str(f["name"]), ignored)
    }
    signed = {r.name: r.sha256 for r in model.resources}
    problems = []
    for name in sorted(signed.keys() | have.keys()):
        if name not in have:
            problems.append(f"{name}: signed in the bundle but missing from the model")
        elif name not in signed:
            problems.append(f"{name}: in the model but not signed by the bundle")
        elif signed[name] != have[name]:
            problems.append(
                f"{name}: sha256 {have[name]} does not match the signed {signed[name]} "
                "(file altered after signing)"
            )
    if problems:
        more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
        raise OmsError(where, "model files do not match the OMS signature: "
                       + "; ".join(problems[:5]) + more)  # fmt: skip


def summary(v: Verified, bundle: Bundle) -> dict[str, Any]:
    """A JSON-ready record of a verification (what the registry stores in ``oms``)."""
    return json.loads(
        json.dumps(
            {
                "bundle": bundle.sha256,
                "method": v.method,
                "signer": v.signer,
                "subject": {"name": v.model.name, "sha256": v.model.subject_digest},
                "ignore_paths": list(v.model.ignore_paths),
                **v.details,
            }
        )
    )
