"""Fixtures for works tests: a C2PA test certificate chain made here (never shipped) and images."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image


@dataclass(frozen=True)
class C2paPki:
    """A root CA and an end-entity signing certificate for C2PA (ES256, P-256)."""

    root_pem: bytes
    chain_pem: bytes
    key_pem: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "modelkin tests"),
        ]
    )


def _usage(sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not sign,
        crl_sign=not sign,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture(scope="session")
def pki() -> C2paPki:
    """C2PA's trust model wants a CA-issued end-entity cert with digitalSignature key usage
    and an allowed EKU (emailProtection here), plus SKI/AKI; the root is a CA."""
    now = dt.datetime.now(dt.UTC)
    rk = ec.generate_private_key(ec.SECP256R1())
    lk = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("modelkin test root"))
        .issuer_name(_name("modelkin test root"))
        .public_key(rk.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(rk.public_key()), critical=False)
        .sign(rk, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("modelkin test signer"))
        .issuer_name(root.subject)
        .public_key(lk.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(lk.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(rk.public_key()), critical=False
        )
        .sign(rk, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return C2paPki(
        root_pem=root.public_bytes(pem),
        chain_pem=leaf.public_bytes(pem) + root.public_bytes(pem),
        key_pem=lk.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


@pytest.fixture
def png(tmp_path: Path) -> Path:
    """A real 32x32 PNG with a gradient."""
    img = Image.new("RGB", (32, 32))
    img.putdata([(x * 8, y * 8, 128) for y in range(32) for x in range(32)])
    path = tmp_path / "art.png"
    img.save(path, "PNG")
    return path


@pytest.fixture
def jpeg(tmp_path: Path) -> Path:
    """A real 32x32 JPEG."""
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (32, 32), (30, 160, 90)).save(path, "JPEG")
    return path
