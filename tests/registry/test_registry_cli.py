"""The registry commands end to end (thin CLI over the library)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from registry_helpers import make_model_dir

from modelkin.cli import main


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str], db_url: str | None) -> None:
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
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-0.txt").write_text("some text")
    code, out, err = _run(
        capsys,
        "register",
        "dataset",
        str(data),
        "--key",
        "alice",
        "--name",
        "corpus",
        "--license",
        "cc0-1.0",
        "--language",
        "en",
        "--consent",
        "obtained",
        "--no-personal-data",
        "--tokens",
        "2",
        *h,
    )
    assert code == 0, err
    code, out, err = _run(
        capsys,
        "register",
        "dataset",
        str(data),
        "--key",
        "alice",
        "--name",
        "x",
        "--consent",
        "maybe",
        *h,
    )
    assert code == 2 and "consent" in err
    curve = tmp_path / "loss.csv"
    curve.write_text("step,loss\n0,3.0\n")
    code, out, err = _run(
        capsys,
        "register",
        "run",
        "--key",
        "alice",
        "--name",
        "ft",
        "--hardware",
        "H100",
        "--count",
        "8",
        "--start",
        "2026-01-01T00:00:00Z",
        "--end",
        "2026-01-01T08:00:00Z",
        "--output",
        "child",
        "--input-model",
        "base",
        "--dataset",
        "corpus",
        "--loss-curve",
        str(curve),
        *h,
    )
    assert code == 0, err
    code, out, _ = _run(capsys, "registry", "list", "--search", "corpus", "--json", *h)
    assert {r["kind"] for r in json.loads(out)} == {"dataset", "training-run"}
    code, out, _ = _run(capsys, "keys", "show", "alice", *h)
    assert "BEGIN PUBLIC KEY" in json.loads(out)["public_key_pem"]
    svg = tmp_path / "lineage.svg"
    code, out, _ = _run(capsys, "lineage", "child", "--json", "--svg", str(svg), *h)
    graph = json.loads(out)
    assert {e["relation"] for e in graph["edges"]} == {
        "finetune",
        "ships",
        "produced",
        "input_model",
        "trained_on",
    }
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
    # 8 statements, the registry's verifier identity and its verification of the claim
    assert code == 0 and "replayed 10 ledger entries into 10 records" in out
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
