"""The faults of issue 17, one test each: every one failed on main before the fix (the
modules the fixes added are imported inside the tests, so the rest still runs there).

Deleted checkpoint rows, damaged SQLite pages, sizes above 2^64-1, a consistency "proof"
from size 0, tiles into a file, negative indexes, a consistently rewritten history,
non-canonical JSON and empty entries."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from modelkin.cli import main
from modelkin.errors import LedgerError
from modelkin.ledger import Ledger, note
from modelkin.ledger import merkle as mk
from modelkin.ledger.checkpoint import Checkpoint, open_checkpoint
from modelkin.ledger.checkpoint import parse as parse_checkpoint
from modelkin.ledger.tlogproof import parse_proof
from modelkin.ledger.witness import Witness, format_request, parse_request
from postgres.cluster import libpq

ORIGIN = "faults.test/log"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _sql(d: Path, url: str | None, sql: str, *args: object) -> None:
    """Change rows behind the log's back (SQLite file or PostgreSQL ``ledger_`` tables)."""
    if url is None:
        conn = sqlite3.connect(d / "log.db")
        conn.execute(sql, args)
        conn.commit()
        conn.close()
        return
    for table in ("entries", "checkpoints", "hashes", "meta"):
        sql = sql.replace(f" {table}", f" ledger_{table}")
    with psycopg.connect(libpq(url), autocommit=True) as pg:
        pg.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]


def _filled(d: Path, url: str | None, batches: int = 10) -> list[str]:
    with Ledger.open(d, origin=ORIGIN, db_url=url) as log:
        for b in range(batches):
            log.append_many([f"b{b}-{i}".encode() for i in range(10)])
        assert log.verify().ok
        return log.checkpoints()


# ---- checkpoint rows deleted ---------------------------------------------------------
@pytest.mark.parametrize("which", ["one", "latest", "all"])
def test_deleted_checkpoint_rows_are_found(tmp_path: Path, db_url: str | None, which: str) -> None:
    cps = _filled(tmp_path, db_url)
    assert len(cps) == 11
    from modelkin.ledger.verify import verify_directory

    where = {"one": "size=50", "latest": "size=100", "all": "1=1"}[which]
    _sql(tmp_path, db_url, f"DELETE FROM checkpoints WHERE {where}")
    rep = verify_directory(tmp_path, db_url)
    text = "\n".join(rep.problems)
    assert not rep.ok
    want = {"one": 1, "latest": 1, "all": 11}[which]
    assert f"{want} checkpoint rows deleted" in text
    if which != "one":
        assert "checkpoint at the committed size 100 is missing" in text
    # the served checkpoint is never older than the log, and is the very note it signed
    with Ledger.open(tmp_path, db_url=db_url) as log:
        assert log.size() == 100
        assert log.checkpoint() == cps[-1]
        r = log.append(b"after the deletion")
        v = note.Verifier.parse(log.verifier_key())
        assert open_checkpoint(r.checkpoint, v)[0].size == 101


def test_deleted_checkpoints_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _filled(tmp_path / "log", None)
    _sql(tmp_path / "log", None, "DELETE FROM checkpoints WHERE size=100")
    code, out, _ = _run(capsys, "ledger", "checkpoint", "--dir", str(tmp_path / "log"))
    assert code == 0 and out.startswith(f"{ORIGIN}\n100\n")
    code, out, _ = _run(capsys, "ledger", "verify", "--dir", str(tmp_path / "log"))
    assert (
        code == 1
        and "1 checkpoint rows deleted" in out
        and out.rstrip().endswith("FAILED: 100 entries, 10 checkpoints")
    )


# ---- damaged SQLite pages ------------------------------------------------------------
def _damage(d: Path) -> tuple[int, bytes]:
    """A log with many pages, then garbage written over a few pages in the middle."""
    with Ledger.open(d, origin=ORIGIN) as log:
        log.append_many([os.urandom(300) for _ in range(3000)])
        log._store.wal_checkpoint()  # type: ignore[attr-defined]
    db = d / "log.db"
    data = bytearray(db.read_bytes())
    pages = len(data) // 4096
    rng = random.Random(7)
    for p in (pages // 3, pages // 2, pages // 2 + 1):
        data[p * 4096 : (p + 1) * 4096] = rng.randbytes(4096)
    db.write_bytes(bytes(data))
    return pages, hashlib.sha256(data).digest()


def test_damaged_sqlite_pages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "log"
    _, before = _damage(d)
    code, out, err = _run(capsys, "ledger", "verify", "--dir", str(d))
    assert code == 1 and "Traceback" not in out + err and "FAILED" in out
    from modelkin.ledger.verify import verify_directory

    rep = verify_directory(d)
    assert not rep.ok
    assert any("database integrity check" in p or "malformed" in p for p in rep.problems)
    (tmp_path / "e").write_bytes(b"new entry")
    code, _, err = _run(capsys, "ledger", "append", str(tmp_path / "e"), "--dir", str(d))
    assert code == 2 and "database is corrupted" in err and "refusing to write" in err
    with pytest.raises(LedgerError, match="refusing to write"), Ledger.open(d) as log:
        log.append(b"another")
    assert hashlib.sha256((d / "log.db").read_bytes()).digest() == before  # nothing written


# ---- sizes above 2^64-1 --------------------------------------------------------------
BIG = 1 << 64


def test_sizes_above_u64_refused_everywhere(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "log", origin=ORIGIN) as log:
        log.append_many([b"a", b"b", b"c"])
        signer = note.Signer.parse((tmp_path / "log/log.key").read_text())
        real = log.checkpoint()
        root = log.root()
    forged = note.sign(Checkpoint(ORIGIN, BIG, root).body(), signer)
    w = Witness.init(tmp_path / "w", "witness.test/w1")
    w.add_log(str(signer.verifier))
    res = w.add_checkpoint(0, [], forged)
    assert res.status == 400 and "above 2^64-1" in res.message
    assert w.logs()[ORIGIN]["size"] == 0  # nothing recorded: the witness is not stuck
    assert w.add_checkpoint(0, [], real).ok
    assert w.add_checkpoint(BIG, [], real).status == 400
    with pytest.raises(LedgerError, match="above 2"):
        parse_request(format_request(BIG, [], real))
    with pytest.raises(LedgerError, match="bad old size"):
        parse_request("old 07\n\n" + real)  # no leading zeros
    with pytest.raises(LedgerError, match="above 2"):
        parse_checkpoint(f"o\n{BIG}\n{note.b64(root)}\n")
    assert parse_checkpoint(f"o\n{BIG - 1}\n{note.b64(root)}\n").size == BIG - 1
    with pytest.raises(LedgerError, match="bad tree size"):
        parse_checkpoint(f"o\n\u0661\n{note.b64(root)}\n")  # a non-ASCII digit
    with pytest.raises(LedgerError, match="above 2"):
        parse_proof(f"c2sp.org/tlog-proof@v1\nindex {BIG}\n\n{real}")
    assert not mk.verify_inclusion(mk.leaf_hash(b"a"), 0, BIG, [bytes(32)] * 64, root)
    assert not mk.verify_consistency(1, BIG, root, root, [bytes(32)] * 64)
    with pytest.raises(ValueError):
        mk.inclusion_proof(0, BIG, lambda lv, i: bytes(32))


# ---- consistency from 0, tiles into a file, negative indexes -------------------------
def test_cli_argument_faults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(tmp_path / "log")
    _filled(tmp_path / "log", None, batches=1)
    code, out, err = _run(capsys, "ledger", "consistency", "0", "10", "--dir", d)
    assert code == 2 and out == "" and "no consistency proof from size 0" in err
    code, out, _ = _run(capsys, "ledger", "checkpoint", "--old", "0", "--dir", d)
    assert code == 0 and out.startswith("old 0\n\n")  # a witness request from 0: no proof
    (tmp_path / "file").write_text("x")
    code, _, err = _run(capsys, "ledger", "tiles", d, str(tmp_path / "file"))
    assert code == 2 and "not a directory" in err and "Traceback" not in err
    for args in (["get", "-1"], ["prove", "-1"], ["consistency", "-2", "3"]):
        code, _, err = _run(capsys, "ledger", *args, "--dir", d)
        assert code == 2 and "must be 0 or more" in err, args


# ---- a consistently rewritten history ------------------------------------------------
def _rewrite(d: Path) -> None:
    """Replace entry 3's bytes and recompute every hash and re-sign every checkpoint with
    the log's own key: only signed.state, kept outside the database, remembers."""
    conn = sqlite3.connect(d / "log.db")
    rows = [bytes(r[0]) for r in conn.execute("SELECT data FROM entries ORDER BY idx")]
    rows[3] = b"rewritten"
    leaves = [mk.leaf_hash(r) for r in rows]
    conn.execute("UPDATE entries SET data=?, leaf=? WHERE idx=3", (rows[3], leaves[3]))

    def get(level: int, index: int) -> bytes:
        return mk.root_from_leaves(leaves[index << level : (index + 1) << level])

    for (hid,) in conn.execute("SELECT id FROM hashes").fetchall():
        level, index = hid >> 48, hid & ((1 << 48) - 1)
        conn.execute("UPDATE hashes SET hash=? WHERE id=?", (get(level, index), hid))
    signer = note.Signer.parse((d / "log.key").read_text())
    for (size,) in conn.execute("SELECT size FROM checkpoints").fetchall():
        root = mk.root_from_leaves(leaves[:size])
        text = note.sign(Checkpoint(ORIGIN, size, root).body(), signer)
        conn.execute("UPDATE checkpoints SET root=?, note=? WHERE size=?", (root, text, size))
    conn.commit()
    conn.close()


def test_rewritten_history_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "log"
    _filled(d, None, batches=2)
    _rewrite(d)
    with pytest.raises(LedgerError, match="differs from the root the log signed"):
        Ledger.open(d)  # never appended to
    code, out, err = _run(capsys, "ledger", "verify", "--dir", str(d))
    assert code == 1 and "Traceback" not in err
    assert "history rewritten" in out and "signed at size 20" in out


# ---- canonical JSON and empty entries ------------------------------------------------
@pytest.mark.parametrize(
    ("text", "why"),
    [
        (b'{"b":1,"a":2}', "canonical form"),
        (b'{"a": 1}', "canonical form"),
        (b'{"a":1.0}', "canonical form"),
        (b'{"a":1,"a":2}', "duplicate key"),
        (b'{"a":NaN}', "NaN is not a JSON number"),
        (b'{"a":Infinity}', "Infinity is not a JSON number"),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b'{"a":"\xff"}', "not UTF-8"),
        (b'{"a":1}\n', "canonical form"),
        (b"", "empty entry"),
    ],
)
def test_require_json_is_rfc8785(text: bytes, why: str) -> None:
    from modelkin.ledger.entries import require_canonical_json

    with pytest.raises(LedgerError, match=why):
        require_canonical_json(text, "entry")


def test_require_json_cli_and_empty_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path / "log")
    assert _run(capsys, "ledger", "init", "--dir", d, "--origin", ORIGIN)[0] == 0
    cases = {"dup.json": b'{"a":1,"a":2}', "nan.json": b'{"a":NaN}', "ws.json": b'{ "a":1 }'}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        code, _, err = _run(capsys, "ledger", "append", str(tmp_path / name), "--require-json",
                            "--dir", d)  # fmt: skip
        assert code == 2 and name in err, name
    (tmp_path / "ok.json").write_bytes(json.dumps({"b": [1, 2], "a": "x"}, sort_keys=True,
                                                  separators=(",", ":")).encode())  # fmt: skip
    assert _run(capsys, "ledger", "append", str(tmp_path / "ok.json"), "--require-json",
                "--dir", d)[0] == 0  # fmt: skip
    (tmp_path / "empty").write_bytes(b"")
    code, _, err = _run(capsys, "ledger", "append", str(tmp_path / "empty"), "--dir", d)
    assert code == 2 and "empty entry" in err
    with Ledger.open(Path(d)) as log, pytest.raises(LedgerError, match="empty entry"):
        log.append_many([b"fine", b""])
    with Ledger.open(Path(d)) as log:
        assert log.size() == 1


# ---- start-up of `modelkin ledger append` --------------------------------------------
def test_ledger_append_imports_only_what_it_needs(tmp_path: Path) -> None:
    """A structural check (timings are in benchmarks/): appending one entry from the CLI
    loads neither the registry's nor the forensics' nor the server's dependencies."""
    d = tmp_path / "log"
    Ledger.open(d, origin=ORIGIN).close()
    (tmp_path / "e").write_bytes(b"x")
    code = (
        "import sys; from modelkin.cli import main\n"
        f"rc = main(['ledger', 'append', {str(tmp_path / 'e')!r}, '--dir', {str(d)!r}])\n"
        "heavy = {'numpy', 'sqlalchemy', 'fastapi', 'rich', 'jsonschema', 'torch', 'scipy'}\n"
        "print(rc, sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stdout + out.stderr


def test_integrity_check_is_skipped_only_for_an_unchanged_file(tmp_path: Path) -> None:
    """The O(database) check runs before a process's first write unless log.db is exactly
    as it was when last found sound; any write by anything else makes it run again."""
    from modelkin.ledger._store_sqlite import SqliteStore

    d = tmp_path / "log"
    with Ledger.open(d, origin=ORIGIN) as log:
        log.append(b"one")
        log._store.wal_checkpoint()  # type: ignore[attr-defined]
    store = SqliteStore(d)
    calls: list[bool] = []
    real = store.integrity_check

    def counting(quick: bool) -> list[str]:
        calls.append(quick)
        return real(quick)

    store.integrity_check = counting  # type: ignore[method-assign]
    assert store.writable_problems() == [] and calls == [True]  # folded WAL: checked again
    assert store.writable_problems() == [] and calls == [True]  # unchanged: skipped
    os.utime(d / "log.db", ns=(1, 1))  # touched by someone else
    assert store.writable_problems() == [] and calls == [True, True]
    store.close()
