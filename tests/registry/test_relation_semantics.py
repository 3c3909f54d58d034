"""A claim is verified only when the weights support the relation *claimed* (issue 13,
finding 5), and the label says who verified what, with which engine, at which ledger entry.

Every case is made the way its relation makes models: a finetune adds training-like noise
to its parent, siblings are two noisy copies of one ancestor, a quantized copy rounds the
parent onto a lattice. The forensic engine is replaced by a small engine that classifies a
pair from the weights with the verdict classes of :mod:`modelkin.forensics` (identical,
converted with the quantization-grid rule, derived, unrelated); the expected outcomes
follow from how each model was made, not from that engine's rules.
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
from safetensors.numpy import load_file, save_file
from test_verify import _register

from modelkin.fingerprint import Fingerprint
from modelkin.labels import build_label
from modelkin.labels.outputs import export, render
from modelkin.registry import Registry, builders, register_derivation, verification
from modelkin.statements import Identity

STEP = 0.01


def _weights(path: Path) -> np.ndarray:
    tensors = load_file(str(path / "model.safetensors"))
    return np.concatenate([tensors[k].ravel() for k in sorted(tensors)]).astype(np.float64)


def _fingerprint(
    registry: Registry, path: Path, manifest: str | None = None, name: str | None = None
) -> tuple[dict[str, Any], dict[str, Any], None]:
    """A stand-in fingerprint holding the weights themselves, bound to the model's manifest
    like a real one (the registry refuses unbound fingerprints)."""
    vec = _weights(path)
    fp = Fingerprint(version=3, mode="fast", seed=0, format="safetensors", name=name or path.name,
                     files={}, structure={"vec": vec.tolist()}, tokenizer=None, roles={},
                     manifest=manifest)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        blob = registry.blobs.put_file(fp.save(Path(tmp) / "fp"))
    return {"digest": fp.digest(), "blob": blob}, {}, None


def _load(p: Path) -> np.ndarray:
    return np.array(Fingerprint.load(p).structure["vec"])


def _on_grid(x: np.ndarray) -> bool:
    return bool(np.allclose(x / STEP, np.round(x / STEP), atol=1e-6))


def _engine() -> tuple[Any, Any]:
    def compare(a: np.ndarray, b: np.ndarray) -> Any:
        rmse = float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))
        r = float(np.corrcoef(a, b)[0, 1])
        rules: dict[str, int] = {}
        if np.array_equal(a, b):
            verdict = "identical"
        elif (_on_grid(a) or _on_grid(b)) and np.max(np.abs(a - b)) <= STEP / 2 + 1e-9:
            verdict, rules = "converted", {"quantization-grid": 1}
        elif r > 0.9:
            verdict = "derived"
        elif abs(r) < 0.2:
            verdict = "unrelated"
        else:
            verdict = "insufficient"
        related = {"unrelated": False, "insufficient": None}.get(verdict, True)
        report = {
            "verdict": verdict,
            "evidence": [{"name": "identity", "statistic": rmse, "details": {"rules": rules}}],
        }
        return SimpleNamespace(
            verdict=verdict, related=related, p_value=1e-12 if related else 0.5,
            to_dict=lambda: report,
        )  # fmt: skip

    return _load, compare


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builders, "fingerprint_into_blobs", _fingerprint)
    monkeypatch.setattr(verification, "_engine", _engine)


def _quantized(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    tensors = load_file(str(src / "model.safetensors"))
    save_file(
        {k: (np.round(v / STEP) * STEP).astype(np.float32) for k, v in tensors.items()},
        str(dst / "model.safetensors"),
    )
    (dst / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 16}))
    return dst


def _outcome(reg: Registry, alice: Identity, child: str, parent: str, relation: str) -> Any:
    claim = register_derivation(reg, alice, child=child, parents=[parent], relation=relation)
    (v,) = reg.record(claim.record_id).verifications
    return v


def test_the_claimed_relation_must_be_the_one_the_weights_show(
    engine: None, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    base = make_model_dir(tmp_path / "base", 1)
    _register(reg, alice, base, "base")
    _register(reg, alice, make_model_dir(tmp_path / "tuned", 2, noise_from=base), "tuned")
    _register(reg, alice, _quantized(base, tmp_path / "q"), "base-q")
    _register(reg, alice, make_model_dir(tmp_path / "other", 3), "other")

    assert _outcome(reg, alice, "tuned", "base", "finetune").verdict == "verified"
    assert _outcome(reg, alice, "base-q", "base", "quantized").verdict == "verified"
    # a quantization claim on a finetune: related, but no lattice
    v = _outcome(reg, alice, "tuned", "base", "quantized")
    assert v.verdict == "partly_supported" and "quantization lattice" in v.detail["reason"]
    # a "finetune" that is a rounded copy: related, but as a conversion
    v = _outcome(reg, alice, "base-q", "base", "finetune")
    assert v.verdict == "partly_supported" and "(converted)" in v.detail["reason"]
    # pruning needs surgery
    assert _outcome(reg, alice, "tuned", "base", "pruned").verdict == "partly_supported"
    # independent weights contradict any relation that keeps weights
    v = _outcome(reg, alice, "other", "base", "converted")
    assert v.verdict == "contradicted" and "independent training" in v.detail["reason"]


def test_a_sibling_is_not_a_parent(
    engine: None, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    """Finding 5: both cut from a common ancestor, a "finetune" claim between them showed
    "finetune · verified"."""
    base = make_model_dir(tmp_path / "base", 1)
    _register(reg, alice, base, "base")
    _register(reg, alice, make_model_dir(tmp_path / "a", 2, noise_from=base), "sib-a")
    _register(reg, alice, make_model_dir(tmp_path / "b", 3, noise_from=base), "sib-b")
    assert _outcome(reg, alice, "sib-a", "base", "finetune").verdict == "verified"
    v = _outcome(reg, alice, "sib-b", "sib-a", "finetune")
    assert v.verdict == "partly_supported"
    assert "siblings made from base" in v.detail["reason"]
    # a real grandchild (a finetune of sib-a) is still verified: it is closer to sib-a
    grand = make_model_dir(tmp_path / "g", 4, noise_from=tmp_path / "a")
    _register(reg, alice, grand, "grand")
    assert _outcome(reg, alice, "grand", "sib-a", "finetune").verdict == "verified"


def test_label_says_who_verified_and_flags_conflicting_claims(
    engine: None, reg: Registry, alice: Identity, tmp_path: Path
) -> None:
    base = make_model_dir(tmp_path / "base", 1)
    _register(reg, alice, base, "base")
    _register(reg, alice, make_model_dir(tmp_path / "tuned", 2, noise_from=base), "tuned")
    first = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")
    for relation in ("converted", "quantized"):
        register_derivation(reg, alice, child="tuned", parents=["base"], relation=relation)
    index = first.verification["ledger_index"]  # type: ignore[index]
    verifier = reg.record(first.verification["record_id"]).signer_name  # type: ignore[index]
    expected = (
        f"verified by {verifier} with engine modelkin.forensics "
        f"{verification.engine_version()} at ledger #{index}"
    )
    label = build_label(reg, "tuned")
    finetune = next(p for p in label.lineage.parents if p.relation == "finetune")
    assert finetune.status == "verified" and finetune.verifications == (expected,)
    statuses = {p.relation: p.status for p in label.lineage.parents}
    assert statuses == {
        "finetune": "verified",
        "converted": "partly_supported",
        "quantized": "partly_supported",
    }
    (conflict,) = [c for c in label.lineage.conflicts if "conflicting claims" in c]
    assert "finetune" in conflict and "converted" in conflict and "quantized" in conflict
    # the identity header never reads "verified" above self-declared fields
    assert label.identity.provenance.status == "claimed"
    for fmt in ("json", "md", "html", "svg"):
        text = render(label, fmt)
        assert isinstance(text, str) and expected in text, fmt
        assert "conflicting claims" in text, fmt
    for fmt in ("cyclonedx", "spdx3", "hf-card"):
        assert expected in export(label, fmt), fmt
    card = export(label, "hf-card")
    section = card.split("Lineage verified by modelkin", 1)[1]
    assert expected in section.split("\n## ", 1)[0]


def test_label_shows_both_verifications_when_they_disagree(
    engine: None,
    reg: Registry,
    alice: Identity,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = make_model_dir(tmp_path / "base", 1)
    _register(reg, alice, base, "base")
    _register(reg, alice, make_model_dir(tmp_path / "tuned", 2, noise_from=base), "tuned")
    claim = register_derivation(reg, alice, child="tuned", parents=["base"], relation="finetune")

    def independent() -> tuple[Any, Any]:
        def compare(a: np.ndarray, b: np.ndarray) -> Any:
            return SimpleNamespace(verdict="unrelated", related=False, p_value=0.7)

        return _load, compare

    monkeypatch.setattr(verification, "_engine", independent)
    monkeypatch.setattr(verification, "engine_version", lambda: "2.0.0")
    reg.reverify(claim.record_id)
    (parent,) = build_label(reg, "tuned").lineage.parents
    assert parent.status == "contradicted" and parent.verifications_disagree
    assert [v.split(" by ")[0] for v in parent.verifications] == ["verified", "contradicted"]
    assert "modelkin.forensics 2.0.0" in parent.verifications[1]
    label = build_label(reg, "tuned")
    assert any("disagree" in c for c in label.lineage.conflicts)
