"""Every export checked with the official validators (issue 14), and what each must carry.

* CycloneDX 1.6: ``cyclonedx-python-lib``'s own ``JsonStrictValidator`` (official schema);
* SPDX 3.0.1: the official SHACL shapes (vendored in ``spdx3/``) through ``pyshacl``, and
  the official JSON schema;
* Hugging Face cards: parsed back with ``huggingface_hub.ModelCard`` (offline);
* Croissant: ``mlcroissant`` loads the export of a registered dataset.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from label_samples import full_label, gemma_conflict_label, minilm_label

from modelkin.labels.export_cyclonedx import export_cyclonedx
from modelkin.labels.export_spdx import export_spdx3
from modelkin.labels.hf_card import export_hf_card, fields_from_card_text, read_card_fields
from modelkin.labels.model import Label, Parent
from modelkin.labels.spdx_expression import spdx_expression

SPDX3 = Path(__file__).parent / "spdx3"


# ------------------------------------------------------------------ CycloneDX 1.6
@cache
def _strict() -> Any:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    return JsonStrictValidator(SchemaVersion.V1_6)


@pytest.mark.parametrize("make", [minilm_label, gemma_conflict_label, full_label])
def test_cyclonedx_exports_pass_the_official_strict_validator(make: Any) -> None:
    assert _strict().validate_str(json.dumps(export_cyclonedx(make()))) is None


def test_cyclonedx_model_card_is_filled_from_the_registry() -> None:
    bom = export_cyclonedx(full_label())
    model = bom["metadata"]["component"]
    params = model["modelCard"]["modelParameters"]
    assert params["task"] == "feature-extraction"
    assert (params["architectureFamily"], params["modelArchitecture"]) == ("bert", "BertModel")
    assert params["inputs"] == [{"format": "text"}]
    assert params["outputs"] == [{"format": "embedding vector"}]
    metrics = model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
    assert {"type": "spearman", "value": "0.82", "slice": "mteb/stsbenchmark-sts / test"} in metrics
    cons = model["modelCard"]["considerations"]
    assert cons["useCases"] == ["Semantic search"]
    assert cons["fairnessAssessments"][0]["harms"].endswith("Mostly US English forum posts.")
    assert model["purl"] == "pkg:huggingface/acme/encoder-small"
    assert model["authors"] == [{"name": "Acme", "email": "models@acme.example"}]
    assert model["description"] == "A small sentence encoder."
    refs = {r["type"]: r["url"] for r in model["externalReferences"]}
    assert refs["website"] == "https://huggingface.co/acme/encoder-small"
    assert refs["distribution"] == "https://acme.example/models/encoder-small"


def test_cyclonedx_never_lists_a_contradicted_parent_as_an_ancestor() -> None:
    model = export_cyclonedx(full_label())["metadata"]["component"]
    names = [a["name"] for a in model["pedigree"]["ancestors"]]
    assert names == ["MiniLM-L12", "bert-small"]
    flagged = [p["value"] for p in model["properties"]
               if p["name"] == "modelkin:lineage:contradicted_parent"]  # fmt: skip
    assert len(flagged) == 1 and flagged[0].startswith("llama-7b (claimed finetune): not supported")
    # nothing invented: a label without details has no task, purl or quantitative analysis
    bare = export_cyclonedx(gemma_conflict_label())["metadata"]["component"]
    assert "purl" not in bare and "quantitativeAnalysis" not in bare["modelCard"]
    assert "task" not in bare["modelCard"].get("modelParameters", {})


# ------------------------------------------------------------------ SPDX 3.0.1
@cache
def _shapes() -> Any:
    import rdflib

    return rdflib.Graph().parse(SPDX3 / "spdx-model.ttl", format="turtle")


def _shacl(doc: dict[str, Any]) -> tuple[bool, str]:
    """pyshacl over the export, its @context replaced by the vendored official context."""
    import pyshacl
    import rdflib

    local = dict(doc)
    local["@context"] = json.loads((SPDX3 / "spdx-context.jsonld").read_text())["@context"]
    data = rdflib.Graph().parse(data=json.dumps(local), format="json-ld")
    conforms, _graph, text = pyshacl.validate(
        data, shacl_graph=_shapes(), ont_graph=_shapes(), inference="none", allow_warnings=True
    )
    return bool(conforms), str(text)


@pytest.mark.parametrize("make", [minilm_label, gemma_conflict_label, full_label])
def test_spdx3_exports_conform_to_the_official_shacl_shapes(make: Any) -> None:
    conforms, report = _shacl(export_spdx3(make()))
    assert conforms, report[:3000]


def test_spdx3_shacl_check_can_fail() -> None:
    doc = export_spdx3(full_label())
    bad = copy.deepcopy(doc)
    pkg = next(x for x in bad["@graph"] if x["type"] == "dataset_DatasetPackage")
    del pkg["dataset_datasetType"]  # required by the Dataset profile
    conforms, report = _shacl(bad)
    assert not conforms and "datasetType" in report


@pytest.mark.parametrize(
    ("declared", "expression"),
    [
        ("(MIT OR Apache-2.0)", "MIT OR Apache-2.0"),
        ("MIT AND (Apache-2.0 OR BSD-3-Clause)", "MIT AND (Apache-2.0 OR BSD-3-Clause)"),
        ("(MIT AND Apache-2.0) OR BSD-3-Clause", "(MIT AND Apache-2.0) OR BSD-3-Clause"),
        ("Apache-2.0 WITH LLVM-exception", "Apache-2.0 WITH LLVM-exception"),
        ("apache-2.0", "Apache-2.0"),
        ("gemma", "LicenseRef-gemma"),
        ("MIT WITH acme-exception", "MIT WITH AdditionRef-acme-exception"),
        ("CC-BY-SA-4.0 AND odc-by", "CC-BY-SA-4.0 AND ODC-By-1.0"),
        ("MIT AND (", "LicenseRef-MIT-AND"),
    ],
)
def test_spdx_licence_expressions_keep_their_meaning(declared: str, expression: str) -> None:
    assert spdx_expression(declared) == expression


def _graph(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [x for x in doc["@graph"] if x["type"] == kind]


def test_spdx3_ai_and_dataset_fields_come_from_the_registry_never_invented() -> None:
    doc = export_spdx3(full_label())
    model = next(m for m in _graph(doc, "ai_AIPackage") if m["spdxId"].endswith("/model"))
    assert model["ai_typeOfModel"] == ["BertModel", "bert"]
    assert {"key": "learning_rate", "value": "2e-05", "type": "DictionaryEntry"} in model[
        "ai_hyperparameter"
    ]
    assert any(m["key"].startswith("spearman") and m["value"] == "0.82" for m in model["ai_metric"])
    assert model["software_downloadLocation"] == "https://acme.example/models/encoder-small"
    assert model["releaseTime"].startswith("2026-10-01T00:00:00")
    exprs = {e["simplelicensing_licenseExpression"]
             for e in _graph(doc, "simplelicensing_LicenseExpression")}  # fmt: skip
    assert {"Apache-2.0 WITH LLVM-exception", "MIT AND (Apache-2.0 OR BSD-3-Clause)",
            "MIT OR Apache-2.0"} <= exprs  # fmt: skip
    pairs = next(d for d in _graph(doc, "dataset_DatasetPackage") if d["name"] == "acme-pairs")
    assert pairs["dataset_knownBias"] == ["Mostly US English forum posts."]
    # not recorded -> not written (no autonomy type, domain or safety assessment is made up)
    for absent in ("ai_autonomyType", "ai_domain", "ai_safetyRiskAssessment"):
        assert absent not in model
    bare = next(m for m in _graph(export_spdx3(gemma_conflict_label()), "ai_AIPackage")
                if m["spdxId"].endswith("/model"))  # fmt: skip
    assert "ai_typeOfModel" not in bare and "software_downloadLocation" not in bare


# ------------------------------------------------------------------ Hugging Face card
def _card_data(text: str) -> dict[str, Any]:
    from huggingface_hub import ModelCard

    data: dict[str, Any] = ModelCard(text).data.to_dict()
    return data


def test_hf_card_export_writes_every_metadata_key_and_the_template_sections() -> None:
    card = export_hf_card(full_label())
    data = _card_data(card)
    assert data["language"] == ["en"] and data["pipeline_tag"] == "feature-extraction"
    assert data["library_name"] == "sentence-transformers"
    assert data["base_model"] == ["microsoft/MiniLM-L12-H384-uncased", "bert-small"]
    assert data["base_model_relation"] == "finetune"  # two fine-tune claims are not a merge
    assert data["datasets"][0] == "acme/pairs"
    assert data["license"] == "other" and data["license_name"] == "apache-2.0-with-llvm-exception"
    result = data["model-index"][0]["results"][0]
    assert result["metrics"] == [{"type": "spearman", "value": 0.82}]
    for section in ("## Uses", "## Bias, Risks, and Limitations", "## Training Details",
                    "## Evaluation", "## Environmental Impact", "## Lineage verified by modelkin",
                    "## Model Card Contact"):  # fmt: skip
        assert section in card
    assert "llama-7b** (finetune): not supported" in card
    back = fields_from_card_text(card)
    assert back.task == "feature-extraction" and back.evaluation[0].value == 0.82


def _with(label: Label, **changes: Any) -> Label:
    return dataclasses.replace(label, **changes)


def test_hf_card_relation_and_custom_licence_link() -> None:
    label = full_label()
    merge = _with(label, lineage=dataclasses.replace(label.lineage, parents=(
        Parent("a", "merge", "verified"), Parent("b", "merge", "verified"))))  # fmt: skip
    assert _card_data(export_hf_card(merge))["base_model_relation"] == "merge"
    mixed = _with(label, lineage=dataclasses.replace(label.lineage, parents=(
        Parent("a", "finetune", "verified"), Parent("b", "adapter", "untested"))))  # fmt: skip
    assert "base_model_relation" not in _card_data(export_hf_card(mixed))
    identity = dataclasses.replace(
        label.identity,
        licence="Acme Research Licence v2",
        details=dataclasses.replace(label.identity.details, licence_url="https://acme.example/lic"),
    )
    data = _card_data(export_hf_card(_with(label, identity=identity)))
    assert data["license"] == "other" and data["license_name"] == "acme-research-licence-v2"
    assert data["license_link"] == "https://acme.example/lic"


def test_import_card_reads_a_real_model_card(real_models: dict[str, Path]) -> None:
    """The all-MiniLM-L6-v2 fixture ships its real Hugging Face README.md."""
    fields = read_card_fields(real_models["minilm-l6"] / "README.md")
    assert fields.licence == "Apache-2.0" and fields.language == ("en",)
    assert fields.task == "sentence-similarity"
    assert fields.library == "sentence-transformers"
    assert "s2orc" in fields.datasets and len(fields.datasets) > 10
    decl = fields.declarations()
    assert decl["task"] == "sentence-similarity" and decl["languages"] == ["en"]


def test_register_with_a_card_records_its_claims(
    tmp_path: Path, real_models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from modelkin.cli import main
    from modelkin.labels.outputs import export, load_label
    from modelkin.registry import Registry, register_identity
    from modelkin.statements import Identity

    home = tmp_path / "home"
    with Registry.open(home) as reg:
        ident = Identity.generate("acme")
        register_identity(reg, ident, "acme")
    key = ident.save(home / "acme.key")
    model = tmp_path / "m"
    model.mkdir()
    shutil.copy(real_models["minilm-l6"] / "config.json", model / "config.json")
    card = tmp_path / "README.md"
    card.write_text(
        "---\nlicense: mit\npipeline_tag: text-classification\nlanguage: [en, fr]\n"
        "library_name: transformers\nbase_model: acme/base\nbase_model_relation: finetune\n"
        "model-index:\n- name: m\n  results:\n  - task: {type: text-classification}\n"
        "    dataset: {name: acme/eval, type: acme/eval}\n"
        "    metrics: [{type: accuracy, value: 0.9}]\n---\n# m\n"
    )
    base = tmp_path / "base"
    base.mkdir()
    (base / "w.bin").write_bytes(b"base weights")
    common = ["--key", str(key), "--version", "1", "--org", "acme", "--no-fingerprint",
              "--home", str(home)]  # fmt: skip
    assert main(["register", "model", str(base), "--name", "base", "--license", "MIT",
                 "--hub-id", "acme/base", *common]) == 0  # fmt: skip
    assert main(["register", "model", str(model), "--name", "m", "--card", str(card), *common]) == 0
    out = capsys.readouterr()
    assert "derivation" in out.out
    label = load_label("m", home)
    assert label.identity.licence == "MIT"
    assert label.identity.details.task == "text-classification"
    assert label.identity.details.languages == ("en", "fr")
    assert [p.hub_id for p in label.lineage.parents] == ["acme/base"]
    data = _card_data(export(label, "hf-card"))
    assert data["base_model"] == ["acme/base"] and data["base_model_relation"] == "finetune"
    assert data["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.9


# ------------------------------------------------------------------ Croissant
def test_croissant_export_of_a_registered_dataset_validates_with_mlcroissant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlcroissant

    from modelkin.cli import main
    from modelkin.registry import Registry, dataset_from_croissant, register_dataset
    from modelkin.registry import register_identity as reg_id
    from modelkin.statements import Identity

    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("text,label\nhello,1\n")
    (data / "test.csv").write_text("text,label\nbye,0\n")
    src = {
        "@context": {"@vocab": "https://schema.org/", "sc": "https://schema.org/",
                     "cr": "http://mlcommons.org/croissant/",
                     "rai": "http://mlcommons.org/croissant/RAI/",
                     "prov": "http://www.w3.org/ns/prov#"},
        "@type": "sc:Dataset", "name": "greetings", "description": "Tiny greetings.",
        "url": "https://acme.example/datasets/greetings",
        "license": "https://spdx.org/licenses/CC-BY-4.0.html",
        "prov:wasDerivedFrom": [{"@type": "sc:Dataset", "name": "upstream",
                                 "url": "https://upstream.example/data"}],
        "rai:dataBiases": "Only two languages.",
        "distribution": [],
    }  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps(src))
    pred = dataset_from_croissant(tmp_path / "in.json", data)
    assert pred["url"] == "https://acme.example/datasets/greetings"  # its own URL, kept
    assert pred["licenses"] == ["CC-BY-4.0"]  # licence URL normalised to its SPDX id
    home = tmp_path / "home"
    with Registry.open(home) as reg:
        ident = Identity.generate("acme")
        reg_id(reg, ident, "acme")
        register_dataset(reg, ident, pred)
    out = tmp_path / "out.json"
    assert (
        main(["export", "greetings", "-f", "croissant", "-o", str(out), "--home", str(home)]) == 0
    )
    doc = json.loads(out.read_text())
    dataset = mlcroissant.Dataset(jsonld=doc)  # raises on a Croissant validation error
    assert dataset.metadata.name == "greetings"
    assert doc["license"] == "https://spdx.org/licenses/CC-BY-4.0.html"
    assert doc["url"] == "https://acme.example/datasets/greetings"
    assert doc["rai:dataBiases"] == "Only two languages."
    # round trip: the export imports back to the same manifest
    (tmp_path / "back.json").write_text(out.read_text())
    again = dataset_from_croissant(tmp_path / "back.json", data)
    assert again["manifest"] == pred["manifest"]
    broken = copy.deepcopy(doc)
    del broken["distribution"][0]["sha256"]  # a FileObject needs a checksum
    with pytest.raises(mlcroissant.ValidationError, match="md5"):
        mlcroissant.Dataset(jsonld=broken)
