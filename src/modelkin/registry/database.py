"""The registry's SQL engine and the small SQL helpers every registry module shares.

The tables are an index over the ledger, so this module knows nothing of statements: it
opens the database (SQLite with the pragmas the registry relies on, or PostgreSQL),
keeps the ``applied_size`` mark that says how much of the ledger the tables reflect, and
builds index-friendly digest-prefix conditions.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, and_, create_engine, event, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from modelkin.errors import LedgerError
from modelkin.registry import tables as t


def open_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite with the pragmas the registry relies on, or PostgreSQL
    via psycopg 3 (``postgresql://`` is read as ``postgresql+psycopg://``)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url)
        else:  # a database that went away must fail fast and be noticed, not hang
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (ArgumentError, NoSuchModuleError) as exc:
        raise LedgerError("database URL", f"not a usable database URL ({exc})") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name != "postgresql":
        raise LedgerError("database URL", "only sqlite:/// and postgresql+psycopg:// are supported")
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def applied(conn: Connection) -> int:
    """How many ledger entries the tables reflect."""
    value = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "applied_size")).scalar()
    return int(value) if value is not None else 0


def set_applied(conn: Connection, size: int) -> None:
    """Record that the tables reflect the first ``size`` ledger entries (same transaction
    as the rows, so the mark and the rows can never disagree)."""
    updated = conn.execute(
        t.meta.update().where(t.meta.c.key == "applied_size").values(value=str(size))
    ).rowcount
    if not updated:
        conn.execute(t.meta.insert().values(key="applied_size", value=str(size)))


def checkpoint_size(checkpoint: str) -> int:
    """Tree size from a C2SP tlog-checkpoint body (line 2: decimal size)."""
    lines = checkpoint.split("\n")
    try:
        return int(lines[1])
    except (IndexError, ValueError) as exc:
        raise LedgerError("checkpoint", "malformed checkpoint from the ledger") from exc


def is_hex(text: str) -> bool:
    """A lowercase hex string of at most 64 characters (a digest or a prefix of one)."""
    return bool(text) and len(text) <= 64 and all(c in "0123456789abcdef" for c in text)


def hex_prefix(column: Any, prefix: str) -> Any:
    """``column`` starts with the lowercase-hex ``prefix``, as an index range scan
    (``prefix <= value < prefix + "g"``: "g" sorts after every hex digit). ``LIKE 'p%'``
    would treat ``%``/``_`` in ``prefix`` as wildcards and, case-insensitive in SQLite, could
    not use the index (a full scan per lookup)."""
    return and_(column >= prefix, column < prefix + "g")


def refresh_planner_stats(engine: Engine) -> None:
    """SQLite only: give the query planner the tables' statistics (sampled ``ANALYZE``).

    Without statistics SQLite takes the first usable index: a lookup by name went through
    the ``status`` index (every active record, then a sort), 17 ms at 1,000 models and
    150 ms at 38,000 (``benchmarks/server_bench.py scale``); with them it takes 0.05 ms.
    ``analysis_limit`` samples each index, so the cost stays small and it can run at every
    open. A database this process may not write keeps its old statistics. PostgreSQL's
    autovacuum keeps its own."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
    except OperationalError:
        pass
