"""A PostgreSQL server for the test suites, and one fresh database per test.

``MODELKIN_TEST_PG_URL`` (set by ``.ci/run`` after it starts a cluster) names a server to
use; otherwise one throwaway cluster per test process is started from Debian's server
binaries (``/usr/lib/postgresql/*/bin``), as the ``postgres`` system user when we are root
(initdb refuses root), in a temporary directory, listening on a free localhost port, and
stopped at exit. Without server binaries the PostgreSQL variants are skipped, or fail when
``$CI`` is set: CI must never silently test SQLite only.
"""

from __future__ import annotations

import atexit
import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

_server: str | None = None
_names = itertools.count()


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_cluster(bindir: Path, fsync: bool = False) -> tuple[str, Path]:
    """initdb + pg_ctl start a private cluster; returns (admin URL, data dir's parent).

    ``fsync=False`` for unit tests (they never cut the power); benchmarks pass True."""
    top = Path(tempfile.mkdtemp(prefix="modelkin-pg-"))
    data = top / "data"
    if os.geteuid() == 0:
        shutil.chown(top, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                      "--no-sync", "-E", "UTF8", "--locale=C"]),
        check=True, capture_output=True,
    )  # fmt: skip
    opts = f"-k {top} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=300"
    if not fsync:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(top / "log"),
                      "-o", opts, "-w", "-t", "60", "start"]),
        check=True, capture_output=True,
    )  # fmt: skip
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", top


def stop_cluster(bindir: Path, top: Path) -> None:
    """Fast shutdown and remove the cluster's files."""
    subprocess.run(
        _as_postgres([str(bindir / "pg_ctl"), "-D", str(top / "data"), "-m", "fast", "stop"]),
        capture_output=True,
    )
    shutil.rmtree(top, ignore_errors=True)


def server_url() -> str:
    """Admin URL of the test server (starting one on first use); skips or fails if none."""
    global _server
    if _server is not None:
        return _server
    env = os.environ.get("MODELKIN_TEST_PG_URL")
    if env:
        _server = env
        return env
    bindir = _bindir()
    reason = None
    if bindir is None:
        reason = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"
    elif os.geteuid() == 0 and not _has_user("postgres"):
        reason = "running as root without a 'postgres' user to run initdb as"
    if reason is not None or bindir is None:
        reason = reason or "no server"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL variants: see .ci/system-deps)")
        pytest.skip(f"{reason}; apt-get install postgresql to run the PostgreSQL variants")
    try:
        url, top = start_cluster(bindir)
    except subprocess.CalledProcessError as exc:
        err = (exc.stderr or b"").decode(errors="replace")
        pytest.fail(f"could not start a throwaway PostgreSQL cluster: {exc}\n{err}")
    atexit.register(stop_cluster, bindir, top)
    _server = url
    return url


def _libpq(url: str) -> str:
    return "postgresql://" + url.split("://", 1)[1]


def _with_db(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return base + ("?" + query if query else "")


def fresh_database() -> Iterator[str]:
    """A new empty database on the test server (URL yielded), dropped afterwards."""
    admin = server_url()
    name = f"mk_{os.getpid()}_{next(_names)}_{time.monotonic_ns() % 1_000_000}"
    with psycopg.connect(_libpq(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template1')
    try:
        yield _with_db(admin, name)
    finally:
        with psycopg.connect(_libpq(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def libpq(url: str) -> str:
    """``url`` as psycopg/libpq takes it (for tests that tamper with rows directly)."""
    return _libpq(url)
