"""Throwaway PostgreSQL databases for the benchmarks' ``--db-url`` rows.

``--db-url`` names a server the benchmark may create databases on (an admin URL such as
``postgresql+psycopg://postgres@/postgres?host=/run/pgsock``); each measured log or
registry gets its own ``modelkin_bench_*`` database, dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

_seq = itertools.count()


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _with_db(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return base.rsplit("/", 1)[0] + "/" + name + ("?" + query if query else "")


@contextmanager
def database(admin_url: str | None) -> Iterator[str | None]:
    """A fresh database URL on ``admin_url``'s server, or None (SQLite) if no server."""
    if admin_url is None:
        yield None
        return
    name = f"modelkin_bench_{os.getpid()}_{next(_seq)}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(admin_url, name)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def ledger_bytes(url: str) -> int:
    """Bytes the ledger's tables (with indexes and TOAST) take in ``url``'s database."""
    with psycopg.connect(_libpq(url)) as conn:
        row = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relkind = 'r' AND c.relname LIKE 'ledger\\_%'"
        ).fetchone()
    return int(row[0] or 0) if row else 0


def server_settings(url: str) -> str:
    """The durability settings the PostgreSQL rows were measured under."""
    with psycopg.connect(_libpq(url)) as conn:
        vals = [
            f"{k}={conn.execute(f'SHOW {k}').fetchone()[0]}"  # type: ignore[index]
            for k in ("server_version", "fsync", "synchronous_commit")
        ]
    return ", ".join(vals)
