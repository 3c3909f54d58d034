"""The ledger is the source of truth: rebuild, crash repair, bounded leaves."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from registry_helpers import make_model_dir
from sqlalchemy import create_engine, text

from modelkin.errors import LedgerError, StatementError
from modelkin.registry import (
    Registry,
    amend,
    dataset_predicate,
    manifest_from_directory,
    register_dataset,
    register_derivation,
    register_identity,
    register_model,
    register_product,
    register_training_run,
    tables,
    withdraw,
)
from modelkin.registry.leaf import encode_leaf
from modelkin.statements import Identity, get_kind, make_statement, sign_envelope, subject


def _snapshot(reg: Registry) -> list[dict[str, Any]]:
    return [r.to_dict(envelope=True) for r in reg.records(include_inactive=True)]


def _populate(reg: Registry, tmp: Path) -> None:
    alice, bob = Identity.generate("alice"), Identity.generate("bob")
    register_identity(reg, alice)
    register_identity(reg, bob)
    for i, name in enumerate(("base", "child", "other")):
        register_model(
            reg,
            make_model_dir(tmp / name, i),
            alice if i < 2 else bob,
            name=name,
            version="1",
            organisation="A",
            license="mit",
            fingerprint=False,
        )
    data = tmp / "data"
    data.mkdir()
    (data / "a.txt").write_text("a")
    register_dataset(
        reg, alice, dataset_predicate(name="d", manifest=manifest_from_directory(data))
    )
    register_training_run(
        reg,
        alice,
        name="r",
        hardware_kind="A100",
        hardware_count=2,
        started_at="2026-01-01T00:00:00Z",
        ended_at="2026-01-01T05:00:00Z",
        output="child",
        input_models=["base"],
        datasets=["d"],
    )
    register_derivation(reg, alice, child="child", parents=["base"], relation="finetune")
    register_derivation(reg, bob, child="other", parents=[], relation="none")
    register_product(reg, bob, name="P", organisation="B", models=["other", "child"])
    amend(reg, alice, "base", {"limitations": "tiny"}, "clarify")
    withdraw(reg, bob, "P", "discontinued")


def test_rebuild_from_ledger_alone(home: Path, tmp_path: Path) -> None:
    with Registry.open(home) as reg:
        _populate(reg, tmp_path)
        before = _snapshot(reg)
        # 12 records, and 3 of the registry's own: its verifier's identity and the
        # verification statements of the two lineage claims
        assert len(before) == 15
        assert reg.rebuild() == reg.ledger.size() == 15
        assert _snapshot(reg) == before
    # delete the database entirely: opening replays the ledger
    for p in home.glob("registry.db*"):
        p.unlink()
    with Registry.open(home) as reg:
        assert _snapshot(reg) == before


def test_crash_between_append_and_commit_is_repaired(home: Path, tmp_path: Path) -> None:
    alice = Identity.generate("alice")
    with Registry.open(home) as reg:
        register_identity(reg, alice)
        pred = {"name": "P", "organisation": "A", "models": [{"sha256": "cd" * 32}]}
        st = make_statement([subject("m", "cd" * 32)], get_kind("product").predicate_type, pred)
        env = sign_envelope(st, alice)
        # what submit does, stopped after the ledger append (as if killed before commit)
        reg.ledger.append(
            encode_leaf(env, "2026-01-01T00:00:00.000000Z", "product", alice.keyid, reg.blobs)
        )
        assert reg.products() == []
    with Registry.open(home) as reg:
        (prod,) = reg.products()
        assert prod.ledger_index == 1 and prod.received_at == "2026-01-01T00:00:00.000000Z"
        assert prod.dangling == ["cd" * 32]


def test_large_envelope_goes_to_blob_store(home: Path, tmp_path: Path) -> None:
    model = tmp_path / "big"
    model.mkdir()
    for i in range(900):  # ~900 manifest entries: envelope far above 65,535 bytes
        (model / f"shard-{i:04d}-of-0900.bin").write_bytes(i.to_bytes(4, "big"))
    alice = Identity.generate("alice")
    with Registry.open(home) as reg:
        register_identity(reg, alice)
        receipt = register_model(
            reg,
            model,
            alice,
            name="big",
            version="1",
            organisation="A",
            license="mit",
            fingerprint=False,
        )
        entry = reg.ledger.entry(receipt.ledger_index)
        assert len(entry) < 65535 and b"modelkin/dsse-ref" in entry
        before = _snapshot(reg)
        reg.rebuild()
        assert _snapshot(reg) == before
    shutil.rmtree(home / "blobs")
    for p in home.glob("registry.db*"):
        p.unlink()
    if os.environ.get("MODELKIN_DB_URL"):  # PostgreSQL: lose the registry's tables instead
        engine = create_engine(os.environ["MODELKIN_DB_URL"])
        with engine.begin() as conn:
            tables.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE alembic_version"))
        engine.dispose()
    with pytest.raises(LedgerError, match="unavailable"):
        Registry.open(home)


def _submit_products(home: str, key_path: str, tag: str, n: int) -> None:
    """Child process body: submit ``n`` product statements."""
    alice = Identity.load(key_path)
    with Registry.open(home) as reg:
        if not any(i["keyid"] == alice.keyid for i in reg.identities()):
            with contextlib.suppress(StatementError):  # the other process was first
                register_identity(reg, alice)
        for i in range(n):
            pred = {"name": f"{tag}-{i}", "organisation": "A", "models": [{"sha256": "cd" * 32}]}
            st = make_statement([subject("m", "cd" * 32)], get_kind("product").predicate_type, pred)
            reg.submit(sign_envelope(st, alice))


def test_concurrent_writers_in_two_processes(home: Path, tmp_path: Path) -> None:
    import multiprocessing

    alice = Identity.generate("alice")
    key = alice.save(tmp_path / "alice.key")
    # both processes start on a fresh home: migrations and identity race too
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_submit_products, args=(str(home), str(key), tag, 4))
        for tag in ("p", "q")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with Registry.open(home) as reg:
        assert reg.ledger.size() == reg.applied_size() == 9
        names = sorted(r.name or "" for r in reg.products())
        assert names == sorted([f"p-{i}" for i in range(4)] + [f"q-{i}" for i in range(4)])
        before = _snapshot(reg)
        reg.rebuild()
        assert _snapshot(reg) == before
