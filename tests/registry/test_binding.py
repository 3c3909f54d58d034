"""Fingerprints bound to weights (issue 13, finding 1).

A model statement could point ``fingerprint.blob`` at any blob in the store (blob hashes are
public), so an attacker could register a "base model" carrying the victim's fingerprint and
then have "the victim is a finetune of mine" verified. A fingerprint now names the manifest
digest of the files it was computed from; a statement whose fingerprint names another is
refused, and ``modelkin verify`` recomputes a fingerprint from the weights at hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import make_model_dir

from modelkin.cli import main
from modelkin.errors import StatementError
from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.registry import Registry, register_derivation, register_model, submit_predicate
from modelkin.registry.leaf import encode_leaf
from modelkin.search import record_fingerprint
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.manifest import MANIFEST_METHOD, manifest_digest, scan_directory
from modelkin.statements.statement import make_statement, subject


def model_predicate(path: Path, name: str, fingerprint: dict[str, Any] | None) -> dict[str, Any]:
    files = scan_directory(path)
    return {"name": name, "version": "1", "organisation": "Bob Corp", "license": "mit",
            "manifest": {"method": MANIFEST_METHOD, "files": files},
            "fingerprint": fingerprint}  # fmt: skip


def submit_model(reg: Registry, who: Identity, path: Path, name: str, fp: Any) -> Any:
    pred = model_predicate(path, name, fp)
    digest = manifest_digest(pred["manifest"]["files"])
    return submit_predicate(reg, who, "model", [(name, digest)], pred)


def test_a_registered_fingerprint_names_its_own_manifest(
    reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    r = register_model(reg, make_model_dir(tmp_path / "v", 1), alice, name="victim",
                       version="1", organisation="Alice Labs", license="mit")  # fmt: skip
    rec = reg.record(r.record_id)
    ref = rec.predicate["fingerprint"]
    fp = Fingerprint.load(reg.blobs.path(ref["blob"]))
    assert fp.manifest == rec.digest and fp.digest() == ref["digest"]
    assert record_fingerprint(reg, rec).digest() == ref["digest"]


def test_a_borrowed_fingerprint_is_refused(
    reg: Registry, alice: Identity, bob: Identity, tmp_path: Path
) -> None:
    victim = register_model(reg, make_model_dir(tmp_path / "v", 1), alice, name="victim",
                            version="1", organisation="Alice Labs", license="mit")  # fmt: skip
    stolen = reg.record(victim.record_id).predicate["fingerprint"]
    before = reg.ledger.size()
    with pytest.raises(StatementError, match="computed from other files"):
        submit_model(reg, bob, make_model_dir(tmp_path / "fake", 2), "fake-base", stolen)
    # the victim's blob under a digest of the attacker's choosing: not that fingerprint
    forged = {"digest": "0" * 64, "blob": stolen["blob"]}
    with pytest.raises(StatementError, match="holds fingerprint"):
        submit_model(reg, bob, make_model_dir(tmp_path / "fake2", 3), "fake-base-2", forged)
    # a blob that is not a fingerprint at all
    junk = {"digest": "0" * 64, "blob": reg.blobs.put_bytes(b"junk")}
    with pytest.raises(StatementError, match="not a fingerprint"):
        submit_model(reg, bob, make_model_dir(tmp_path / "fake3", 4), "fake-base-3", junk)
    assert reg.ledger.size() == before


def test_an_unbound_fingerprint_is_refused_but_an_old_logged_one_replays_unused(
    reg: Registry, bob: Identity, tmp_path: Path
) -> None:
    path = make_model_dir(tmp_path / "m", 5)
    legacy = fingerprint_model(path)  # no manifest named: made before binding
    assert legacy.manifest is None
    blob = reg.blobs.put_bytes(legacy.save(tmp_path / "legacy.fp").read_bytes())
    ref = {"digest": legacy.digest(), "blob": blob}
    with pytest.raises(StatementError, match="does not name the files"):
        submit_model(reg, bob, path, "old", ref)
    # logged before this rule existed: the replay accepts it, and it is never used
    pred = model_predicate(path, "old", ref)
    digest = manifest_digest(pred["manifest"]["files"])
    st = make_statement([subject("old", digest)], get_kind("model").predicate_type, pred)
    env = sign_envelope(st, bob)
    reg.ledger.append(encode_leaf(env, "2026-01-01T00:00:00.000000Z", "model", bob.keyid,
                                  reg.blobs))  # fmt: skip
    reg.close()
    with Registry.open(reg.home.root) as again:
        rec = again.model("old")
        with pytest.raises(Exception, match="no usable fingerprint"):
            record_fingerprint(again, rec)
        # nor does a lineage check use it: a near copy's claim cannot be verified with it
        copy = make_model_dir(tmp_path / "copy", 5)
        (copy / "config.json").write_text("{}")
        register_model(again, copy, bob, name="copy2", version="1", organisation="Bob Corp",
                       license="mit")  # fmt: skip
        claim = register_derivation(again, bob, child="copy2", parents=["old"], relation="finetune")
        (v,) = again.record(claim.record_id).verifications
        assert v.verdict != "verified" and "fingerprint" in json.dumps(v.detail)


def _verify(
    capsys: pytest.CaptureFixture[str], home: Path, path: Path, ref: str
) -> tuple[int, str]:
    code = main(["verify", str(path), "--record", ref, "--home", str(home)])
    return code, capsys.readouterr().out


def test_verify_recomputes_the_fingerprint_from_the_weights(
    reg: Registry, alice: Identity, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = make_model_dir(tmp_path / "v", 1)
    register_model(reg, path, alice, name="victim", version="1", organisation="Alice Labs",
                   license="mit")  # fmt: skip
    reg.close()
    home = reg.home.root
    code, out = _verify(capsys, home, path, "victim")
    assert code == 0 and "PASS" in out and "bound to this manifest" in out, out
    # the same files under another directory name are the same weights
    moved = tmp_path / "elsewhere"
    shutil.copytree(path, moved)
    code, out = _verify(capsys, home, moved, "victim")
    assert code == 0 and "PASS" in out, out
    # other weights: the changed file is named, exit 1
    other = make_model_dir(tmp_path / "other", 9)
    code, out = _verify(capsys, home, other, "victim")
    assert code == 1 and "changed: model.safetensors" in out and "FAIL" in out, out
    (moved / "config.json").unlink()
    code, out = _verify(capsys, home, moved, "victim")
    assert code == 1 and "missing: config.json" in out, out
    # unknown record: bad input
    assert main(["verify", str(path), "--record", "nobody", "--home", str(home)]) == 2


def test_verify_fails_when_the_registered_fingerprint_is_not_these_weights(
    reg: Registry, bob: Identity, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fingerprint whose blob was never stored cannot be checked at submit; ``verify``
    recomputes it from the files and shows that the claimed one is not theirs."""
    path = make_model_dir(tmp_path / "m", 6)
    r = submit_model(reg, bob, path, "claims", {"digest": "ab" * 32, "blob": "cd" * 32})
    assert any("not in the blob store" in w for w in r.warnings)
    reg.close()
    code, out = _verify(capsys, reg.home.root, path, "claims")
    assert code == 1 and "fingerprint: recomputed" in out and "FAIL" in out, out
