"""The PostgreSQL ledger connection survives a database restart (issue 17).

A private throwaway cluster (the suite's shared one must stay up for other tests) is
restarted with ``pg_ctl restart`` between appends; the same ``Ledger`` object then reads
and appends again, and the log verifies. Skips without server binaries, like every
PostgreSQL test here (and fails in CI, which must run them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from modelkin.ledger import Ledger
from modelkin.ledger import merkle as mk
from postgres.cluster import _as_postgres, _bindir, start_cluster, stop_cluster


def test_ledger_reconnects_after_restart(tmp_path: Path) -> None:
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("no PostgreSQL server binaries (see .ci/system-deps)")
        pytest.skip("no PostgreSQL server binaries")
    url, top = start_cluster(bindir)
    try:
        with Ledger.open(tmp_path / "log", origin="pg.test/log", db_url=url) as log:
            log.append_many([b"before 1", b"before 2"])
            root2 = log.root()
            subprocess.run(
                _as_postgres(
                    [
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(top / "data"),
                        "-l",
                        str(top / "log"),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "60",
                        "restart",
                    ]
                ),
                check=True,
                capture_output=True,
                timeout=120,
            )  # fmt: skip  (-l: the restarted server must not inherit our pipes)
            assert log.entry(0) == b"before 1"  # a read on a fresh connection
            r = log.append(b"after the restart")  # the sequencer lock on a fresh session
            assert (r.index, r.tree_size) == (2, 3)
            assert mk.verify_consistency(2, 3, root2, log.root(), log.consistency_proof(2, 3))
            assert log.verify().ok
    finally:
        stop_cluster(bindir, top)
