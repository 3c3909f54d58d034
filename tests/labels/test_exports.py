"""CycloneDX 1.6, SPDX 3.0.1 and Hugging Face model card exports, validated offline."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from label_samples import gemma_conflict_label, minilm_label

from modelkin.labels.export_cyclonedx import ExportError, export_cyclonedx, validate_cyclonedx
from modelkin.labels.export_spdx import export_spdx3, validate_spdx3
from modelkin.labels.hf_card import (
    CardError,
    export_hf_card,
    fields_from_card_text,
    hub_licence,
    label_from_card_fields,
)


@pytest.fixture(scope="module")
def bom() -> dict[str, Any]:
    return export_cyclonedx(minilm_label())


@pytest.fixture(scope="module")
def spdx_doc() -> dict[str, Any]:
    return export_spdx3(gemma_conflict_label())


def test_cyclonedx_ml_bom_carries_model_card_data_and_pedigree(bom: dict[str, Any]) -> None:
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    model = bom["metadata"]["component"]
    assert model["type"] == "machine-learning-model"
    assert model["hashes"] == [
        {"alg": "SHA-256", "content": "53aa5117" + model["hashes"][0]["content"][8:]}
    ]
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    ancestor = model["pedigree"]["ancestors"][0]
    assert ancestor["name"] == "microsoft/MiniLM-L12-H384-uncased"
    props = {p["name"]: p["value"] for p in ancestor["properties"]}
    assert props["modelkin:lineage:forensic_status"] == "verified"
    assert props["modelkin:lineage:p_value"] == "3.2e-14"
    card = model["modelCard"]
    refs = [d["ref"] for d in card["modelParameters"]["datasets"]]
    data = {c["bom-ref"]: c for c in bom["components"]}
    assert all(data[r]["type"] == "data" for r in refs) and len(refs) == 3
    assert data["dataset-0"]["data"][0]["sensitiveData"] == ["personal data"]
    assert data["dataset-1"]["licenses"] == [{"license": {"id": "ODC-By-1.0"}}]
    assert card["considerations"]["technicalLimitations"][-1].startswith("Out of scope:")
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert sorted(deps["model"]) == ["dataset-0", "dataset-1", "dataset-2"]


def test_cyclonedx_validator_rejects_what_the_schema_forbids(bom: dict[str, Any]) -> None:
    validate_cyclonedx(bom)
    bad = copy.deepcopy(bom)
    bad["metadata"]["component"]["modelCard"]["considerations"]["mood"] = ["happy"]
    with pytest.raises(ExportError, match=r"CycloneDX 1\.6"):
        validate_cyclonedx(bad)
    bad = copy.deepcopy(bom)
    bad["components"][0]["data"][0]["type"] = "vibes"
    with pytest.raises(ExportError):
        validate_cyclonedx(bad)


def test_cyclonedx_handles_non_spdx_licences_and_conflicts() -> None:
    doc = export_cyclonedx(gemma_conflict_label())
    parents = doc["metadata"]["component"]["pedigree"]["ancestors"]
    assert parents[0]["licenses"] == [{"license": {"name": "gemma"}}]
    props = [p["value"] for p in doc["metadata"]["component"]["modelCard"]["properties"]
             if p["name"] == "modelkin:lineage:conflict"]  # fmt: skip
    assert len(props) == 2


def _graph(doc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [x for x in doc["@graph"] if x["type"] == kind]


def test_spdx3_ai_and_dataset_profiles(spdx_doc: dict[str, Any]) -> None:
    assert spdx_doc["@context"] == "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
    models = _graph(spdx_doc, "ai_AIPackage")
    model = next(m for m in models if m["spdxId"].endswith("/model"))
    assert model["name"] == "acme-chat-270m" and model["software_primaryPurpose"] == "model"
    (dataset,) = _graph(spdx_doc, "dataset_DatasetPackage")
    assert dataset["dataset_datasetType"] == ["noAssertion"]
    rels = _graph(spdx_doc, "Relationship")
    kinds = {(r["relationshipType"], r["from"] == model["spdxId"]) for r in rels}
    assert ("trainedOn", True) in kinds and ("descendantOf", True) in kinds
    exprs = {e["simplelicensing_licenseExpression"]
             for e in _graph(spdx_doc, "simplelicensing_LicenseExpression")}  # fmt: skip
    assert {"MIT", "LicenseRef-gemma", "CC-BY-NC-4.0"} <= exprs
    # every package has exactly one declared-or-not concluded licence (AI/Dataset profiles)
    packages = [m["spdxId"] for m in models] + [dataset["spdxId"]]
    for pkg in packages:
        concluded = [r for r in rels if r["from"] == pkg
                     and r["relationshipType"] == "hasConcludedLicense"]  # fmt: skip
        assert len(concluded) == 1
    # the Llama parent was contradicted: no descendantOf, an annotation instead
    descendant = [r for r in rels if r["relationshipType"] == "descendantOf"]
    assert len(descendant) == 1 and "forensics: verified" in descendant[0]["comment"]
    (note,) = _graph(spdx_doc, "Annotation")
    assert "Llama-3.2-1B" in note["statement"] and "contradicted" in note["statement"]
    assert "no layer of the child aligns" in note["statement"]


def test_spdx3_validator_rejects_what_the_schema_forbids(spdx_doc: dict[str, Any]) -> None:
    bad = copy.deepcopy(spdx_doc)
    next(x for x in bad["@graph"] if x["type"] == "Relationship")["relationshipType"] = "vibes"
    del _graph(bad, "dataset_DatasetPackage")[0]["dataset_datasetType"]
    with pytest.raises(ExportError, match=r"SPDX 3\.0\.1"):
        validate_spdx3(bad)


CARD = """---
license: other
license_name: acme-research-licence
base_model: google/gemma-3-270m
base_model_relation: adapter
datasets:
- acme/tickets
- allenai/c4
language: en
pipeline_tag: text-generation
---

# acme-chat
"""


def test_hf_card_round_trip_keeps_shared_fields() -> None:
    fields = fields_from_card_text(CARD)
    assert fields.licence == "acme-research-licence" and fields.relation == "adapter"
    assert fields.base_models == ("google/gemma-3-270m",)
    reg = fields.to_registration()
    assert reg["parents"] == [{"name": "google/gemma-3-270m"}] and reg["language"] == ["en"]
    card = export_hf_card(label_from_card_fields(fields, "acme-chat"))
    back = fields_from_card_text(card)
    assert (back.licence, back.base_models, back.relation, back.datasets) == (
        fields.licence, fields.base_models, fields.relation, fields.datasets,
    )  # fmt: skip
    assert "license: other" in card and "license_name: acme-research-licence" in card
    assert "# Model Facts: acme-chat" in card


def test_hf_card_export_of_a_registered_label() -> None:
    card = export_hf_card(minilm_label())
    back = fields_from_card_text(card)
    assert back.licence == "Apache-2.0" and "license: apache-2.0" in card
    assert back.base_models == ("microsoft/MiniLM-L12-H384-uncased",)
    assert back.relation == "finetune" and len(back.datasets) == 3
    # contradicted parents never become base_model
    gemma = fields_from_card_text(export_hf_card(gemma_conflict_label()))
    assert gemma.base_models == ("google/gemma-3-270m",)


def test_hub_licence_ids() -> None:
    assert hub_licence("Apache-2.0") == ("apache-2.0", None)
    assert hub_licence("ODC-By-1.0") == ("odc-by", None)
    assert hub_licence("gemma") == ("gemma", None)
    assert hub_licence("my licence") == ("other", "my licence")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nlicense: [1, 2\n---\n", "cannot parse"),
        ("---\nbase_model_relation: remix\n---\n", "base_model_relation"),
        ("---\nbase_model: {a: 1}\n---\n", "base_model"),
        ("---\nlicense: 5\n---\n", "license"),
    ],
)
def test_hf_card_bad_metadata_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(CardError, match=message):
        fields_from_card_text(text, "README.md")


def test_spdx_licence_expressions() -> None:
    from modelkin.labels.export_spdx import _licence_expression

    assert _licence_expression("apache-2.0") == "Apache-2.0"
    assert _licence_expression("llama3.1") == "LicenseRef-llama3.1"
    assert _licence_expression("CC-BY-SA-4.0 AND odc-by") == "CC-BY-SA-4.0 AND ODC-By-1.0"
    assert _licence_expression("MIT OR my licence") == "MIT OR LicenseRef-my-licence"
