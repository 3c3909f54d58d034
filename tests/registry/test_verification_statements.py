"""Verdicts are logged, signed statements (issue 13, finding 6), never recomputed.

A lineage claim's check is a ``verification`` statement signed by the registry operator's
verifier key and appended to the ledger; rebuild replays it as it is. Re-verifying with a
newer engine appends a new statement and both are shown when they disagree. A third party
may publish its own; it is shown as theirs and does not decide the claim's status. A
"trained from scratch" check says exactly how many registered models it compared against.

The forensic engine is replaced by the weight-correlation engine of ``test_verify`` (the
registry's plumbing is under test here, not the forensics).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from registry_helpers import make_model_dir
from test_verify import _correlation_engine, _register, _weights_fingerprint

from modelkin.errors import StatementError
from modelkin.fingerprint import Fingerprint
from modelkin.registry import (
    Registry,
    builders,
    register_derivation,
    register_identity,
    verification,
)
from modelkin.registry.builders import attest_claim, submit_predicate
from modelkin.statements import Identity


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builders, "fingerprint_into_blobs", _weights_fingerprint)
    monkeypatch.setattr(verification, "_engine", _correlation_engine)


def _three(reg: Registry, alice: Identity, tmp: Path) -> None:
    base = make_model_dir(tmp / "base", 1)
    _register(reg, alice, base, "base")
    _register(reg, alice, make_model_dir(tmp / "tuned", 2, noise_from=base), "tuned")
    _register(reg, alice, make_model_dir(tmp / "other", 3), "other")


def _snapshot(reg: Registry) -> list[dict[str, Any]]:
    return [r.to_dict(envelope=True) for r in reg.records(include_inactive=True)]


def _no_forensics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the forensic engine unavailable: importing it fails, and so does any attempt
    of the registry to check a claim."""

    def refuse(*_: object, **__: object) -> Any:
        raise AssertionError("the forensic engine ran during replay")

    for mod in ("modelkin.forensics", "modelkin.forensics.verdict", "modelkin.fingerprint"):
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setattr(verification, "_engine", refuse)
    monkeypatch.setattr(verification, "check_claim", refuse)
    monkeypatch.setattr(verification, "verify_claim", refuse)


def test_claims_are_checked_in_signed_logged_statements(
    engine: None, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    _three(reg, alice, tmp_path)
    receipt = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    assert receipt.verification is not None
    index = receipt.verification["ledger_index"]
    assert index == receipt.ledger_index + 2  # the verifier's identity, then its statement
    statement = reg.record(receipt.verification["record_id"])
    assert statement.kind == "verification" and statement.ledger_index == index
    pred = statement.predicate
    assert pred["claim"] == {"record": receipt.record_id, "ledger_index": receipt.ledger_index}
    assert pred["relation"] == "finetune" and pred["outcome"] == "verified"
    assert pred["engine"] == {
        "name": "modelkin.forensics",
        "version": verification.engine_version(),
    }
    (result,) = pred["results"]
    tuned, base = reg.model("tuned"), reg.model("base")
    assert result["child"] == {
        "sha256": tuned.digest,
        "fingerprint": tuned.predicate["fingerprint"]["digest"],
    }
    assert result["parent"]["sha256"] == base.digest
    assert result["verdict_class"] == "derived" and reg.blobs.has(result["evidence"])
    # signed by the operator's verifier, a registered identity the registry trusts
    assert statement.signer_keyid in reg.trusted_verifiers
    assert statement.signer_name is not None and statement.signer_name.startswith("verifier-")
    (v,) = reg.record(receipt.record_id).verifications
    assert v.verdict == "verified" and v.ledger_index == index
    assert v.attribution == (
        f"verified by {statement.signer_name} with engine modelkin.forensics "
        f"{verification.engine_version()} at ledger #{index}"
    )


def test_rebuild_of_a_copied_home_runs_no_forensics(
    engine: None,
    reg: Registry,
    alice: Identity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str | None,
) -> None:
    if db_url is not None:
        pytest.skip("a copy of the home is a copy of its files (SQLite)")
    _three(reg, alice, tmp_path)
    register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    register_derivation(reg, alice, child="other", parents=["base"], relation="finetune")
    register_derivation(reg, alice, child="tuned", parents=[], relation="none")
    before = _snapshot(reg)
    graph_before = reg.lineage("tuned").to_dict()
    reg.close()
    copy = tmp_path / "copy"
    shutil.copytree(reg.home.root, copy)
    _no_forensics(monkeypatch)
    with Registry.open(copy) as again:
        again.rebuild()
        assert _snapshot(again) == before
        graph = again.lineage("tuned").to_dict()
    undeclared = [e for e in graph["edges"] if e["relation"] == "undeclared_derivation"]
    assert len(undeclared) == 1 and undeclared[0]["evidence"]["verdict"] == "contradicted"
    assert graph["edges"] == graph_before["edges"]


def test_a_newer_engine_appends_and_both_are_shown(
    engine: None,
    reg: Registry,
    alice: Identity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _three(reg, alice, tmp_path)
    claim = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    (first,) = reg.record(claim.record_id).verifications
    assert first.verdict == "verified"

    def abstaining() -> tuple[Any, Any]:
        def compare(a: np.ndarray, b: np.ndarray) -> Any:
            return SimpleNamespace(verdict="insufficient", related=None, p_value=0.5)

        return (lambda p: np.array(Fingerprint.load(p).structure["vec"])), compare

    monkeypatch.setattr(verification, "_engine", abstaining)
    monkeypatch.setattr(verification, "engine_version", lambda: "9.9.9")
    receipt = reg.reverify(claim.record_id)
    rec = reg.record(claim.record_id)
    (now,) = rec.verifications
    assert now.verdict == "unverifiable" and now.ledger_index == receipt.ledger_index
    assert now.engine == "modelkin.forensics 9.9.9"
    assert [v.verdict for v in rec.verification_history] == ["verified", "unverifiable"]
    assert rec.verifications_disagree
    # the earlier statement is still in the ledger, and rebuild keeps both as they were
    before = _snapshot(reg)
    reg.rebuild()
    assert _snapshot(reg) == before


def test_third_party_verifications_are_theirs(
    engine: None, reg: Registry, alice: Identity, bob: Identity, tmp_path: Path
) -> None:
    _three(reg, alice, tmp_path)
    claim = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    receipt = attest_claim(reg, bob, claim.record_id)
    rec = reg.record(claim.record_id)
    (operator,) = rec.verifications  # the operator's verdict still decides
    assert operator.ledger_index == claim.verification["ledger_index"]  # type: ignore[index]
    theirs = [v for v in rec.verification_history if v.ledger_index == receipt.ledger_index]
    assert len(theirs) == 1 and theirs[0].verifier_name == "bob"
    assert theirs[0].attribution.startswith("verified by bob with engine modelkin.forensics")

    # a forged "contradicted" from a third party neither changes the status nor the graph
    _, pred = reg.verification_predicate(claim.record_id)
    pred["outcome"] = pred["results"][0]["outcome"] = "contradicted"
    submit_predicate(reg, bob, "verification", [("claim", claim.record_id)], pred)
    rec = reg.record(claim.record_id)
    assert [v.verdict for v in rec.verifications] == ["verified"]
    assert rec.verifications_disagree
    edge = next(e for e in reg.lineage("tuned").edges if e.relation == "finetune")
    assert edge.verdict == "verified"


def test_verifications_must_match_their_claim(
    engine: None, reg: Registry, alice: Identity, bob: Identity, tmp_path: Path
) -> None:
    _three(reg, alice, tmp_path)
    claim = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    _, pred = reg.verification_predicate(claim.record_id)
    wrong_index = dict(pred, claim=dict(pred["claim"], ledger_index=0))
    with pytest.raises(StatementError, match="claim is at ledger index"):
        submit_predicate(reg, bob, "verification", [("claim", claim.record_id)], wrong_index)
    other = reg.model("other").digest
    assert other is not None
    wrong_parent = dict(pred, results=[dict(pred["results"][0], parent={"sha256": other})])
    with pytest.raises(StatementError, match="not one of the claim's parents"):
        submit_predicate(reg, bob, "verification", [("claim", claim.record_id)], wrong_parent)
    model_id = reg.model("base").id
    about_model = dict(pred, claim={"record": model_id, "ledger_index": 0})
    with pytest.raises(StatementError, match="is not a derivation"):
        submit_predicate(reg, bob, "verification", [("claim", model_id)], about_model)


def test_scratch_checks_say_how_many_models_they_compared(
    engine: None,
    reg: Registry,
    alice: Identity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _register(reg, alice, make_model_dir(tmp_path / "a", 11), "a")
    _register(reg, alice, make_model_dir(tmp_path / "b", 12), "b")
    _register(reg, alice, make_model_dir(tmp_path / "c", 13), "c")
    monkeypatch.setattr(verification, "MAX_SCRATCH_COMPARISONS", 1)
    claim = register_derivation(reg, alice, child="c", parents=[], relation="none")
    (v,) = reg.record(claim.record_id).verifications
    assert v.verdict == "partly_supported"
    assert v.detail["reason"] == (
        "unrelated to the 1 registered models compared; 1 of the 2 registered models were "
        "not compared"
    )
    assert v.detail["scope"] == {"compared": 1, "registered": 2}
    monkeypatch.setattr(verification, "MAX_SCRATCH_COMPARISONS", 200)
    reg.reverify(claim.record_id)
    (v,) = reg.record(claim.record_id).verifications
    assert v.verdict == "verified" and v.detail["reason"] == "unrelated to all 2 registered models"


def test_identity_named_like_the_verifier_cannot_block_it(
    engine: None, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    """The verifier's name comes from its own key, so nobody can register it first."""
    squatter = Identity.generate("verifier")
    register_identity(reg, squatter)
    _three(reg, alice, tmp_path)
    claim = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    assert [v.verdict for v in reg.record(claim.record_id).verifications] == ["verified"]


def test_submission_replay_and_queries_import_no_forensics() -> None:
    """Issue 18's split: only :mod:`modelkin.registry.verification` may need the engine."""
    import subprocess

    code = (
        "import sys\n"
        "import modelkin.registry\n"
        "import modelkin.registry.core, modelkin.registry.replay, modelkin.registry.queries\n"
        "import modelkin.registry.submission, modelkin.registry.store, modelkin.registry.pages\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('modelkin.forensics',"
        " 'modelkin.fingerprint', 'modelkin.registry.verification')))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "[]"
