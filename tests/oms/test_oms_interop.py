"""OpenSSF model signing, both ways, with the real ``model-signing`` package on the other side.

* bundles made by ``model_signing`` (key and certificate) for the real all-MiniLM-L6-v2
  fixture register with ``modelkin register model --oms-bundle`` and name their signer;
* a real Sigstore keyless bundle (vendored from model-transparency) verifies offline against
  the trusted root the ``sigstore`` package ships;
* altered, renamed, added or missing files, a wrong key, an untrusted chain, a wrong
  identity and a forged ``oms`` record are refused, the file or field named;
* ``modelkin sign`` output is accepted by ``model_signing verify`` (and rejected by it once
  a file changes: the check can fail).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from importlib import resources
from pathlib import Path

import model_signing
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from modelkin.cli import main
from modelkin.oms import OmsError, Trust, read_bundle, verify_bundle
from modelkin.registry import Registry, register_identity, register_model, submit_predicate
from modelkin.statements import Identity
from modelkin.statements.manifest import manifest_digest, scan_directory

VECTOR = Path(__file__).parent / "vectors" / "v1.1.0-sigstore"
IDENTITY, ISSUER = "stefanb@us.ibm.com", "https://sigstore.verify.ibm.com/oauth2"


def _pem_private(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _pem_public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _cert(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
) -> x509.Certificate:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
         "encipher_only", "decipher_only"), False)  # fmt: skip
    b = b.add_extension(
        x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca, **usage),
        critical=True,
    )
    return b.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An EC key pair, and a root CA -> intermediate CA -> leaf chain (made here, not shipped)."""
    d = tmp_path_factory.mktemp("pki")
    out: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        out[name] = d / f"{name}.pem"
        out[name].write_bytes(data)

    key = ec.generate_private_key(ec.SECP256R1())
    put("key", _pem_private(key))
    put("pub", _pem_public(key))
    put("other_pub", _pem_public(ec.generate_private_key(ec.SECP384R1())))
    root_k, int_k, leaf_k = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _cert("modelkin test root", root_k, "modelkin test root", root_k, ca=True)
    inter = _cert("modelkin test intermediate", int_k, "modelkin test root", root_k, ca=True)
    leaf = _cert("acme model signer", leaf_k, "modelkin test intermediate", int_k, ca=False)
    stranger_k = ec.generate_private_key(ec.SECP256R1())
    stranger = _cert("someone else's root", stranger_k, "someone else's root", stranger_k, True)
    for name, c in (("root", root), ("inter", inter), ("leaf", leaf), ("stranger", stranger)):
        put(name, c.public_bytes(serialization.Encoding.PEM))
    put("leaf_key", _pem_private(leaf_k))
    return out


@pytest.fixture(scope="module")
def model_copy(tmp_path_factory: pytest.TempPathFactory, real_models: dict[str, Path]) -> Path:
    """A writable copy of the real all-MiniLM-L6-v2 fixture (90 MB of safetensors)."""
    dst = tmp_path_factory.mktemp("minilm") / "all-MiniLM-L6-v2"
    shutil.copytree(real_models["minilm-l6"], dst)
    return dst


@pytest.fixture(scope="module")
def key_bundle(
    model_copy: Path, pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    sig = tmp_path_factory.mktemp("sig") / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=pki["key"]).sign(
        model_copy, sig
    )
    return sig


@pytest.fixture(scope="module")
def cert_bundle(
    model_copy: Path, pki: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    sig = tmp_path_factory.mktemp("sig") / "model.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=pki["leaf_key"],
        signing_certificate=pki["leaf"],
        certificate_chain=[pki["inter"]],
    ).sign(model_copy, sig)
    return sig


def _trusted_root() -> bytes:
    """The production Sigstore trusted root shipped inside the ``sigstore`` package."""
    store = resources.files("sigstore").joinpath("_store")
    for entry in store.iterdir():
        if entry.name.endswith("tuf-repo-cdn.sigstore.dev"):
            return entry.joinpath("trusted_root.json").read_bytes()
    raise AssertionError("sigstore ships no production trusted root")


def _cli(*args: str) -> int:
    return main([*args])


def _identity(home: Path) -> Path:
    with Registry.open(home) as reg:
        ident = Identity.generate("acme")
        register_identity(reg, ident, "acme")
    return ident.save(home / "acme.key")


def test_key_bundle_from_model_signing_registers_and_names_its_signer(
    tmp_path: Path, model_copy: Path, key_bundle: Path, pki: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    home = tmp_path / "home"
    key = _identity(home)
    rc = _cli(
        "register", "model", str(model_copy), "--key", str(key), "--name", "acme/minilm",
        "--version", "1", "--org", "acme", "--license", "Apache-2.0", "--no-fingerprint",
        "--oms-bundle", str(key_bundle), "--oms-public-key", str(pki["pub"]),
        "--home", str(home), "--json",
    )  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    with Registry.open(home) as reg:
        rec = reg.model("acme/minilm")
        oms = rec.predicate["oms"]
        assert oms["method"] == "key" and oms["signer"].startswith("ECDSA key sha256:")
        # the registry's manifest digest and OMS's per-file digests cover the same files
        bundle = json.loads(key_bundle.read_text())
        stmt = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        signed = {r["name"]: r["digest"] for r in stmt["predicate"]["resources"]}
        files = {f["name"]: f["sha256"] for f in rec.predicate["manifest"]["files"]}
        assert files == signed and "model.safetensors" in files
        assert rec.digest == manifest_digest(rec.predicate["manifest"]["files"])
        assert oms["subject"]["sha256"] == stmt["subject"][0]["digest"]["sha256"]
        # the stored bundle re-verifies on replay (rebuild runs every check again)
        assert reg.rebuild() > 0
        assert reg.model("acme/minilm").predicate["oms"] == oms


def test_certificate_bundle_from_model_signing_verifies_to_the_given_anchor(
    model_copy: Path, cert_bundle: Path, pki: dict[str, Path]
) -> None:
    bundle = read_bundle(cert_bundle)
    v = verify_bundle(bundle, Trust(anchors=pki["root"].read_bytes()))
    assert v.method == "certificate" and v.signer == "CN=acme model signer"
    assert v.details["anchor_subject"] == "CN=modelkin test root"
    with pytest.raises(OmsError, match="does not end at a trust anchor"):
        verify_bundle(bundle, Trust(anchors=pki["stranger"].read_bytes()))
    with pytest.raises(OmsError, match="give trust anchors"):
        verify_bundle(bundle, Trust(public_key=pki["pub"].read_bytes()))


def test_keyless_sigstore_bundle_verifies_offline_against_a_supplied_root(tmp_path: Path) -> None:
    model = tmp_path / "v1.1.0-sigstore"
    shutil.copytree(VECTOR, model)
    root = _trusted_root()
    with Registry.open(tmp_path / "home") as reg:
        ident = Identity.generate("ibm")
        register_identity(reg, ident, "ibm")
        trust = Trust(trusted_root=root, identity=IDENTITY, issuer=ISSUER)
        receipt = register_model(
            reg, model, ident, name="signme", version="1", organisation="ibm",
            license="Apache-2.0", fingerprint=False, oms_bundle=model / "model.sig", oms_trust=trust,
        )  # fmt: skip
        rec = reg.record(receipt.record_id)
        oms = rec.predicate["oms"]
        assert (oms["method"], oms["signer"], oms["issuer"]) == ("sigstore", IDENTITY, ISSUER)
        # the bundle file and the signed ignore list are not part of the registered model
        assert [f["name"] for f in rec.predicate["manifest"]["files"]] == ["signme-1", "signme-2"]
        assert reg.rebuild() > 0
    bundle = read_bundle(model / "model.sig")
    with pytest.raises(OmsError, match="SANs do not match"):
        verify_bundle(
            bundle, Trust(trusted_root=root, identity="mallory@example.com", issuer=ISSUER)
        )
    with pytest.raises(OmsError, match="trusted root"):
        verify_bundle(bundle, Trust(trusted_root=b"{}", identity=IDENTITY, issuer=ISSUER))
    (model / "signme-1").write_bytes(b"changed\n")
    with Registry.open(tmp_path / "home") as reg, pytest.raises(OmsError, match="signme-1"):
        register_model(
            reg, model, ident, name="signme", version="2", organisation="ibm",
            license="Apache-2.0", fingerprint=False, oms_bundle=model / "model.sig", oms_trust=trust,
        )  # fmt: skip


@pytest.mark.parametrize("change", ["alter", "rename", "add", "remove"])
def test_changed_files_are_refused_with_the_file_named(
    tmp_path: Path, real_models: dict[str, Path], pki: dict[str, Path], change: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    model = tmp_path / "m"
    model.mkdir()
    src = real_models["minilm-l6"]
    for name in ("config.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, model / name)
    sig = tmp_path / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=pki["key"]).sign(model, sig)
    if change == "alter":
        with (model / "vocab.txt").open("ab") as fh:
            fh.write(b"extra\n")
        named = "vocab.txt: sha256"
    elif change == "rename":  # model-transparency issue 49: same digests, other names
        (model / "config.json").rename(model / "config2.json")
        named = "config.json: signed in the bundle but missing"
    elif change == "add":
        (model / "extra.bin").write_bytes(b"\x00")
        named = "extra.bin: in the model but not signed"
    else:
        (model / "special_tokens_map.json").unlink()
        named = "special_tokens_map.json: signed in the bundle but missing"
    home = tmp_path / "home"
    key = _identity(home)
    rc = _cli(
        "register", "model", str(model), "--key", str(key), "--name", "m", "--version", "1",
        "--org", "acme", "--license", "MIT", "--no-fingerprint", "--oms-bundle", str(sig),
        "--oms-public-key", str(pki["pub"]), "--home", str(home),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2 and named in err and "Traceback" not in err
    with Registry.open(home) as reg:
        assert reg.models() == []


def test_wrong_key_and_tampered_signature_are_refused(
    tmp_path: Path, key_bundle: Path, pki: dict[str, Path]
) -> None:
    bundle = read_bundle(key_bundle)
    with pytest.raises(OmsError, match="names key"):
        verify_bundle(bundle, Trust(public_key=pki["other_pub"].read_bytes()))
    doc = json.loads(key_bundle.read_text())
    payload = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    payload["predicate"]["resources"][0]["name"] = "evil.json"
    doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    forged = tmp_path / "forged.sig"
    forged.write_text(json.dumps(doc))
    with pytest.raises(OmsError, match="signature does not verify"):
        verify_bundle(read_bundle(forged), Trust(public_key=pki["pub"].read_bytes()))
    forged.write_text("{not json")
    with pytest.raises(OmsError, match="not a JSON Sigstore bundle"):
        read_bundle(forged)


def test_registry_refuses_a_forged_oms_record(
    tmp_path: Path, model_copy: Path, key_bundle: Path
) -> None:
    """A registrant cannot claim a signer: the registry re-verifies from the stored bundle."""
    with Registry.open(tmp_path / "home") as reg:
        ident = Identity.generate("mallory")
        register_identity(reg, ident, "mallory")
        files = scan_directory(model_copy)
        pred = {
            "name": "m", "version": "1", "organisation": "mallory", "license": "MIT",
            "manifest": {"method": "modelkin-manifest/v1", "files": files},
            "oms": {"bundle": "0" * 64, "method": "key", "signer": "Google",
                    "subject": {"name": "m", "sha256": "0" * 64}},
        }  # fmt: skip
        with pytest.raises(OmsError, match="not in the blob store"):
            submit_predicate(reg, ident, "model", [("m", manifest_digest(files))], pred)
        digest = reg.blobs.put_bytes(key_bundle.read_bytes())
        pred["oms"]["bundle"] = digest
        other = ec.generate_private_key(ec.SECP256R1())
        pred["oms"]["public_key"] = _pem_public(other).decode()
        with pytest.raises(OmsError, match="names key"):
            submit_predicate(reg, ident, "model", [("m", manifest_digest(files))], pred)
        assert reg.models() == []


@pytest.mark.parametrize("method", ["key", "certificate"])
def test_modelkin_sign_is_accepted_by_model_signing_verify(
    tmp_path: Path, real_models: dict[str, Path], pki: dict[str, Path], method: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    model = tmp_path / "all-MiniLM-L6-v2"
    shutil.copytree(real_models["minilm-l6"], model)
    args = ["sign", str(model), "--key", str(pki["key"] if method == "key" else pki["leaf_key"])]
    if method == "certificate":
        args += ["--certificate", str(pki["leaf"]), "--chain", str(pki["inter"])]
    assert _cli(*args) == 0, capsys.readouterr().err
    sig = model / "model.sig"
    config = model_signing.verifying.Config()
    if method == "key":
        config.use_elliptic_key_verifier(public_key=pki["pub"])
    else:
        config.use_certificate_verifier(certificate_chain=[pki["root"]])
    config.verify(model, sig)  # raises on any mismatch
    # and modelkin registers its own bundle, stored inside the model directory
    bundle = read_bundle(sig)
    trust = Trust(public_key=pki["pub"].read_bytes(), anchors=pki["root"].read_bytes())
    assert verify_bundle(bundle, trust).method == method
    with (model / "config.json").open("ab") as fh:
        fh.write(b" ")
    with pytest.raises(ValueError, match=r"config\.json"):
        config.verify(model, sig)
