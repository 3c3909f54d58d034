"""Write an OMS v1.0 bundle for a model directory, as ``model_signing sign key|certificate``
would: the same statement, DSSE envelope and Sigstore bundle v0.3 layout, so
``model_signing verify`` accepts it (checked in the tests with the real package).

The file list and digests are modelkin's own manifest (:func:`scan_directory`: hidden files
skipped, symlinks refused), and the hidden names model_signing skips by default are written
into the signed ``ignore_paths`` together with every other hidden file found, so both tools
hash the same files and a registration of the signed directory agrees with the bundle.
"""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from modelkin.oms.bundle import (
    BUNDLE_MEDIA_TYPE,
    DEFAULT_IGNORED,
    INTOTO_PAYLOAD_TYPE,
    OmsError,
    pae,
    statement_payload,
)
from modelkin.oms.verify import _ec_key, curve_hash, pem_key_digest
from modelkin.statements.manifest import scan_directory


def _load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise OmsError(path, f"cannot read key: {exc.strerror or exc}") from None
    except (ValueError, TypeError):
        raise OmsError(path, "not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise OmsError(path, "OMS signs with ECDSA keys (P-256, P-384, P-521) only")
    _ec_key(key.public_key(), str(path))
    return key


def _hidden_top_level(model_dir: Path) -> list[str]:
    """Hidden names at any depth, as paths relative to the model (not signed, so ignored)."""
    out = []
    for p in sorted(model_dir.rglob(".*")):
        rel = p.relative_to(model_dir)
        if not any(part.startswith(".") for part in rel.parts[:-1]):
            out.append(rel.as_posix())
    return out


def sign_model(
    model_dir: Path,
    key_path: Path,
    out: Path,
    *,
    certificate: Path | None = None,
    chain: tuple[Path, ...] = (),
) -> dict[str, object]:
    """Sign ``model_dir`` into the bundle file ``out``; returns a short summary.

    With ``certificate`` (and intermediate/root ``chain`` files) the bundle carries the
    X.509 chain, like ``model_signing sign certificate``; otherwise the key's hint."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise OmsError(model_dir, "OMS signs a model directory")
    key = _load_private_key(Path(key_path))
    out_rel: str | None = None
    with contextlib.suppress(ValueError):
        out_rel = Path(out).resolve().relative_to(model_dir.resolve()).as_posix()
    ignored = sorted(
        {*DEFAULT_IGNORED, *_hidden_top_level(model_dir), *([out_rel] if out_rel else [])}
    )
    files = [(f["name"], f["sha256"]) for f in scan_directory(model_dir) if f["name"] != out_rel]
    payload = statement_payload(model_dir.resolve().name, files, tuple(ignored))
    algo = curve_hash(key.curve.key_size)
    sig = key.sign(pae(INTOTO_PAYLOAD_TYPE, payload), ec.ECDSA(algo))
    if certificate is None:
        material: dict[str, object] = {
            "publicKey": {"hint": pem_key_digest(key.public_key())},
            "tlogEntries": [],
        }
    else:
        certs = []
        for p in (certificate, *chain):
            try:
                certs += x509.load_pem_x509_certificates(Path(p).read_bytes())
            except (OSError, ValueError):
                raise OmsError(p, "cannot read PEM certificates") from None
        if certs[0].public_key() != key.public_key():
            raise OmsError(certificate, "certificate's public key is not the signing key's")
        material = {
            "x509CertificateChain": {
                "certificates": [
                    {
                        "rawBytes": base64.b64encode(
                            c.public_bytes(serialization.Encoding.DER)
                        ).decode()
                    }
                    for c in certs
                ]
            },
            "tlogEntries": [],
        }
    bundle = {
        "mediaType": BUNDLE_MEDIA_TYPE,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": base64.b64encode(payload).decode("ascii"),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": base64.b64encode(sig).decode("ascii"), "keyid": ""}],
        },
    }
    try:
        Path(out).write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise OmsError(out, f"cannot write bundle: {exc.strerror or exc}") from None
    return {
        "bundle": str(out),
        "files": len(files),
        "method": "certificate" if certificate else "key",
    }
