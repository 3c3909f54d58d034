"""The Alembic migrations build exactly the schema the code uses, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from modelkin.registry.migrate import upgrade
from modelkin.registry.tables import metadata


def test_migrations_match_tables(tmp_path: Path, db_url: str | None) -> None:
    engine = create_engine(db_url or f"sqlite:///{tmp_path / 'r.db'}")
    with engine.begin() as conn:
        upgrade(conn)
        upgrade(conn)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []
