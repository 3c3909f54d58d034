"""Accepting statements: receipts, proofs, queries, warnings, amendments."""

from __future__ import annotations

from pathlib import Path

import pytest
from registry_helpers import checkpoint_root, make_model_dir, verify_inclusion

from modelkin.errors import NotFoundError, StatementError
from modelkin.registry import (
    Registry,
    amend,
    dataset_predicate,
    manifest_from_directory,
    register_dataset,
    register_derivation,
    register_model,
    register_product,
    register_training_run,
    withdraw,
)
from modelkin.statements import Identity, manifest_digest, scan_directory


def _model(reg: Registry, ident: Identity, path: Path, name: str, seed: int = 0) -> str:
    make_model_dir(path, seed)
    receipt = register_model(
        reg,
        path,
        ident,
        name=name,
        version="1.0",
        organisation="Alice Labs",
        license="apache-2.0",
        intended_use="tests",
        fingerprint=False,
    )
    return receipt.record_id


def test_model_receipt_proves_inclusion(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    path = make_model_dir(tmp_path / "m", 0)
    receipt = register_model(
        reg,
        path,
        alice,
        name="tiny",
        version="1",
        organisation="Alice Labs",
        license="mit",
        fingerprint=False,
    )
    assert receipt.ledger_index == 1  # index 0 is alice's identity
    size, root = checkpoint_root(receipt.checkpoint)
    assert size == receipt.tree_size == 2
    entry = reg.ledger.entry(receipt.ledger_index)
    assert b'"received_at"' in entry and b'"modelkin/dsse"' in entry
    proof = [bytes.fromhex(h) for h in receipt.inclusion_proof]
    leaf = bytes.fromhex(receipt.leaf_hash)
    assert verify_inclusion(leaf, receipt.ledger_index, size, proof, root)
    assert not verify_inclusion(leaf, receipt.ledger_index - 1, size, proof, root)

    rec = reg.model("tiny")
    assert rec.digest == manifest_digest(scan_directory(path))
    assert rec.signer_name == "alice" and rec.status == "active"
    assert reg.model(rec.digest).id == rec.id == reg.model(rec.id[:12]).id
    assert [r.name for r in reg.models()] == ["tiny"]
    assert [r.id for r in reg.search("ALICE labs", "model")] == [rec.id]
    assert len(reg.search("alice labs")) == 2  # the identity too
    assert reg.search("nothing-like-this") == []
    with pytest.raises(NotFoundError):
        reg.model("missing")


def test_identical_weights_flagged(
    reg: Registry, alice: Identity, bob: Identity, tmp_path: Path
) -> None:
    first = _model(reg, alice, tmp_path / "a", "original", seed=1)
    copy = make_model_dir(tmp_path / "b", 1)
    receipt = register_model(
        reg,
        copy,
        bob,
        name="renamed",
        version="1",
        organisation="Bob Corp",
        license="mit",
        fingerprint=False,
    )
    assert any("identical weights already registered as original" in w for w in receipt.warnings)
    assert first[:16] in " ".join(receipt.warnings)


def test_full_chain_and_dangling(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    base = _model(reg, alice, tmp_path / "base", "base", seed=1)
    child_dir = make_model_dir(tmp_path / "child", 2)
    register_model(
        reg,
        child_dir,
        alice,
        name="child",
        version="1",
        organisation="A",
        license="mit",
        fingerprint=False,
    )
    data = tmp_path / "data"
    data.mkdir()
    (data / "shard-0.jsonl").write_text('{"text": "hello"}\n')
    (data / "shard-1.jsonl").write_text('{"text": "world"}\n')
    ds = register_dataset(
        reg,
        alice,
        dataset_predicate(
            name="corpus",
            manifest=manifest_from_directory(data),
            licenses=["cc-by-4.0"],
            languages=["en"],
            consent="opt_out_honoured",
            personal_data=False,
            size_tokens=4,
        ),
    )
    curve = tmp_path / "loss.csv"
    curve.write_text("step,loss\n0,5.0\n1,4.1\n")
    run = register_training_run(
        reg,
        alice,
        name="ft-run",
        hardware_kind="H100",
        hardware_count=8,
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-02T00:00:00Z",
        output="child",
        input_models=["base"],
        datasets=["corpus"],
        accelerator_hours=192.0,
        flops=1.5e21,
        energy_kwh=140.0,
        location="eu-west",
        loss_curve=curve,
    )
    assert run.warnings == []
    curve_digest = reg.record(run.record_id).predicate["loss_curve"]["sha256"]
    assert reg.blobs.get(curve_digest) == curve.read_bytes()
    der = register_derivation(reg, alice, child="child", parents=["base"], relation="finetune")
    assert der.warnings == []
    ghost = "ab" * 32
    dangling = register_derivation(reg, alice, child="child", parents=[ghost], relation="merge")
    assert any("dangling reference" in w and ghost in w for w in dangling.warnings)
    assert reg.record(dangling.record_id).dangling == [ghost]
    prod = register_product(reg, alice, name="Chat", organisation="A", models=["child"])
    assert prod.warnings == []
    assert [r.name for r in reg.products()] == ["Chat"]
    assert [r.id for r in reg.training_runs()] == [run.record_id]
    assert [r.id for r in reg.datasets()] == [ds.record_id]
    assert {r.id for r in reg.derivations("base")} == {der.record_id}
    assert {r.id for r in reg.derivations("child")} == {der.record_id, dangling.record_id}
    # without fingerprints the claim is stored as unverifiable, with the reason
    v = reg.record(der.record_id).verifications
    assert [x.verdict for x in v] == ["unverifiable"] and base


def test_amend_and_withdraw_same_signer_only(
    reg: Registry, alice: Identity, bob: Identity, tmp_path: Path
) -> None:
    rid = _model(reg, alice, tmp_path / "m", "tiny")
    size = reg.ledger.size()
    with pytest.raises(StatementError, match="only the identity that signed"):
        amend(reg, bob, rid, {"license": "proprietary"}, "hijack")
    with pytest.raises(StatementError, match="only the identity that signed"):
        withdraw(reg, bob, rid, "hijack")
    assert reg.ledger.size() == size
    receipt = amend(reg, alice, rid, {"license": "apache-2.0", "version": "1.1"}, "relicensed")
    new = reg.model("tiny")
    assert new.id == receipt.record_id and new.supersedes == rid
    assert new.predicate["license"] == "apache-2.0" and new.version == "1.1"
    assert new.digest == reg.record(rid).digest
    old = reg.record(rid)
    assert old.status == "amended" and old.superseded_by == new.id
    assert [r.id for r in reg.history(new.id)] == [new.id, rid]
    assert not any("identical weights" in w for w in receipt.warnings)
    with pytest.raises(StatementError, match="already amended"):
        amend(reg, alice, rid, {"license": "x"}, "again")
    with pytest.raises(StatementError, match="match model-v1"):
        amend(reg, alice, new.id, {"license": 5}, "bad")
    withdraw(reg, alice, new.id, "recalled")
    assert reg.models() == []
    assert reg.record(new.id).status == "withdrawn"
    assert reg.record(new.id).status_reason == "recalled"
    assert len(reg.records("model", include_inactive=True)) == 2


def test_withdrawn_identity_cannot_sign(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    ident_rec = next(i for i in reg.identities() if i["name"] == "alice")
    withdraw(reg, alice, ident_rec["record_id"], "key compromised")
    with pytest.raises(StatementError, match="withdrawn"):
        _model(reg, alice, tmp_path / "m", "tiny")


def test_identity_rules(reg: Registry, alice: Identity) -> None:
    from modelkin.registry import register_identity

    with pytest.raises(StatementError, match="already registered"):
        register_identity(reg, alice)
    with pytest.raises(StatementError, match="name already registered"):
        register_identity(reg, Identity.generate("alice"))
