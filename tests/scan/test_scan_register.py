"""Registering scanned models: once each, also across reruns and crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelkin.cli import main
from modelkin.fingerprint import Fingerprint
from modelkin.registry import Registry, register_identity
from modelkin.scan import ScanOptions, SerialRunner, collect, scan_collection
from modelkin.scan.journal import JOURNAL_NAME
from modelkin.scan.register import Registrar
from modelkin.statements import Identity


def _scan(collection: Path, out: Path, home: Path, ident: Identity) -> object:
    with Registry.open(home) as reg:
        registrar = Registrar(reg, ident, organisation="Acme Hub")
        return scan_collection(
            collect(collection), SerialRunner(), ScanOptions(out_dir=out), registrar
        )


def test_each_model_registered_once_across_reruns_and_crashes(
    collection: Path, tmp_path: Path
) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    ident = Identity.generate("hub")
    with Registry.open(home) as reg:
        register_identity(reg, ident, "Acme Hub")
    first = _scan(collection, out, home, ident)
    assert (first.registered, first.already_registered) == (4, 0)  # type: ignore[attr-defined]
    again = _scan(collection, out, home, ident)
    assert (again.registered, again.done) == (0, 0)  # type: ignore[attr-defined]
    # a crash after submitting, before journaling: the registry is asked, not trusted blindly
    journal = out / JOURNAL_NAME
    lines = [ln for ln in journal.read_text().splitlines() if '"registered"' not in ln]
    journal.write_text("\n".join(lines) + "\n")
    third = _scan(collection, out, home, ident)
    assert (third.registered, third.already_registered) == (0, 4)  # type: ignore[attr-defined]
    with Registry.open(home) as reg:
        models = reg.models()
        assert sorted(m.name or "" for m in models) == [
            "acme/alpha",
            "acme/beta",
            "zeta/delta",
            "zeta/gamma",
        ]
        alpha = next(m for m in models if m.name == "acme/alpha")
        blob = reg.blobs.path(alpha.predicate["fingerprint"]["blob"])
        assert Fingerprint.load(blob).digest() == alpha.predicate["fingerprint"]["digest"]
        assert alpha.predicate["format"] == "hf-safetensors"


def test_cli_json_summary_exit_codes_and_registration(
    collection: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    assert main(["keys", "new", "hub", "--home", str(home), "--org", "Acme Hub"]) == 0
    capsys.readouterr()
    args = ["scan-collection", str(collection), "-o", str(out), "--home", str(home)]
    code = main([*args, "-k", "hub", "--org", "Acme Hub", "--json", "--retries", "0"])
    assert code == 1  # the broken model
    summary = json.loads(capsys.readouterr().out)
    assert (summary["done"], summary["registered"], summary["runner"]["runner"]) == (4, 4, "serial")
    assert summary["failed"][0]["name"] == "broken"
    assert main([*args, "-k", "hub"]) == 2
    assert "needs --org" in capsys.readouterr().err
    assert main([*args, "--mode", "slow"]) == 2
    assert "unknown mode" in capsys.readouterr().err
    (collection / "broken" / "model.safetensors").unlink()
    (collection / "broken" / "config.json").unlink()
    assert main([*args, "--workers", "1"]) == 0
    assert "4 already done" in capsys.readouterr().out
