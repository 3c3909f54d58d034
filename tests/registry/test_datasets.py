"""Dataset manifests and importers (Croissant JSON-LD with RAI, Hugging Face cards)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from modelkin.errors import ModelkinError
from modelkin.registry import (
    Registry,
    dataset_from_croissant,
    dataset_from_hf_card,
    register_dataset,
)
from modelkin.registry.datasets import dataset_leaves, dataset_root
from modelkin.statements import Identity

CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "prov": "http://www.w3.org/ns/prov#",
    "sc": "https://schema.org/",
    "dct": "http://purl.org/dc/terms/",
    "citeAs": "cr:citeAs",
    "conformsTo": "dct:conformsTo",
    "recordSet": "cr:recordSet",
    "field": "cr:field",
    "source": "cr:source",
    "fileObject": "cr:fileObject",
    "extract": "cr:extract",
    "column": "cr:column",
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
}


def _shards(tmp: Path) -> Path:
    data = tmp / "data"
    data.mkdir()
    (data / "train-00000.jsonl").write_text('{"text": "Guten Tag"}\n')
    (data / "train-00001.jsonl").write_text('{"text": "Good day"}\n')
    return data


def _croissant(tmp: Path, data: Path, tamper: bool = False) -> Path:
    def sha(name: str) -> str:
        digest = hashlib.sha256((data / name).read_bytes()).hexdigest()
        return ("0" * 64) if tamper and name.endswith("1.jsonl") else digest

    doc = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": "http://mlcommons.org/croissant/1.1",
        "name": "greetings",
        "description": "Greetings in two languages.",
        "license": "https://spdx.org/licenses/CC-BY-4.0.html",
        "url": "https://data.example.org/greetings",
        "version": "1.2.0",
        "datePublished": "2026-03-01",
        "citeAs": "@misc{greetings}",
        "creator": {"@type": "sc:Organization", "name": "Example Data Co"},
        "inLanguage": ["de", "en"],
        "prov:wasDerivedFrom": [
            {"@id": "https://data.example.org/raw-greetings", "name": "raw greetings"}
        ],
        "rai:dataCollection": "Volunteers typed greetings into a web form.",
        "rai:dataCollectionTimeframe": "2025-01/2025-06",
        "rai:personalSensitiveInformation": "Names of volunteers appear in some greetings.",
        "rai:dataBiases": "Only two languages.",
        "rai:dataLimitations": "Tiny.",
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": f,
                "name": f,
                "contentUrl": f,
                "encodingFormat": "application/jsonlines",
                "sha256": sha(f),
                "contentSize": str((data / f).stat().st_size),
            }
            for f in ("train-00000.jsonl", "train-00001.jsonl")
        ]
        + [{"@type": "cr:FileSet", "@id": "all", "includes": "*.jsonl"}],
        "recordSet": [{"@type": "cr:RecordSet", "name": "default", "field": []}],
    }
    path = tmp / ("bad.json" if tamper else "croissant.json")
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_merkle_root_is_rfc6962(tmp_path: Path) -> None:
    files = [{"name": "b", "sha256": "1" * 64}, {"name": "a", "sha256": "2" * 64}]
    leaves = dataset_leaves(files)
    assert leaves == [f"{'2' * 64}  a".encode(), f"{'1' * 64}  b".encode()]

    def h(b: bytes) -> bytes:
        return hashlib.sha256(b).digest()

    expected = h(b"\x01" + h(b"\x00" + leaves[0]) + h(b"\x00" + leaves[1])).hex()
    assert dataset_root(files) == expected


def test_croissant_import(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    data = _shards(tmp_path)
    path = _croissant(tmp_path, data)
    pred = dataset_from_croissant(path)
    assert pred["name"] == "greetings" and pred["version"] == "1.2.0"
    assert pred["organisation"] == "Example Data Co"
    assert pred["licenses"] == ["CC-BY-4.0"]  # licence URL normalised to its SPDX id
    assert pred["languages"] == ["de", "en"]
    assert pred["sources"][0]["url"] == "https://data.example.org/raw-greetings"
    assert pred["personal_data"]["present"] is True
    assert "Volunteers" in pred["collection"] and "2025-01" in pred["collection"]
    assert pred["rai"]["dataBiases"] == "Only two languages."
    assert [f["name"] for f in pred["manifest"]["files"]] == [
        "train-00000.jsonl",
        "train-00001.jsonl",
    ]
    assert pred["imported_from"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # with the data at hand the digests are recomputed and agree
    assert dataset_from_croissant(path, data)["manifest"] == pred["manifest"]
    receipt = register_dataset(reg, alice, pred)
    rec = reg.record(receipt.record_id)
    assert rec.digest == pred["manifest"]["merkle_root"] and rec.kind == "dataset"
    with pytest.raises(ModelkinError, match="does not match the Croissant"):
        dataset_from_croissant(_croissant(tmp_path, data, tamper=True), data)


def test_croissant_rejects_non_croissant(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"name": "x"}')
    with pytest.raises(ModelkinError, match="@context"):
        dataset_from_croissant(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{not json")
    with pytest.raises(ModelkinError, match="not JSON"):
        dataset_from_croissant(tmp_path / "y.json")


def test_hf_card_import(reg: Registry, alice: Identity, tmp_path: Path) -> None:
    data = _shards(tmp_path)
    card = tmp_path / "README.md"
    card.write_text(
        "---\n"
        "pretty_name: Greetings\n"
        "license: cc-by-4.0\n"
        "language:\n- de\n- en\n"
        "language_creators:\n- crowdsourced\n"
        "annotations_creators:\n- no-annotation\n"
        "source_datasets:\n- original\n- example/raw-greetings\n"
        "size_categories:\n- n<1K\n"
        "---\n\n# Dataset Card for Greetings\n\n"
        "### Personal and Sensitive Information\n\n"
        "The dataset does not contain personal information.\n\n"
        "### Licensing Information\n\nCC BY 4.0\n"
    )
    pred = dataset_from_hf_card(card, data, consent="obtained")
    assert pred["name"] == "Greetings" and pred["licenses"] == ["cc-by-4.0"]
    assert pred["languages"] == ["de", "en"]
    assert pred["sources"] == [{"name": "example/raw-greetings", "url": None, "license": None}]
    assert "crowdsourced" in pred["collection"] and "original data" in pred["collection"]
    assert pred["personal_data"]["present"] is False
    assert pred["consent"]["status"] == "obtained"
    register_dataset(reg, alice, pred)
    (tmp_path / "bad.md").write_text("no front matter")
    with pytest.raises(ModelkinError, match="front matter"):
        dataset_from_hf_card(tmp_path / "bad.md", data)
