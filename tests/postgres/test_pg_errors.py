"""PostgreSQL misconfiguration gives clear errors naming the database, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.cli import main
from modelkin.errors import LedgerError, ModelkinError
from modelkin.ledger import Ledger
from modelkin.registry import Registry

DEAD = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"  # nothing listens on port 1


def test_unreachable_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(LedgerError, match="cannot connect") as exc:
        Ledger.open(tmp_path / "log", origin="t.example/log", db_url=DEAD)
    assert "secret" not in str(exc.value) and "127.0.0.1:1/none" in str(exc.value)
    with pytest.raises(ModelkinError, match="cannot use the registry database") as exc2:
        Registry.open(tmp_path / "home", DEAD)
    assert "secret" not in str(exc2.value)
    code = main(["registry", "list", "--home", str(tmp_path / "h"), "--db-url", "bogus://x"])
    assert code == 2 and "database URL" in capsys.readouterr().err


def test_log_key_must_match_the_database(tmp_path: Path, pg_url: str) -> None:
    """A second server must use the key that created the log, or it would sign a fork."""
    with Ledger.open(tmp_path / "a", origin="t.example/log", db_url=pg_url) as log:
        log.append(b"one")
    with pytest.raises(LedgerError, match="cannot read the log key"):
        Ledger.open(tmp_path / "b", db_url=pg_url)  # no key here
    with Ledger.open(tmp_path / "c", origin="t.example/log") as other:  # another key
        other.append(b"x")
    (tmp_path / "c/log.db").unlink()
    with pytest.raises(LedgerError, match="this key did not create the log"):
        Ledger.open(tmp_path / "c", db_url=pg_url)
    with pytest.raises(LedgerError, match="origin is"):
        Ledger.open(tmp_path / "a", origin="other.example/log", db_url=pg_url)
