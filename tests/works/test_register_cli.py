"""Registering works in a real registry and the ``modelkin works`` commands end to end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from modelkin.cli import main
from modelkin.registry import Registry, register_identity
from modelkin.statements import Identity
from modelkin.works import work_from_dict
from modelkin.works.register import register_work


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def write_work(path: Path, **over: Any) -> Path:
    d: dict[str, Any] = {
        "title": "Harbour at dusk",
        "kind": "image",
        "created": "2024-05-01",
        "authors": [{"name": "Ada", "birth_year": 1980}],
        "ai_use": {
            "systems": [{"name": "ImageGen", "role": "generated", "version": "3"}],
            "ai_share": 0.4,
            "human_contribution": "composition",
        },
    }
    d.update(over)
    path.write_text(json.dumps(d))
    return path


def test_register_work_in_registry(tmp_path: Path, png: Path) -> None:
    home = tmp_path / "home"
    ident = Identity.generate("ada")
    work = work_from_dict(json.loads(write_work(tmp_path / "w.json").read_text()), "w")
    with Registry.open(home) as reg:
        register_identity(reg, ident)
        receipt = register_work(reg, ident, work, png)
        rec = reg.record(receipt.record_id, kind="work")
    digest = hashlib.sha256(png.read_bytes()).hexdigest()
    assert rec.subjects == [(png.name, digest)]
    assert rec.predicate["sha256"] == digest
    assert rec.predicate["ai_use"]["ai_share"] == 0.4
    assert receipt.ledger_index >= 1


def test_cli_end_to_end(
    tmp_path: Path, png: Path, pki: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(tmp_path / "home")
    wjson = write_work(tmp_path / "w.json")
    assert run(capsys, "keys", "new", "ada", "--home", home)[0] == 0
    code, out, err = run(
        capsys,
        "works",
        "register",
        str(png),
        "--work",
        str(wjson),
        "--key",
        "ada",
        "--home",
        home,
        "--json",
    )
    assert code == 0, err
    rid = json.loads(out)["record_id"]

    code, out, _ = run(capsys, "works", "classify", rid, "--home", home, "--json")
    assert code == 0 and json.loads(out)["tier"] == "ai-assisted"

    code, out, _ = run(
        capsys,
        "works",
        "term",
        rid,
        "-j",
        "uk-bill",
        "--as-of",
        "2030-01-01",
        "--home",
        home,
        "--json",
    )
    res = json.loads(out)
    assert (res["rule_id"], res["protected_until"]) == ("uk-bill-tier2", "2049-12-31")
    code, out, _ = run(
        capsys,
        "works",
        "term",
        str(wjson),
        "-j",
        "uk-bill",
        "--param",
        "ai_assisted_years=5",
    )
    assert code == 0 and "2029-12-31" in out and "uk-bill-tier2" in out

    code, out, _ = run(capsys, "works", "disclose", str(wjson), "--format", "html")
    assert code == 0 and 'data-tier="ai-assisted"' in out and "ImageGen" in out
    code, out, _ = run(capsys, "works", "disclose", str(wjson), "--format", "c2pa")
    assert json.loads(out)["assertions"][0]["label"] == "c2pa.actions.v2"

    # sign the disclosure into the image via the CLI, then classify from the manifest
    cert, key, anchors = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "root.pem"
    cert.write_bytes(pki.chain_pem)
    key.write_bytes(pki.key_pem)
    anchors.write_bytes(pki.root_pem)
    signed = tmp_path / "signed.png"
    code, _, err = run(
        capsys,
        "works",
        "disclose",
        str(wjson),
        "--embed-into",
        str(png),
        "--out",
        str(signed),
        "--sign-cert",
        str(cert),
        "--sign-key",
        str(key),
    )
    assert code == 0 and signed.is_file(), err
    bare = write_work(tmp_path / "bare.json", ai_use=None)
    code, out, _ = run(
        capsys,
        "works",
        "classify",
        str(bare),
        "--media",
        str(signed),
        "--trust-anchors",
        str(anchors),
        "--json",
    )
    got = json.loads(out)
    assert got["tier"] == "ai-assisted" and got["manifest"]["validation_failures"] == []

    code, out, _ = run(capsys, "works", "rules", "--json")
    assert {p["id"] for p in json.loads(out)} >= {"uk-bill", "uk-cdpa", "us", "eu", "ie", "jp"}


def test_cli_bad_input(tmp_path: Path, png: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    run(capsys, "keys", "new", "ada", "--home", home)
    wrong = write_work(tmp_path / "wrong.json", sha256="00" * 32)
    code, _, err = run(
        capsys,
        "works",
        "register",
        str(png),
        "--work",
        str(wrong),
        "--key",
        "ada",
        "--home",
        home,
    )
    assert code == 2 and "differs" in err
    future = write_work(tmp_path / "future.json", created="2999-01-01")
    code, _, err = run(capsys, "works", "classify", str(future))
    assert code == 2 and "created" in err and "future" in err
    code, _, err = run(capsys, "works", "term", str(wrong), "-j", "mars")
    assert code == 2 and "no such rule pack" in err
    code, _, err = run(capsys, "works", "term", str(wrong), "-j", "uk-bill", "--param", "x")
    assert code == 2 and "NAME=YEARS" in err
    code, _, err = run(capsys, "works", "classify", "deadbeefcafe", "--home", home)
    assert code == 2


def test_model_edges_and_unknown_model(tmp_path: Path, png: Path) -> None:
    from modelkin.errors import ModelkinError
    from modelkin.works.register import WORK_KIND

    sha = "cd" * 32
    pred = {"ai_use": {"systems": [{"name": "m", "role": "generated", "model": sha}]}}
    edges = WORK_KIND.edges(pred, [])
    assert [(e.src, e.relation) for e in edges] == [(sha, "used_to_make")]
    d = json.loads(write_work(tmp_path / "w.json").read_text())
    d["ai_use"]["systems"][0]["model"] = "no-such-model"
    work = work_from_dict(d, "w")
    ident = Identity.generate("ada")
    with Registry.open(tmp_path / "home") as reg:
        register_identity(reg, ident)
        with pytest.raises(ModelkinError, match="no-such-model"):
            register_work(reg, ident, work, png)
