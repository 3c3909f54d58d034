"""The CLI: every ledger and witness command, --json output, clear errors (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

from modelkin.cli import main
from modelkin.ledger import merkle as mk


def _run(capsys: object, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()  # type: ignore[attr-defined]
    return code, out.out, out.err


def test_ledger_cli_end_to_end(tmp_path: Path, capsys: object) -> None:
    d = str(tmp_path / "log")
    assert _run(capsys, "ledger", "init", "--dir", d, "--origin", "cli.test/log")[0] == 0
    (tmp_path / "e1.json").write_text('{"type": "t", "n": 1}')
    (tmp_path / "bad.json").write_text("{not json")
    code, out, _ = _run(capsys, "ledger", "append", str(tmp_path / "e1.json"), "--dir", d, "--json")
    r = json.loads(out)
    assert code == 0 and r["index"] == 0 and r["tlog_proof"].startswith("c2sp.org/tlog-proof@v1")
    code, _, err = _run(
        capsys, "ledger", "append", str(tmp_path / "bad.json"), "--require-json", "--dir", d
    )
    assert code == 2 and "bad.json: not valid JSON" in err
    (tmp_path / "big").write_bytes(b"x" * 70000)
    code, _, err = _run(capsys, "ledger", "append", str(tmp_path / "big"), "--dir", d)
    assert code == 2 and "70000 bytes exceeds the 65535-byte entry limit" in err
    for i in range(2, 6):
        (tmp_path / f"e{i}").write_bytes(f"entry {i}".encode())
        assert _run(capsys, "ledger", "append", str(tmp_path / f"e{i}"), "--dir", d)[0] == 0
    code, out, _ = _run(capsys, "ledger", "prove", "2", "--size", "4", "--dir", d, "--json")
    p = json.loads(out)
    proof = [bytes.fromhex(h) for h in p["proof"]]
    leaf = mk.leaf_hash(b"entry 3")
    assert mk.verify_inclusion(leaf, 2, 4, proof, bytes.fromhex(p["root"]))
    code, out, _ = _run(capsys, "ledger", "consistency", "2", "5", "--dir", d, "--json")
    c = json.loads(out)
    assert mk.verify_consistency(
        2,
        5,
        bytes.fromhex(c["old_root"]),
        bytes.fromhex(c["new_root"]),
        [bytes.fromhex(h) for h in c["proof"]],
    )
    code, out, _ = _run(capsys, "ledger", "get", "1", "--dir", d, "--json")
    assert bytes.fromhex(json.loads(out)["entry_hex"]) == b"entry 2"
    code, _, err = _run(capsys, "ledger", "get", "99", "--dir", d)
    assert code == 2 and "entry 99" in err
    code, out, _ = _run(capsys, "ledger", "checkpoint", "--dir", d)
    assert out.startswith("cli.test/log\n5\n")
    code, out, _ = _run(capsys, "ledger", "verify", "--dir", d, "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = _run(capsys, "ledger", "monitor", d, "--state", str(tmp_path / "m.json"))
    assert code == 0 and "ok" in out
    code, out, _ = _run(capsys, "ledger", "tiles", d, str(tmp_path / "tiles"), "--json")
    assert code == 0 and (tmp_path / "tiles/tile/entries/000.p/5").exists()
    code, _, err = _run(capsys, "ledger", "verify", "--dir", str(tmp_path / "missing"))
    assert code == 2 and "no log here" in err


def test_home_option_and_witness_cli(tmp_path: Path, capsys: object) -> None:
    home = str(tmp_path / "home")
    assert _run(capsys, "ledger", "init", "--home", home)[0] == 0
    assert (tmp_path / "home/ledger/log.db").exists()
    (tmp_path / "e").write_bytes(b"hello")
    _run(capsys, "ledger", "append", str(tmp_path / "e"), "--home", home)
    w = str(tmp_path / "w")
    code, out, _ = _run(capsys, "witness", "init", w, "--name", "w.test/w1")
    assert code == 0 and out.startswith("w.test/w1+")
    vkey = (tmp_path / "home/ledger/log.vkey").read_text().strip()
    assert _run(capsys, "witness", "add-log", w, vkey)[0] == 0
    _, req, _ = _run(capsys, "ledger", "checkpoint", "--old", "0", "--home", home)
    (tmp_path / "req").write_text(req)
    code, out, _ = _run(capsys, "witness", "add-checkpoint", w, str(tmp_path / "req"))
    assert code == 0 and out.startswith("\u2014 w.test/w1 ")
    code, out, _ = _run(capsys, "witness", "add-checkpoint", w, str(tmp_path / "req"), "--json")
    assert code == 1 and json.loads(out)["status"] == 409
    code, out, _ = _run(capsys, "witness", "show", w, "--json")
    assert json.loads(out)["logs"]["modelkin.local/log"]["size"] == 1
