"""The durable log: appends, duplicates, limits, proofs, restore refusal, tamper detection.

Tests taking ``db_url`` run on both backends (SQLite file, PostgreSQL database); the ones
that copy or corrupt ``log.db`` files are about the SQLite file itself.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import psycopg
import pytest

from modelkin.errors import LedgerError, NotFoundError
from modelkin.ledger import MAX_ENTRY, Ledger, note
from modelkin.ledger import merkle as mk
from modelkin.ledger.checkpoint import open_checkpoint
from modelkin.ledger.tlogproof import parse_proof, verify_proof
from postgres.cluster import fresh_database, libpq

ORIGIN = "modelkin.test/log"


def _open(path: Path, db_url: str | None = None) -> Ledger:
    return Ledger.open(path, origin=ORIGIN, db_url=db_url)


def test_checkpoint_pages_are_keyset_pages(tmp_path: Path, db_url: str | None) -> None:
    """``checkpoints_page``: bounded pages by tree size, either way, that match the full list."""
    with _open(tmp_path, db_url) as log:
        for i in range(6):
            log.append(f"p{i}".encode())
        every = log.checkpoints()
        sizes = [int(c.split("\n")[1]) for c in every]
        assert sizes == list(range(7))
        first = log.checkpoints_page(limit=3)
        assert [s for s, _ in first] == [0, 1, 2] and [n for _, n in first] == every[:3]
        assert [s for s, _ in log.checkpoints_page(after=2, limit=3)] == [3, 4, 5]
        assert [s for s, _ in log.checkpoints_page(after=5, limit=3)] == [6]
        newest = log.checkpoints_page(limit=2, newest_first=True)
        assert [s for s, _ in newest] == [6, 5] and newest[0][1] == every[-1]
        assert [s for s, _ in log.checkpoints_page(after=1, newest_first=True)] == [0]


def test_append_returns_verifiable_proof_and_checkpoint(tmp_path: Path, db_url: str | None) -> None:
    with _open(tmp_path, db_url) as log:
        assert log.size() == 0 and log.root() == mk.EMPTY_ROOT
        v = note.Verifier.parse(log.verifier_key())
        assert open_checkpoint(log.checkpoint(), v)[0].size == 0  # empty log is signed too
        results = [log.append(f"e{i}".encode()) for i in range(10)]
        for r in results:
            cp, _ = open_checkpoint(r.checkpoint, v)
            assert cp.size == r.tree_size
            assert mk.verify_inclusion(r.leaf_hash, r.index, cp.size, r.inclusion_proof, cp.root)
            assert not r.duplicate
        assert [r.index for r in results] == list(range(10))
        assert log.entries(2, 5) == [b"e2", b"e3", b"e4"]
        assert log.index_of(mk.leaf_hash(b"e7")) == 7 and log.index_of(bytes(32)) is None
        assert log.root() == mk.root_from_entries([f"e{i}".encode() for i in range(10)])
        assert len(log.checkpoints()) == 11
        assert mk.verify_consistency(3, 10, log.root(3), log.root(), log.consistency_proof(3, 10))
        with pytest.raises(LedgerError, match="no consistency proof from size 0"):
            log.consistency_proof(0, 10)  # nothing to prove: never an empty "proof"


def test_duplicates_return_existing_index(tmp_path: Path, db_url: str | None) -> None:
    with _open(tmp_path, db_url) as log:
        a = log.append(b"same")
        b = log.append(b"same")
        assert (b.index, b.duplicate, b.tree_size) == (a.index, True, 1)
        res = log.append_many([b"x", b"x", b"same", b"y"])
        assert [(r.index, r.duplicate) for r in res] == [
            (1, False),
            (1, True),
            (0, True),
            (2, False),
        ]
        assert log.size() == 3


def test_entry_size_limit(tmp_path: Path, db_url: str | None) -> None:
    with _open(tmp_path, db_url) as log:
        log.append(b"a" * MAX_ENTRY)
        with pytest.raises(LedgerError, match="65536 bytes exceeds the 65535-byte"):
            log.append_many([b"ok", b"a" * (MAX_ENTRY + 1)])
        assert log.size() == 1  # nothing from the refused batch was logged


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no log here"):
        Ledger.open(tmp_path / "none", create=False)
    with pytest.raises(LedgerError, match="needs an origin"):
        Ledger.open(tmp_path / "new")
    with _open(tmp_path / "a") as log:
        log.append(b"1")
    assert (tmp_path / "a/log.key").stat().st_mode & 0o777 == 0o600
    with pytest.raises(LedgerError, match="origin is"):
        Ledger.open(tmp_path / "a", origin="other.example/log")
    with Ledger.open(tmp_path / "a") as log, pytest.raises(NotFoundError):
        log.entry(5)


def test_concurrent_appenders_batch(tmp_path: Path, db_url: str | None) -> None:
    with _open(tmp_path, db_url) as log:
        out: list[int] = []
        lock = threading.Lock()

        def worker(k: int) -> None:
            for i in range(50):
                r = log.append(f"{k}-{i}".encode())
                with lock:
                    out.append(r.index)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(out) == list(range(400))
        assert len(log.checkpoints()) < 401  # group commit formed batches
        assert log.verify().ok


def test_two_writers_share_one_log(tmp_path: Path, db_url: str | None) -> None:
    """Two handles (as a server and a CLI process would hold) append in turn under the
    sequencer lock; each adopts the other's entries, and one consistent tree results."""
    with _open(tmp_path, db_url) as a, Ledger.open(tmp_path, db_url=db_url) as b:
        ra = a.append(b"from a")
        rb = b.append(b"from b")
        ra2 = a.append_many([b"a2", b"from b"])
        assert (ra.index, rb.index, ra2[0].index, ra2[1].index) == (0, 1, 2, 1)
        assert ra2[1].duplicate and a.size() == b.size() == 3
        assert a.checkpoint() == b.checkpoint()
        v = note.Verifier.parse(a.verifier_key())
        cp, _ = open_checkpoint(rb.checkpoint, v)
        assert mk.verify_consistency(2, 3, cp.root, b.root(), b.consistency_proof(2, 3))
        assert a.verify().ok


def test_restore_from_backup_shrink_refused(tmp_path: Path) -> None:
    with _open(tmp_path / "log") as log:
        log.append_many([b"a", b"b"])
        src, dst = sqlite3.connect(tmp_path / "log/log.db"), sqlite3.connect(tmp_path / "b.db")
        src.backup(dst)  # an online backup, as an operator would take
        src.close()
        dst.close()
        log.append_many([b"c", b"d"])
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"log/log.db{suffix}").unlink(missing_ok=True)
    shutil.copy(tmp_path / "b.db", tmp_path / "log/log.db")
    with pytest.raises(LedgerError, match="log shrank: it last signed size 4"):
        Ledger.open(tmp_path / "log")


_URLS: dict[Path, str | None] = {}


def test_rolled_back_postgres_database_refused(tmp_path: Path) -> None:
    """A PostgreSQL log restored to an older state (point-in-time recovery, a replica
    promoted too early) is refused: ``signed.state`` in the directory remembers size 4."""
    gen = fresh_database()
    url = next(gen)
    try:
        with _open(tmp_path, url) as log:
            log.append_many([b"a", b"b"])
            log.append_many([b"c", b"d"])
        with psycopg.connect(libpq(url), autocommit=True) as pg:  # roll back to size 2
            pg.execute("DELETE FROM ledger_entries WHERE idx >= 2")
            pg.execute("DELETE FROM ledger_hashes WHERE id >> 48 = 1 AND (id & 65535) >= 1")
            pg.execute("DELETE FROM ledger_hashes WHERE id >> 48 = 2")
            pg.execute("DELETE FROM ledger_checkpoints WHERE size > 2")
            pg.execute("UPDATE ledger_meta SET v='2' WHERE k='size'")
        with pytest.raises(LedgerError, match="log shrank: it last signed size 4"):
            Ledger.open(tmp_path, db_url=url)
    finally:
        gen.close()


def _tamper(path: Path, sql: str, *args: object) -> None:
    """Change rows behind the log's back (SQLite file or PostgreSQL ``ledger_`` tables)."""
    url = _URLS.get(path)
    if url is None:
        conn = sqlite3.connect(path / "log.db")
        conn.execute(sql, args)
        conn.commit()
        conn.close()
        return
    for table in ("entries", "checkpoints", "hashes", "meta"):
        sql = sql.replace(f" {table} ", f" ledger_{table} ")
    with psycopg.connect(libpq(url), autocommit=True) as pg:
        pg.execute(sql.replace("?", "%s"), args)  # type: ignore[arg-type]


@pytest.fixture
def filled(tmp_path: Path, db_url: str | None) -> Path:
    _URLS[tmp_path] = db_url
    with _open(tmp_path, db_url) as log:
        log.append_many([f"entry {i}".encode() for i in range(20)])
        log.append_many([f"entry {i}".encode() for i in range(20, 37)])
        assert log.verify().ok
    return tmp_path


def _problems(path: Path) -> str:
    with Ledger.open(path, db_url=_URLS.get(path)) as log:
        rep = log.verify()
    assert not rep.ok
    return "\n".join(rep.problems)


def test_verify_detects_modified_row(filled: Path) -> None:
    _tamper(filled, "UPDATE entries SET data=? WHERE idx=13", b"forged")
    assert "entry 13: stored leaf hash does not match" in _problems(filled)


def test_verify_detects_modified_row_with_matching_leaf(filled: Path) -> None:
    _tamper(filled, "UPDATE entries SET data=?, leaf=? WHERE idx=13", b"f", mk.leaf_hash(b"f"))
    assert "entries 12..13: stored subtree hash" in _problems(filled)


def test_verify_detects_deleted_row(filled: Path) -> None:
    _tamper(filled, "DELETE FROM entries WHERE idx=21")
    assert "entries 21..21: missing" in _problems(filled)


def test_verify_detects_reordered_rows(filled: Path) -> None:
    _tamper(filled, "UPDATE entries SET idx=-1 WHERE idx=4")
    _tamper(filled, "UPDATE entries SET idx=4 WHERE idx=9")
    _tamper(filled, "UPDATE entries SET idx=9 WHERE idx=-1")
    p = _problems(filled)
    assert "entries 4..5" in p and "entries 8..9" in p


def test_verify_detects_inserted_row(filled: Path) -> None:
    _tamper(filled, "INSERT INTO entries VALUES(37, ?, ?)", mk.leaf_hash(b"x"), b"x")
    assert "entry 37: row beyond the committed size 37 (inserted)" in _problems(filled)


def test_verify_detects_forged_checkpoint(filled: Path) -> None:
    _tamper(filled, "UPDATE checkpoints SET note=replace(note, '20', '21') WHERE size=20")
    assert "checkpoint at size 20" in _problems(filled)


def test_tlog_proof_bundle(tmp_path: Path, db_url: str | None) -> None:
    with _open(tmp_path, db_url) as log:
        res = log.append_many([b"a", b"b", b"c"])
        text = log.tlog_proof(1)
        vkey = log.verifier_key()
    assert text.startswith("c2sp.org/tlog-proof@v1\nindex 1\n")
    p, cp = verify_proof(text, b"b", vkey)
    assert p.index == 1 and cp.size == 3
    with pytest.raises(LedgerError, match="bad proof"):
        verify_proof(text, b"c", vkey)
    with pytest.raises(LedgerError):
        verify_proof(text.replace("index 1", "index 2"), b"b", vkey)
    bundle = res[2].tlog_proof(extra=b"ctx")
    assert parse_proof(bundle).extra == b"ctx"
    verify_proof(bundle, b"c", vkey)


def test_restore_of_diverged_database_refused(tmp_path: Path) -> None:
    """Same size, different history (a database from a fork): never sign on top of it."""
    a, b = tmp_path / "a", tmp_path / "b"
    with _open(a) as log:
        log.append(b"shared")
    shutil.copytree(a, b)
    with Ledger.open(a) as log:
        log.append(b"a-only")
    with Ledger.open(b) as log:
        log.append(b"b-only")
    for suffix in ("", "-wal", "-shm"):
        (a / f"log.db{suffix}").unlink(missing_ok=True)
        if (b / f"log.db{suffix}").exists():
            shutil.copy(b / f"log.db{suffix}", a / f"log.db{suffix}")
    with pytest.raises(LedgerError, match="differs from the root the log signed"):
        Ledger.open(a)


def test_damaged_signed_state_is_an_error(tmp_path: Path, db_url: str | None) -> None:
    with _open(tmp_path, db_url) as log:
        log.append(b"x")
    (tmp_path / "signed.state").write_bytes(b"\x00" * 128)
    with pytest.raises(LedgerError, match=r"signed\.state: no valid record"):
        Ledger.open(tmp_path, db_url=db_url)


def test_corrupt_database_and_bad_bundles_are_clear_errors(tmp_path: Path) -> None:
    with _open(tmp_path / "log") as log:
        log.append(b"x")
    (tmp_path / "log/log.db").write_bytes(b"this is not sqlite" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / f"log/log.db{suffix}").unlink(missing_ok=True)
    with pytest.raises(LedgerError, match="not a usable log database"):
        Ledger.open(tmp_path / "log")
    for bad in ["", "c2sp.org/tlog-proof@v1\nindex x\n\ncp", "wrong\nindex 1\n\ncp"]:
        with pytest.raises(LedgerError):
            parse_proof(bad)
