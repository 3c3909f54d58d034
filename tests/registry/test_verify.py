"""Lineage claims are checked against the weights and the verdict stored with the claim.

The registry's plumbing (which models to compare, what a verdict means for each kind of
claim, where it is stored and shown) is tested with a small real comparison — the
correlation of the two models' weights — put in place of :mod:`modelkin.forensics`; the
forensic engine itself is tested in its own package. Without an engine, claims are stored
as "unverifiable" with the reason.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from registry_helpers import make_model_dir
from safetensors.numpy import load_file

from modelkin.fingerprint import Fingerprint
from modelkin.registry import (
    Registry,
    Verification,
    builders,
    register_derivation,
    register_model,
    verification,
)
from modelkin.statements import Identity


def _weights_fingerprint(
    registry: Registry, path: Path, manifest: str | None = None, name: str | None = None
) -> tuple[dict[str, Any], dict[str, Any], None]:
    """A stand-in fingerprint holding the weights themselves (bound to the model's
    manifest like a real one, or the registry would refuse it)."""
    tensors = load_file(str(path / "model.safetensors"))
    vec = np.concatenate([tensors[k].ravel() for k in sorted(tensors)])
    fp = Fingerprint(version=3, mode="fast", seed=0, format="safetensors", name=name or path.name,
                     files={}, structure={"vec": vec.tolist()}, tokenizer=None, roles={},
                     manifest=manifest)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        blob = registry.blobs.put_file(fp.save(Path(tmp) / "fp"))
    return {"digest": fp.digest(), "blob": blob}, {"n": vec.size}, None


def _correlation_engine() -> tuple[Any, Any]:
    def compare(a: np.ndarray, b: np.ndarray) -> Any:
        if a.shape != b.shape:
            return SimpleNamespace(verdict="incompatible", related=None, p_value=None)
        r = float(np.corrcoef(a, b)[0, 1])
        related = r > 0.9 if abs(r) > 0.9 or abs(r) < 0.2 else None
        return SimpleNamespace(
            verdict={True: "derived", False: "unrelated", None: "insufficient"}[related],
            related=related,
            p_value=None,
            to_dict=lambda: {"correlation": r},
        )

    return (lambda p: np.array(Fingerprint.load(p).structure["vec"])), compare


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builders, "fingerprint_into_blobs", _weights_fingerprint)
    monkeypatch.setattr(verification, "_engine", _correlation_engine)


def _report(reg: Registry, v: Verification) -> dict[str, Any]:
    """The evidence report a verification statement names by digest."""
    report: dict[str, Any] = json.loads(reg.blobs.get(v.detail["evidence"]))
    return report


def _register(reg: Registry, ident: Identity, path: Path, name: str) -> None:
    register_model(reg, path, ident, name=name, version="1", organisation="A", license="mit")


def test_verdicts_stored_with_claims(
    engine: None, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    base = make_model_dir(tmp_path / "base", 1)
    _register(reg, alice, base, "base")
    _register(reg, alice, make_model_dir(tmp_path / "tuned", 2, noise_from=base), "tuned")
    _register(reg, alice, make_model_dir(tmp_path / "other", 3), "other")

    true_claim = register_derivation(
        reg, alice, child="tuned", parents=["base"], relation="finetune"
    )
    (v,) = reg.record(true_claim.record_id).verifications
    assert v.verdict == "verified" and _report(reg, v)["correlation"] > 0.9

    false_claim = register_derivation(
        reg, alice, child="other", parents=["base"], relation="finetune"
    )
    (v,) = reg.record(false_claim.record_id).verifications
    assert v.verdict == "contradicted"

    honest = register_derivation(reg, alice, child="other", parents=[], relation="none")
    (v,) = reg.record(honest.record_id).verifications
    assert v.verdict == "verified" and "unrelated to all 2" in v.detail["reason"]

    # "trained from scratch" while the weights say derived from base: flagged
    liar = register_derivation(reg, alice, child="tuned", parents=[], relation="none")
    (v,) = reg.record(liar.record_id).verifications
    assert v.verdict == "contradicted" and v.detail["reason"] == "weights say derived from base"
    graph = reg.lineage("tuned")
    undeclared = [e for e in graph.edges if e.relation == "undeclared_derivation"]
    assert len(undeclared) == 1 and undeclared[0].verdict == "contradicted"
    assert graph.nodes[undeclared[0].src].name == "base"
    assert "contradicted" in reg.lineage_svg(graph)
    from_base = reg.lineage("base")
    assert {n.name: n.role for n in from_base.descendants()} == {
        "tuned": "descendant",
        "other": "descendant",
    }

    # verdicts are recomputed identically when the tables are rebuilt from the ledger
    before = [r.to_dict() for r in reg.records("derivation")]
    reg.rebuild()
    assert [r.to_dict() for r in reg.records("derivation")] == before


def test_without_engine_claims_are_unverifiable(
    monkeypatch: pytest.MonkeyPatch, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    monkeypatch.setattr(builders, "fingerprint_into_blobs", _weights_fingerprint)
    monkeypatch.setattr(verification, "_engine", lambda: "forensics unavailable (test)")
    _register(reg, alice, make_model_dir(tmp_path / "a", 1), "a")
    _register(reg, alice, make_model_dir(tmp_path / "b", 2), "b")
    claim = register_derivation(reg, alice, child="b", parents=["a"], relation="adapter")
    (v,) = reg.record(claim.record_id).verifications
    assert v.verdict == "unverifiable" and "forensics unavailable" in v.detail["reason"]


def test_real_forensic_engine_on_tiny_llamas(
    reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    """End to end with :mod:`modelkin.fingerprint` and :mod:`modelkin.forensics`: a noisy copy
    of a randomly initialised model (a transform) versus an independent initialisation."""
    pytest.importorskip("torch")
    import shutil

    from safetensors.numpy import save_file

    from modelkin_dev.synth import models, specs

    base = models.save(models.build(specs.TINY_LLAMA, 1), specs.TINY_LLAMA, tmp_path / "base")
    other = models.save(models.build(specs.TINY_LLAMA, 2), specs.TINY_LLAMA, tmp_path / "other")
    tuned = tmp_path / "tuned"
    shutil.copytree(base, tuned)
    rng = np.random.default_rng(0)
    weights = load_file(str(base / "model.safetensors"))
    noisy = {k: (v + rng.normal(0, 0.002, v.shape)).astype(v.dtype) for k, v in weights.items()}
    save_file(noisy, str(tuned / "model.safetensors"))
    for name, path in (("base", base), ("tuned", tuned), ("other", other)):
        receipt = register_model(
            reg, path, alice, name=name, version="1", organisation="A", license="mit"
        )
        assert receipt.warnings == []
        fp = reg.model(name).predicate["fingerprint"]
        assert reg.blobs.has(fp["blob"])

    def verdicts(child: str, parents: list[str], relation: str) -> list[str]:
        r = register_derivation(reg, alice, child=child, parents=parents, relation=relation)
        return [v.verdict for v in reg.record(r.record_id).verifications]

    assert verdicts("tuned", ["base"], "finetune") == ["verified"]
    assert verdicts("other", ["base"], "finetune") == ["contradicted"]
    assert verdicts("tuned", [], "none") == ["contradicted"]
    assert verdicts("other", [], "none") == ["verified"]
