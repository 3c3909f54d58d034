"""Registry test fixtures: a fresh home per test, two registered identities, tiny models.

``home`` is parametrized over both databases: for ``postgresql`` it sets
``MODELKIN_DB_URL`` to a fresh PostgreSQL database (registry tables and ledger rows), so
every test built on ``home``/``reg`` runs unchanged against both backends, including the
CLI tests (the CLI reads the same variable).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelkin.registry import Registry, register_identity
from modelkin.statements import Identity
from postgres.cluster import fresh_database

SQLITE_ONLY = {
    # the forensic engine's cost is all model maths, none of it in the database
    "test_real_forensic_engine_on_tiny_llamas",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses ``db_url`` (through ``home``) on both databases."""
    if "db_url" in metafunc.fixturenames:
        sqlite_only = metafunc.function.__name__ in SQLITE_ONLY
        params = ["sqlite"] if sqlite_only else ["sqlite", "postgresql"]
        metafunc.parametrize("db_url", params, indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str | None]:
    """None (SQLite files in the home) or a fresh PostgreSQL database, exported as
    ``MODELKIN_DB_URL`` for the duration of the test."""
    if request.param == "sqlite":
        monkeypatch.delenv("MODELKIN_DB_URL", raising=False)
        yield None
        return
    for url in fresh_database():
        monkeypatch.setenv("MODELKIN_DB_URL", url)
        yield url


@pytest.fixture
def home(tmp_path: Path, db_url: str | None) -> Path:
    return tmp_path / "home"


@pytest.fixture
def reg(home: Path) -> Iterator[Registry]:
    with Registry.open(home) as r:
        yield r


@pytest.fixture
def alice(reg: Registry) -> Identity:
    ident = Identity.generate("alice")
    register_identity(reg, ident, "Alice Labs")
    return ident


@pytest.fixture
def bob(reg: Registry) -> Identity:
    ident = Identity.generate("bob")
    register_identity(reg, ident, "Bob Corp")
    return ident
