"""The registry commands end to end (thin CLI over the library)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("modelkin.ledger.merkle", reason="the ledger package is not built yet")

from registry_helpers import make_model_dir

from modelkin.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    h = ("--home", home)
    code, out, _ = _run(capsys, "keys", "new", "alice", *h, "--org", "Alice Labs")
    assert code == 0 and "saved to" in out
    assert (tmp_path / "home" / "keys" / "alice.key").stat().st_mode & 0o777 == 0o600
    code, out, _ = _run(capsys, "keys", "list", *h, "--json")
    assert json.loads(out)[0]["name"] == "alice"
    base = make_model_dir(tmp_path / "base", 0)
    child = make_model_dir(tmp_path / "child", 1)
    for name, path in (("base", base), ("child", child)):
        code, out, err = _run(
            capsys,
            "register",
            "model",
            str(path),
            "--key",
            "alice",
            "--name",
            name,
            "--version",
            "1",
            "--org",
            "Alice Labs",
            "--license",
            "mit",
            "--no-fingerprint",
            "--json",
            *h,
        )
        assert code == 0, err
    receipt = json.loads(out)
    assert receipt["kind"] == "model" and receipt["ledger_index"] == 2
    code, out, err = _run(
        capsys,
        "register",
        "derivation",
        "child",
        "--key",
        "alice",
        "--parent",
        "base",
        "--relation",
        "finetune",
        *h,
    )
    assert code == 0 and "verdict: unverifiable" in out
    code, out, err = _run(
        capsys, "register", "product", "App", "--key", "alice", "--org", "A", "--model", "child", *h
    )
    assert code == 0
    svg = tmp_path / "lineage.svg"
    code, out, _ = _run(capsys, "lineage", "child", "--json", "--svg", str(svg), *h)
    graph = json.loads(out)
    assert {e["relation"] for e in graph["edges"]} == {"finetune", "ships"}
    ET.fromstring(svg.read_text())
    code, out, _ = _run(
        capsys,
        "amend",
        "base",
        "--key",
        "alice",
        "--set",
        "license=apache-2.0",
        "--reason",
        "relicensed",
        *h,
    )
    assert code == 0
    code, out, _ = _run(capsys, "registry", "show", "base", *h)
    shown = json.loads(out)
    assert shown["predicate"]["license"] == "apache-2.0" and shown["proof"]["inclusion_proof"]
    code, out, _ = _run(capsys, "registry", "list", "--all", *h)
    assert "[amended]" in out
    code, out, _ = _run(capsys, "registry", "rebuild", *h)
    assert code == 0 and "replayed 6 ledger entries into 6 records" in out
    # errors: one line, exit 2, no traceback
    code, out, err = _run(
        capsys,
        "register",
        "model",
        str(tmp_path / "nope"),
        "--key",
        "alice",
        "--name",
        "x",
        "--version",
        "1",
        "--org",
        "o",
        "--license",
        "l",
        *h,
    )
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    code, out, err = _run(capsys, "lineage", "unknown-model", *h)
    assert code == 2 and "no active" in err
    code, out, err = _run(
        capsys, "withdraw", "base", "--key", str(tmp_path / "missing.key"), "--reason", "x", *h
    )
    assert code == 2 and "key file not found" in err
