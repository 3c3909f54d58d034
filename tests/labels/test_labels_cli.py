"""``modelkin label`` / ``export`` / ``import-card`` on label JSON files (thin CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from label_samples import minilm_label

from modelkin.cli import main
from modelkin.labels import label_to_json


@pytest.fixture
def label_file(tmp_path: Path) -> Path:
    path = tmp_path / "label.json"
    path.write_text(label_to_json(minilm_label()))
    return path


@pytest.mark.parametrize("fmt", ["html", "png", "svg", "json", "md"])
def test_label_command_writes_each_format(label_file: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out.{fmt}"
    assert main(["label", str(label_file), "--format", fmt, "-o", str(out)]) == 0
    data = out.read_bytes()
    assert len(data) > 1000
    if fmt == "json":
        assert json.loads(data) == json.loads(label_file.read_text())
    if fmt == "png":
        assert data.startswith(b"\x89PNG")


def test_export_and_import_card(label_file: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for fmt in ("cyclonedx", "hf-card"):
        out = tmp_path / f"out-{fmt}"
        assert main(["export", str(label_file), "--format", fmt, "-o", str(out)]) == 0
    assert json.loads((tmp_path / "out-cyclonedx").read_text())["specVersion"] == "1.6"
    capsys.readouterr()
    assert main(["import-card", str(tmp_path / "out-hf-card")]) == 0
    reg = json.loads(capsys.readouterr().out)
    assert reg["license"] == "Apache-2.0" and reg["relation"] == "finetune"


def test_bad_inputs_exit_2_with_one_line(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.json"
    bad.write_text('{"label_version": "1"}')
    assert main(["label", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: not a label-v1 document") and "Traceback" not in err
    assert main(["label", str(tmp_path / "none.json")]) == 2
    assert "label file not found" in capsys.readouterr().err
    assert main(["import-card", str(tmp_path / "README.md")]) == 2
    assert "cannot read model card" in capsys.readouterr().err
    assert main(["label", str(bad), "--format", "pdf"]) == 2  # usage error from Typer
    empty = tmp_path / "no-home"
    assert main(["label", "some-model", "--home", str(empty)]) == 2
    assert "no registry here" in capsys.readouterr().err and not empty.exists()
