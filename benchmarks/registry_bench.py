"""Registry throughput and latency on SQLite (embedded default) and, with ``--db-url``,
PostgreSQL (registry tables and ledger rows in one database).

Prints a table: submit latency (verify + schema + checks + ledger append + DB commit, one
statement at a time, as a user submits), lineage query time on a chain of models, and
rebuild (replay) speed; one column per backend. Run:
``.venv/bin/python benchmarks/registry_bench.py [N] [--db-url ADMIN_URL]`` where
``ADMIN_URL`` is a PostgreSQL server on which the benchmark may create a throwaway database.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _pg_bench import database, server_settings
from modelkin.registry import Registry, register_identity, submit_predicate
from modelkin.statements import Identity


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def run(n: int, db_url: str | None) -> list[tuple[str, str]]:
    """Measure one backend; returns (row name, value) pairs."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        alice = Identity.generate("alice")
        with Registry.open(home, db_url) as reg:
            register_identity(reg, alice)
            # a chain of n models linked by derivations: m0 <- m1 <- ... (dangling models:
            # derivations do not need the models registered, which isolates registry cost)
            digests = [f"{i:064x}" for i in range(n)]
            lat = []
            for i in range(1, n):
                pred = {
                    "child": {"sha256": digests[i]},
                    "parents": [{"sha256": digests[i - 1]}],
                    "relation": "finetune",
                    "notes": None,
                }
                t0 = time.perf_counter()
                submit_predicate(reg, alice, "derivation", [("m", digests[i])], pred)
                lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            graph = reg.lineage(digests[n // 2])
            lineage_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            replayed = reg.rebuild()
            rebuild_s = time.perf_counter() - t0
    return [
        ("submit latency p50 (ms)", f"{1000 * statistics.median(lat):.1f}"),
        ("submit latency p99 (ms)", f"{1000 * _pct(lat, 0.99):.1f}"),
        ("submits/s (sequential)", f"{len(lat) / sum(lat):.0f}"),
        (
            f"lineage of a {len(graph.nodes)}-node chain, with proofs (ms)",
            f"{1000 * lineage_s:.0f}",
        ),
        ("rebuild: entries replayed/s", f"{replayed / rebuild_s:.0f}"),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("n", nargs="?", type=int, default=300, help="models in the chain")
    ap.add_argument("--db-url", help="PostgreSQL server URL: adds a postgresql column")
    args = ap.parse_args()
    columns = {"sqlite": run(args.n, None)}
    if args.db_url:
        with database(args.db_url) as url:
            columns["postgresql"] = run(args.n, url)
        print(f"PostgreSQL: {server_settings(args.db_url)}")
    print(f"registry benchmark, {args.n - 1} derivation statements, one process")
    names = [name for name, _ in columns["sqlite"]]
    width = max(len(name) for name in names)
    print(f"{'':<{width}}  " + " ".join(f"{b:>10}" for b in columns))
    for i, name in enumerate(names):
        print(f"{name:<{width}}  " + " ".join(f"{col[i][1]:>10}" for col in columns.values()))


if __name__ == "__main__":
    main()
