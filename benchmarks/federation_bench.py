"""Federation benchmark: cosigning latency, mirror catch-up, lookups across peers, and the
two ledger faults of issue 17 that are about speed (16-thread appends, CLI start-up).

Run: ``python benchmarks/federation_bench.py [--entries 100000] [--appends 30]
[--baseline-src /path/to/older/src]``. It starts three ``modelkin serve`` registries on
loopback (each a witness of the two others under a 2-of-2 policy: see
``modelkin_dev.loopback``) and prints one table per measurement:

- cosigning: time from a statement's submission until its registry serves a checkpoint
  of that size cosigned by both witnesses (the submitter runs after every append), and
  the witnesses' own add-checkpoint round trip (verify, fsync, cosign);
- mirror catch-up: a verified copy of a 10^5-entry log fetched over HTTP from static
  tlog-tiles (``python -m http.server``) and from a directory: every entry re-hashed,
  every tile compared, entries/s;
- lookup: ``GET /api/v1/federation/lookup`` on one registry (it asks both peers and
  verifies every answer), and the client-side verification of one answer;
- appends: 16 threads appending one entry each at a time, with the sequencer's regrouping
  of the callers it just woke off (the behaviour before issue 17) and on;
- start-up: wall time of one ``modelkin ledger append`` process and the import time of
  what it loads, for this source tree (and ``--baseline-src``, e.g. an older checkout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from modelkin.federation import verify_answer
from modelkin.ledger import Ledger
from modelkin.ledger.mirror import Mirror
from modelkin.ledger.policy import Policy, load_trust
from modelkin.ledger.tiles import write_tiles
from modelkin_dev.loopback import federation, free_port, model_envelope, submit, witnessed


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def cosigning_and_lookup(tmp: Path, appends: int) -> None:
    with federation(tmp / "fed", mirror_of=None) as (regs, policies, alice):
        a, b, c = regs
        trust = load_trust(policies)
        client = httpx.Client(timeout=120)
        lat: list[float] = []
        rtt: list[float] = []
        digests = []
        for i in range(appends):
            env, digest = model_envelope(tmp, alice, f"bench{i}", i)
            digests.append(digest)
            t0 = time.perf_counter()
            idx = submit(client, a, env)["ledger_index"]
            w = witnessed(client, a, idx + 1, timeout=60)
            lat.append(time.perf_counter() - t0)
            assert w["satisfied"], w
            st = client.get(f"{a.url}/api/v1/federation").json()["witnessing"]["last_round"]
            rtt.extend(s["seconds"] for s in st["submissions"] if s["status"] == 200)
        print("\n## Cosigning (registry a, witnesses b and c, quorum 2 of 2)")
        print(f"{'measure':>44} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
        for name, xs in (("submit -> served checkpoint cosigned by both", lat),
                         ("add-checkpoint round trip, one witness", rtt)):  # fmt: skip
            print(f"{name:>44} {len(xs):>4} {_pct(xs, 0.5) * 1e3:>8.1f} "
                  f"{_pct(xs, 0.9) * 1e3:>8.1f} {max(xs) * 1e3:>8.1f}")  # fmt: skip

        # the model of c, looked up from b (which asks a and c and verifies)
        env, digest = model_envelope(tmp, alice, "lookup", 999)
        idx = submit(client, c, env)["ledger_index"]
        witnessed(client, c, idx + 1, timeout=60)
        times, answers = [], None
        for _ in range(20):
            t0 = time.perf_counter()
            r = client.get(f"{b.url}/api/v1/federation/lookup", params={"digest": digest})
            times.append(time.perf_counter() - t0)
            answers = r.json()["answers"]
        assert answers and answers[0]["registry"] == c.url
        vt = []
        for _ in range(50):
            t0 = time.perf_counter()
            verify_answer(answers[0], trust, digest=digest)
            vt.append(time.perf_counter() - t0)
        print("\n## Federated lookup (asked of b: its own records, a's and c's, all verified)")
        print(f"{'measure':>44} {'n':>4} {'p50 ms':>8} {'p90 ms':>8}")
        print(f"{'GET /api/v1/federation/lookup (3 registries)':>44} {len(times):>4} "
              f"{_pct(times, 0.5) * 1e3:>8.1f} {_pct(times, 0.9) * 1e3:>8.1f}")  # fmt: skip
        print(f"{'client verify_answer (policy, proof, stmt)':>44} {len(vt):>4} "
              f"{_pct(vt, 0.5) * 1e3:>8.2f} {_pct(vt, 0.9) * 1e3:>8.2f}")  # fmt: skip
        client.close()


def mirror_catch_up(tmp: Path, entries: int) -> None:
    with Ledger.open(tmp / "big", origin="bench.test/log") as log:
        for s in range(0, entries, 16384):
            n = min(16384, entries - s)
            log.append_many([f'{{"i":{s + i},"pad":"{"x" * 64}"}}'.encode() for i in range(n)])
        write_tiles(log, tmp / "tiles", history=False)
        pol = Policy.parse(f"log {log.verifier_key()}\nquorum none\n")
    port = free_port()
    srv = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(tmp / "tiles")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert srv.stdout is not None
    srv.stdout.readline()  # "Serving HTTP on ...": it is listening
    print(f"\n## Mirror catch-up ({entries} entries, every entry re-hashed, every tile compared)")
    print(f"{'source':>34} {'entries':>8} {'seconds':>8} {'entries/s':>10}")
    try:
        for name, url in (("HTTP, static tiles (http.server)", f"http://127.0.0.1:{port}"),
                          ("directory of tiles", str(tmp / "tiles"))):  # fmt: skip
            m = Mirror(tmp / f"mirror-{len(name)}", url, pol)
            t0 = time.perf_counter()
            rep = m.sync_once()
            dt = time.perf_counter() - t0
            assert rep.status == "adopted" and rep.size == entries, rep
            m.stop()
            print(f"{name:>34} {entries:>8} {dt:>8.2f} {entries / dt:>10.0f}")
    finally:
        srv.terminate()
        srv.wait()


def appends16(tmp: Path, rounds: int = 3, threads: int = 16, per: int = 200) -> None:
    print(f"\n## Concurrent single appends ({threads} threads x {per}, SQLite, durable)")
    print(f"{'regroup woken callers':>22} {'round':>6} {'appends/s':>10} {'entries/fsync':>14}")
    rates: dict[float, list[float]] = {0.0: [], 0.002: []}
    for r in range(rounds):
        for wait in (0.0, 0.002):
            with Ledger.open(tmp / f"ap-{r}-{wait}", origin="bench.test/log") as log:
                log.regroup_wait_s = wait

                def worker(k: int, lg: Ledger = log) -> None:
                    for i in range(per):
                        lg.append(f"{k}-{i}".encode())

                t0 = time.perf_counter()
                ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                dt = time.perf_counter() - t0
                groups = len(log.checkpoints()) - 1
            rate = threads * per / dt
            rates[wait].append(rate)
            label = "off (before)" if wait == 0 else "on"
            print(f"{label:>22} {r:>6} {rate:>10.0f} {threads * per / groups:>14.1f}")
    for wait, xs in rates.items():
        label = "off (before)" if wait == 0 else "on"
        print(f"{label + ' median':>22} {'':>6} {statistics.median(xs):>10.0f}")


def startup(tmp: Path, srcs: list[tuple[str, str | None]], runs: int = 5) -> None:
    d = tmp / "cli-log"
    Ledger.open(d, origin="bench.test/log").close()
    print(f"\n## `modelkin ledger append` start-up ({runs} runs, median)")
    print(f"{'source tree':>40} {'process s':>10} {'import s':>9}")
    for label, src in srcs:
        env = dict(os.environ)
        if src:
            env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        walls = []
        for i in range(runs):
            (tmp / "e").write_bytes(f"entry {label} {i}".encode())
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "modelkin", "ledger", "append", str(tmp / "e"),
                            "--dir", str(d)], env=env, check=True, capture_output=True)  # fmt: skip
            walls.append(time.perf_counter() - t0)
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c",
             "import sys; from modelkin.cli import main; "
             f"main(['ledger', 'append', {str(tmp / 'e')!r}, '--dir', {str(d)!r}])"],
            env=env, capture_output=True, text=True,
        )  # fmt: skip
        total = 0
        for line in out.stderr.splitlines():  # top-level imports only (no indent)
            parts = line.split("|")
            top = len(parts) == 3 and parts[2][1:2] != " " and parts[1].strip().isdigit()
            if line.startswith("import time:") and top:
                total += int(parts[1])
        print(f"{label:>40} {statistics.median(walls):>10.3f} {total / 1e6:>9.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=100_000, help="mirror catch-up log size")
    ap.add_argument("--appends", type=int, default=30, help="statements for cosigning latency")
    ap.add_argument("--baseline-src", help="another checkout's src/ to compare start-up with")
    ap.add_argument("--only", choices=["cosign", "mirror", "appends", "startup"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as t:
        tmp = Path(t)
        if args.only in (None, "cosign"):
            cosigning_and_lookup(tmp, args.appends)
        if args.only in (None, "mirror"):
            mirror_catch_up(tmp, args.entries)
        if args.only in (None, "appends"):
            appends16(tmp)
        if args.only in (None, "startup"):
            srcs: list[tuple[str, str | None]] = [("this tree", None)]
            if args.baseline_src:
                srcs.insert(0, (f"baseline {args.baseline_src}", args.baseline_src))
            startup(tmp, srcs)


if __name__ == "__main__":
    main()
