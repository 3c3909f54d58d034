"""Ledger benchmark: durable batched appends/s, append-to-proof latency under concurrent
appenders, proof generation/verification time vs n, and database bytes per entry.

Run: ``python benchmarks/ledger_bench.py [--max 1000000]`` (default max 100,000 so the
run takes a few minutes on two cores). Every append is durable (SQLite WAL,
synchronous=FULL) and signed (one Ed25519 checkpoint per batch of <= 256).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from modelkin.ledger import Ledger
from modelkin.ledger import merkle as mk


def _db_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.glob("log.db*"))


def appends(sizes: list[int], tmp: Path) -> None:
    print(
        "\n## Durable appends (append_many; a signed checkpoint per 256, one fsync per <=16 batches)"
    )
    print(f"{'entries':>10} {'seconds':>9} {'appends/s':>11} {'DB bytes/entry':>15}")
    for n in sizes:
        d = tmp / f"a{n}"
        with Ledger.open(d, origin="bench.example/log") as log:
            entries = [f'{{"type":"bench","i":{i},"pad":"{"x" * 64}"}}'.encode() for i in range(n)]
            t = time.perf_counter()
            for s in range(0, n, 16384):
                log.append_many(entries[s : s + 16384])
            dt = time.perf_counter() - t
            log._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            print(f"{n:>10} {dt:>9.2f} {n / dt:>11.0f} {_db_bytes(d) / n:>15.0f}")


def latency(tmp: Path, threads: int = 16, per_thread: int = 200) -> None:
    print(f"\n## Append-to-proof latency, {threads} concurrent appenders (append() each)")
    d = tmp / "lat"
    lats: list[float] = []
    lock = threading.Lock()
    with Ledger.open(d, origin="bench.example/log") as log:

        def worker(k: int) -> None:
            for i in range(per_thread):
                t = time.perf_counter()
                log.append(f"{k}-{i}".encode())
                with lock:
                    lats.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        dt = time.perf_counter() - t0
        batches = len(log.checkpoints()) - 1
    lats.sort()
    p50, p99 = lats[len(lats) // 2], lats[int(len(lats) * 0.99)]
    print(f"{'appends':>8} {'appends/s':>10} {'batches':>8} {'p50 ms':>8} {'p99 ms':>8}")
    print(
        f"{len(lats):>8} {len(lats) / dt:>10.0f} {batches:>8} {p50 * 1e3:>8.1f} {p99 * 1e3:>8.1f}"
    )


def proofs(tmp: Path, sizes: list[int]) -> None:
    print("\n## Proofs vs n (gen: reopened log, hashes read from SQLite; warm: from memory)")
    print(
        f"{'n':>10} {'incl gen us':>12} {'warm us':>8} {'incl len':>9} {'incl verify us':>15} "
        f"{'cons gen us':>12} {'cons len':>9} {'cons verify us':>15}"
    )
    for n in sizes:
        d = tmp / f"a{n}"
        with Ledger.open(d) as log:
            root = log.root()
            k = 200
            idx = [(i * 7919) % n for i in range(k)]
            t = time.perf_counter()
            ps = [log.inclusion_proof(i) for i in idx]
            gen = (time.perf_counter() - t) / k
            t = time.perf_counter()
            for i in idx:  # same proofs again: hashes now in the log's memory cache
                log.inclusion_proof(i)
            warm = (time.perf_counter() - t) / k
            leaves = [mk.leaf_hash(log.entry(i)) for i in idx]
            t = time.perf_counter()
            for i, p, lh in zip(idx, ps, leaves, strict=True):
                assert mk.verify_inclusion(lh, i, n, p, root)
            ver = (time.perf_counter() - t) / k
            olds = [max(1, (i * 104729) % n) for i in range(k)]
            t = time.perf_counter()
            cs = [log.consistency_proof(o, n) for o in olds]
            cgen = (time.perf_counter() - t) / k
            oroots = [log.root(o) for o in olds]
            t = time.perf_counter()
            for o, c, r in zip(olds, cs, oroots, strict=True):
                assert mk.verify_consistency(o, n, r, root, c)
            cver = (time.perf_counter() - t) / k
            il = statistics.mean(len(p) for p in ps)
            cl = statistics.mean(len(c) for c in cs)
            print(
                f"{n:>10} {gen * 1e6:>12.0f} {warm * 1e6:>8.0f} {il:>9.1f} {ver * 1e6:>15.0f} "
                f"{cgen * 1e6:>12.0f} {cl:>9.1f} {cver * 1e6:>15.0f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max", type=int, default=100_000, help="largest log size (<= 10**6)")
    args = ap.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as t:
        tmp = Path(t)
        appends(sizes, tmp)
        latency(tmp)
        proofs(tmp, sizes)


if __name__ == "__main__":
    main()
