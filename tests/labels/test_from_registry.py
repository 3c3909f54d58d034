"""A label built from real registry records: the issue's "done when" path, end to end.

The registered model is the real all-MiniLM-L6-v2 fixture. Its true parent is not
available offline, so the stand-in parent is a transform of the same weights (plus small
Gaussian noise, as MODELS.md suggests for lineage ground truth): forensics should find the
two related. A dataset record (a small real text corpus written here) and a training run
link the data and compute to the model. Every output format is produced from the label.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from modelkin.labels import build_label, label_from_dict, label_to_dict
from modelkin.labels.outputs import EXPORT_FORMATS, LABEL_FORMATS, export, render
from modelkin.registry import (
    Registry,
    dataset_predicate,
    manifest_from_directory,
    register_dataset,
    register_derivation,
    register_identity,
    register_model,
    register_training_run,
)
from modelkin.statements import Identity


def _perturbed_copy(src: Path, dst: Path, seed: int) -> Path:
    """The real model's files with N(0, 1e-3) noise on every float tensor (a transform)."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.safetensors"))
    rng = np.random.default_rng(seed)
    for path in src.rglob("*.safetensors"):
        tensors = load_file(str(path))
        noisy = {
            k: (v + rng.normal(0, 1e-3, v.shape)).astype(v.dtype) if v.dtype.kind == "f" else v
            for k, v in tensors.items()
        }
        save_file(noisy, str(dst / path.relative_to(src)))
    return dst


@pytest.fixture(scope="module")
def registered(real_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("labels-registry")
    model_dir = real_models["minilm-l6"]
    parent_dir = _perturbed_copy(model_dir, root / "parent", seed=7)
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "pairs.tsv").write_text(
        "".join(f"how do I sort a list {i}\tuse sorted() on list {i}\n" for i in range(200))
    )
    with Registry.open(root / "home") as reg:
        me = Identity.generate("st")
        register_identity(reg, me, "sentence-transformers")
        register_model(reg, parent_dir, me, name="minilm-base-standin", version="1",
                       organisation="sentence-transformers", license="MIT")  # fmt: skip
        register_model(
            reg,
            model_dir,
            me,
            name="all-MiniLM-L6-v2",
            version="1.0",
            organisation="sentence-transformers",
            license="Apache-2.0",
            intended_use="Sentence embeddings for semantic search\n- clustering",
            out_of_scope="Inputs longer than 256 word pieces",
            limitations="English only",
        )
        register_dataset(
            reg,
            me,
            dataset_predicate(
                name="qa-pairs",
                manifest=manifest_from_directory(corpus),
                sources=[{"name": "forum", "url": "https://example.org/forum", "license": None}],
                licenses=["CC-BY-SA-4.0"],
                consent="opt_out_honoured",
                opt_out_url="https://example.org/opt-out",
                personal_data=False,
                languages=["en"],
                size_tokens=4000,
            ),
        )
        register_derivation(reg, me, child="all-MiniLM-L6-v2", parents=["minilm-base-standin"],
                            relation="finetune")  # fmt: skip
        register_training_run(
            reg,
            me,
            name="st-finetune-1",
            hardware_kind="TPU v3",
            hardware_count=8,
            started_at="2021-06-01T00:00:00Z",
            ended_at="2021-06-02T00:00:00Z",
            output="all-MiniLM-L6-v2",
            input_models=["minilm-base-standin"],
            datasets=["qa-pairs"],
            accelerator_hours=192.0,
            flops=9.0e15,  # FLOPs in (2**53, 1e21) cannot be registered yet: see report
        )
        derivation = reg.derivations("all-MiniLM-L6-v2")[0]
        label = build_label(reg, "all-MiniLM-L6-v2")
    return label, derivation, root / "home"


def test_label_reflects_the_records(registered: Any) -> None:
    label, derivation, _ = registered
    i = label.identity
    assert i.name == "all-MiniLM-L6-v2" and i.licence == "Apache-2.0"
    assert i.weight_digest is not None and i.weight_digest.startswith("sha256:")
    # logged and proven included, but what it declares is still a claim (issue 14)
    assert i.inclusion_proof == "verified" and i.provenance.status == "claimed"
    assert i.tree_size is not None and i.ledger_index is not None
    assert i.ledger_index < i.tree_size
    (parent,) = label.lineage.parents
    assert parent.name == "minilm-base-standin" and parent.relation == "finetune"
    stored = derivation.verifications[0].verdict if derivation.verifications else "untested"
    assert parent.status == stored
    if derivation.verifications and "reason" in derivation.verifications[0].detail:
        assert parent.detail == derivation.verifications[0].detail["reason"][:300]
    assert parent.provenance.ledger_index == derivation.ledger_index
    assert [x.licence for x in label.lineage.licences] == ["MIT"]
    (ds,) = label.training_data.datasets
    assert (ds.name, ds.licence, ds.tokens, ds.share_of_tokens) == ("qa-pairs", "CC-BY-SA-4.0",
                                                                     4000, 1.0)  # fmt: skip
    assert ds.opt_out == "https://example.org/opt-out" and ds.personal_data is False
    assert label.training_data.known_licence_share == 1.0
    assert label.compute.accelerator == "8 × TPU v3" and label.compute.accelerator_hours == 192
    assert label.compute.energy_kwh is None and "energy" in label.disclosure.missing
    assert label.use.intended == ("Sentence embeddings for semantic search", "clustering")
    assert label_from_dict(label_to_dict(label)) == label


def test_forensics_verifies_the_parent_when_the_engine_is_present(registered: Any) -> None:
    label, _, _ = registered
    try:
        from modelkin.fingerprint import fingerprint_model  # type: ignore[attr-defined]  # noqa: F401
        from modelkin.forensics import compare  # type: ignore[attr-defined]  # noqa: F401
    except ImportError:
        pytest.skip("forensic engine not built yet: the registry stores 'unverifiable'")
    assert label.lineage.parents[0].status == "verified"


def test_every_format_from_the_registered_model(registered: Any) -> None:
    label, _, _ = registered
    for fmt in LABEL_FORMATS:
        out = render(label, fmt)
        assert len(out) > 1000, fmt
    png = Image.open(io.BytesIO(render(label, "png")))  # type: ignore[arg-type]
    assert png.size[0] == 1120 and png.size[1] > 1500
    outputs = {fmt: export(label, fmt) for fmt in EXPORT_FORMATS}  # schema-validated inside
    assert all("all-MiniLM-L6-v2" in out for out in outputs.values())
    bom = json.loads(outputs["cyclonedx"])
    assert bom["metadata"]["component"]["hashes"][0]["content"] == label.identity.weight_digest[7:]


def test_cli_labels_a_registered_model(registered: Any, tmp_path: Path) -> None:
    from modelkin.cli import main

    label, _, home = registered
    out = tmp_path / "label.json"
    argv = ["label", "all-MiniLM-L6-v2", "--home", str(home), "-f", "json", "-o", str(out)]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    expected = label_to_dict(label)
    doc["generated_at"] = expected["generated_at"]
    assert doc == expected
