"""The label model: JSON round trip and the published label-v1 schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from label_samples import gemma_conflict_label, minilm_label

from modelkin.labels import LabelError, label_from_dict, label_to_dict, label_to_json, read_label
from modelkin.labels.model import MAX_LABEL_BYTES, label_schema


def test_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(label_schema())


@pytest.mark.parametrize("make", [minilm_label, gemma_conflict_label])
def test_json_round_trip_is_lossless(make) -> None:  # type: ignore[no-untyped-def]
    label = make()
    doc = json.loads(label_to_json(label))
    assert label_from_dict(doc) == label
    assert label_to_dict(label_from_dict(doc)) == doc


def test_sections_are_in_label_order() -> None:
    keys = list(label_to_dict(minilm_label()))
    assert keys[3:] == ["identity", "lineage", "training_data", "compute", "use", "disclosure"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("identity", "weight_digest"), "md5:abc", "does not match"),
        (("lineage", "parents", 0, "status"), "probably", "is not one of"),
        (("training_data", "known_licence_share"), 1.5, "greater than the maximum"),
        (("label_version",), "2", "was expected"),
        (("disclosure", "total"), 0, "less than the minimum"),
    ],
)
def test_schema_rejects_bad_values(path: tuple, value: object, message: str) -> None:
    doc = label_to_dict(minilm_label())
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(LabelError, match=message):
        label_from_dict(doc, "x.json")


def test_schema_rejects_missing_section_and_unknown_keys() -> None:
    doc = label_to_dict(minilm_label())
    del doc["compute"]
    with pytest.raises(LabelError, match="compute"):
        label_from_dict(doc)
    doc = label_to_dict(minilm_label())
    doc["identity"]["nickname"] = "x"
    with pytest.raises(LabelError, match="nickname"):
        label_from_dict(doc)


def test_read_label_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(LabelError, match="cannot read"):
        read_label(missing)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LabelError) as err:
        read_label(bad)
    assert err.value.where == str(bad) and "not JSON" in err.value.problem
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(LabelError, match="not JSON"):
        read_label(binary)
    huge = tmp_path / "huge.json"
    with huge.open("wb") as f:
        f.truncate(MAX_LABEL_BYTES + 1)
    with pytest.raises(LabelError, match="more than"):
        read_label(huge)
    good = tmp_path / "good.json"
    good.write_text(label_to_json(minilm_label()))
    assert read_label(good) == minilm_label()
