"""Ledger benchmark: durable batched appends/s, append-to-proof latency under concurrent
appenders, proof generation/verification time vs n, and database bytes per entry.

Run: ``python benchmarks/ledger_bench.py [--max 1000000] [--db-url ADMIN_URL]`` (default
max 100,000 so the run takes a few minutes on two cores). With ``--db-url`` (a PostgreSQL
server on which the benchmark may create throwaway databases) every table gets a
``postgresql`` row beside the ``sqlite`` one. Every append is durable (SQLite WAL,
synchronous=FULL) and signed (one Ed25519 checkpoint per batch of <= 256).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _pg_bench import database, ledger_bytes, server_settings
from modelkin.ledger import Ledger
from modelkin.ledger import merkle as mk

Backends = list[tuple[str, str | None]]  # (name, admin URL or None for SQLite)
_STACK = contextlib.ExitStack()  # the filled logs' databases live until the proofs ran


def _db_bytes(d: Path) -> int:
    return sum(p.stat().st_size for p in d.glob("log.db*"))


def appends(sizes: list[int], tmp: Path, backends: Backends) -> dict[tuple[str, int], str | None]:
    """Fill one log per (backend, size); returns where each lives for :func:`proofs`."""
    print(
        "\n## Durable appends (append_many; a signed checkpoint per 256, one fsync per <=16 batches)"
    )
    print(
        f"{'backend':>10} {'entries':>10} {'seconds':>9} {'appends/s':>11} {'DB bytes/entry':>15}"
    )
    urls: dict[tuple[str, int], str | None] = {}
    for n in sizes:
        for name, admin in backends:
            d = tmp / f"a{n}-{name}"
            url = _STACK.enter_context(database(admin))
            urls[name, n] = url
            with Ledger.open(d, origin="bench.example/log", db_url=url) as log:
                entries = [
                    f'{{"type":"bench","i":{i},"pad":"{"x" * 64}"}}'.encode() for i in range(n)
                ]
                t = time.perf_counter()
                for s in range(0, n, 16384):
                    log.append_many(entries[s : s + 16384])
                dt = time.perf_counter() - t
                if url is None:
                    log._store.wal_checkpoint()  # type: ignore[attr-defined]
            size = _db_bytes(d) if url is None else ledger_bytes(url)
            print(f"{name:>10} {n:>10} {dt:>9.2f} {n / dt:>11.0f} {size / n:>15.0f}")
    return urls


def latency(tmp: Path, backends: Backends, threads: int = 16, per_thread: int = 200) -> None:
    print(f"\n## Append-to-proof latency, {threads} concurrent appenders (append() each)")
    print(
        f"{'backend':>10} {'appends':>8} {'appends/s':>10} {'batches':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8}"
    )
    for name, admin in backends:
        with database(admin) as url:
            _latency_one(tmp / f"lat-{name}", url, name, threads, per_thread)


def _latency_one(d: Path, url: str | None, name: str, threads: int, per_thread: int) -> None:
    lats: list[float] = []
    lock = threading.Lock()
    with Ledger.open(d, origin="bench.example/log", db_url=url) as log:

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
    print(
        f"{name:>10} {len(lats):>8} {len(lats) / dt:>10.0f} {batches:>8} {p50 * 1e3:>8.1f} "
        f"{p99 * 1e3:>8.1f}"
    )


def proofs(
    tmp: Path, sizes: list[int], backends: Backends, urls: dict[tuple[str, int], str | None]
) -> None:
    print("\n## Proofs vs n (gen: reopened log, hashes read from the database; warm: memory)")
    print(
        f"{'backend':>10} {'n':>10} {'incl gen us':>12} {'warm us':>8} {'incl len':>9} "
        f"{'incl verify us':>15} {'cons gen us':>12} {'cons len':>9} {'cons verify us':>15}"
    )
    for n, (name, _) in [(n, b) for n in sizes for b in backends]:
        d = tmp / f"a{n}-{name}"
        with Ledger.open(d, db_url=urls[name, n]) as log:
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
                f"{name:>10} {n:>10} {gen * 1e6:>12.0f} {warm * 1e6:>8.0f} {il:>9.1f} "
                f"{ver * 1e6:>15.0f} {cgen * 1e6:>12.0f} {cl:>9.1f} {cver * 1e6:>15.0f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max", type=int, default=100_000, help="largest log size (<= 10**6)")
    ap.add_argument(
        "--db-url",
        help="PostgreSQL server URL (postgresql+psycopg://...) on which to create throwaway "
        "databases: adds a postgresql row to every table",
    )
    args = ap.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000) if n <= args.max]
    backends: Backends = [("sqlite", None)]
    if args.db_url:
        backends.append(("postgresql", args.db_url))
        print(f"PostgreSQL: {server_settings(args.db_url)}")
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as t, _STACK:
        tmp = Path(t)
        urls = appends(sizes, tmp, backends)
        latency(tmp, backends)
        proofs(tmp, sizes, backends, urls)


if __name__ == "__main__":
    main()
