"""Registry throughput and latency on the embedded default (SQLite + local ledger).

Prints a table: submit latency (verify + schema + checks + ledger append + DB commit, one
statement at a time, as a user submits), lineage query time on a chain of models, and
rebuild (replay) speed. Run: ``.venv/bin/python benchmarks/registry_bench.py [N]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from modelkin.registry import Registry, register_identity, submit_predicate
from modelkin.statements import Identity


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main(n: int = 300) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        alice = Identity.generate("alice")
        with Registry.open(home) as reg:
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
    rows = [
        ("submit latency p50 (ms)", f"{1000 * statistics.median(lat):.1f}"),
        ("submit latency p99 (ms)", f"{1000 * _pct(lat, 0.99):.1f}"),
        ("submits/s (sequential)", f"{len(lat) / sum(lat):.0f}"),
        (
            f"lineage of a {len(graph.nodes)}-node chain, with proofs (ms)",
            f"{1000 * lineage_s:.0f}",
        ),
        ("rebuild: entries replayed/s", f"{replayed / rebuild_s:.0f}"),
    ]
    print(f"registry benchmark, {n - 1} derivation statements, SQLite, one process")
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value:>10}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
