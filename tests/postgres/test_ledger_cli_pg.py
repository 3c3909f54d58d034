"""``modelkin ledger ... --db-url``: the log's rows in PostgreSQL, key in the directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelkin.cli import main
from modelkin.ledger import merkle as mk


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ledger_cli_on_postgres(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = ("--dir", str(tmp_path / "log"), "--db-url", pg_url)
    assert _run(capsys, "ledger", "init", *d, "--origin", "pg.test/log")[0] == 0
    assert not (tmp_path / "log/log.db").exists()  # rows live in PostgreSQL
    code, _, err = _run(capsys, "ledger", "init", *d)
    assert code == 2 and "a log already exists here" in err
    for i in range(3):
        (tmp_path / f"e{i}").write_bytes(f"entry {i}".encode())
        assert _run(capsys, "ledger", "append", str(tmp_path / f"e{i}"), *d)[0] == 0
    code, out, _ = _run(capsys, "ledger", "prove", "1", *d, "--json")
    p = json.loads(out)
    proof = [bytes.fromhex(h) for h in p["proof"]]
    assert mk.verify_inclusion(mk.leaf_hash(b"entry 1"), 1, 3, proof, bytes.fromhex(p["root"]))
    code, out, _ = _run(capsys, "ledger", "verify", *d, "--json")
    assert code == 0 and json.loads(out)["ok"] is True and json.loads(out)["size"] == 3
    code, out, _ = _run(capsys, "ledger", "checkpoint", *d)
    assert out.startswith("pg.test/log\n3\n")
    m = ("--state", str(tmp_path / "m.json"), "--db-url", pg_url)
    code, out, _ = _run(capsys, "ledger", "monitor", str(tmp_path / "log"), *m)
    assert code == 0 and "ok" in out
    code, out, _ = _run(
        capsys, "ledger", "tiles", str(tmp_path / "log"), str(tmp_path / "t"), *d[2:]
    )
    assert code == 0 and (tmp_path / "t/tile/entries/000.p/3").exists()
