"""Predicate schemas and file manifests."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from modelkin.errors import StatementError
from modelkin.statements import KINDS, get_kind, kind_for_predicate_type, manifest_digest
from modelkin.statements.manifest import scan_directory


def test_every_kind_has_its_predicate_type() -> None:
    for name in ("identity", "model", "dataset", "training-run", "derivation", "product"):
        kind = get_kind(name)
        assert kind.predicate_type == f"https://modelkin.org/predicate/{name}/v1"
        assert kind_for_predicate_type(kind.predicate_type, "x") is kind
        assert kind.schema()["$schema"].endswith("2020-12/schema")
    with pytest.raises(StatementError, match="unknown predicateType"):
        kind_for_predicate_type("https://example.com/x", "x")
    assert "work" in KINDS


def test_derivation_schema_relation_rules() -> None:
    k = get_kind("derivation")
    child = {"sha256": "a" * 64}
    k.validate({"child": child, "parents": [], "relation": "none"}, "x")
    k.validate({"child": child, "parents": [{"sha256": "b" * 64}], "relation": "finetune"}, "x")
    with pytest.raises(StatementError, match="parents"):
        k.validate({"child": child, "parents": [{"sha256": "b" * 64}], "relation": "none"}, "x")
    with pytest.raises(StatementError, match="parents"):
        k.validate({"child": child, "parents": [], "relation": "finetune"}, "x")
    with pytest.raises(StatementError, match="relation"):
        k.validate({"child": child, "parents": [], "relation": "stolen"}, "x")


def test_training_run_schema_checks_dates() -> None:
    k = get_kind("training-run")
    p = {
        "name": "r",
        "hardware": {"kind": "H100", "count": 8},
        "started_at": "2026-01-01T00:00:00Z",
        "ended_at": "yesterday",
        "inputs": {"models": [], "datasets": []},
        "output": {"sha256": "c" * 64},
    }
    with pytest.raises(StatementError, match="ended_at"):
        k.validate(p, "x")


def test_manifest_digest_matches_sha256sum(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.bin").write_bytes(b"\x00" * 100)
    (tmp_path / "sub" / "a.json").write_text("{}")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("x")
    files = scan_directory(tmp_path)
    assert [f["name"] for f in files] == ["b.bin", "sub/a.json"]
    out = subprocess.run(
        "find . -type f -not -path './.git/*' | sed 's|^./||' | sort | xargs sha256sum",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        check=True,
    ).stdout
    assert manifest_digest(files) == hashlib.sha256(out).hexdigest()
    # renaming a file changes the digest even though per-file digests are unchanged
    swapped = [dict(files[0], name="c.bin"), files[1]]
    assert manifest_digest(swapped) != manifest_digest(files)
    with pytest.raises(StatementError, match="twice"):
        manifest_digest([files[0], files[0]])
    with pytest.raises(StatementError, match="relative"):
        manifest_digest([dict(files[0], name="../x")])
    json.dumps(files)
