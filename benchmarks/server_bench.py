"""Registry service under concurrent load on loopback: throughput, p50/p99 latency.

A real uvicorn server (one process, the embedded SQLite default) in this process's thread;
C client threads (httpx) run a bounded mix: signed writes (fresh self-signed identity
statements through ``POST /api/v1/statements``) and reads (model list, checkpoint, inclusion
proof, search). Bounded by count and by wall time. Afterwards the log is checked: every
receipt's inclusion proof against its checkpoint, consistency from every receipt's tree
size to the final tree, and a full ``Ledger.verify()``.

Run: ``.venv/bin/python benchmarks/server_bench.py [writes] [reads] [clients] [max_seconds]``
"""

from __future__ import annotations

import base64
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "server"))
from server_live import live_server, tiny_model

from modelkin.ledger import Ledger
from modelkin.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from modelkin.registry import Registry, register_identity, register_model
from modelkin.registry.core import LEDGER_ORIGIN
from modelkin.server import ServerSettings
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.statement import make_statement, subject


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def _identity_envelope(i: int) -> dict[str, Any]:
    ident = Identity.generate(f"bench-{i}")
    pred = {"name": ident.name, "algorithm": "ed25519", "public_key": ident.public_key_pem,
            "organisation": "Bench", "contact": None}  # fmt: skip
    st = make_statement(
        [subject(ident.name, ident.keyid)], get_kind("identity").predicate_type, pred
    )
    return sign_envelope(st, ident)


def main(writes: int = 200, reads: int = 800, clients: int = 8, max_s: float = 120.0) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        alice = Identity.generate("alice")
        with Registry.open(home) as reg:
            register_identity(reg, alice, "Alice Labs")
            register_model(reg, tiny_model(Path(tmp) / "m", 1), alice, name="tiny",
                           version="1", organisation="Alice Labs", license="mit",
                           fingerprint=False)  # fmt: skip
        envelopes = [_identity_envelope(i) for i in range(writes)]  # signed before timing
        ops: list[tuple[str, Any]] = [("write", e) for e in envelopes]
        ops += [("read", i) for i in range(reads)]
        random.Random(1).shuffle(ops)
        lat: dict[str, list[float]] = {"write": [], "read": []}
        receipts: list[dict[str, Any]] = []
        errors: list[str] = []
        lock = threading.Lock()
        settings = ServerSettings(writes_per_minute=10**9)
        with live_server(home, settings) as url:
            deadline = time.monotonic() + max_s
            local = threading.local()

            def client() -> httpx.Client:
                if not hasattr(local, "c"):
                    local.c = httpx.Client(base_url=url, timeout=30)
                return local.c  # type: ignore[no-any-return]

            def run(op: tuple[str, Any]) -> None:
                if time.monotonic() > deadline:
                    return
                kind, arg = op
                c = client()
                t0 = time.perf_counter()
                if kind == "write":
                    r = c.post("/api/v1/statements", json=arg)
                else:
                    path = ("/api/v1/models", "/checkpoint", "/api/v1/search?q=tiny",
                            "/api/v1/ledger/proof/inclusion?index=1")[arg % 4]  # fmt: skip
                    r = c.get(path)
                dt = time.perf_counter() - t0
                with lock:
                    lat[kind].append(dt)
                    if r.status_code >= 400:
                        errors.append(f"{kind} {r.status_code} {r.text[:100]}")
                    elif kind == "write":
                        receipts.append(r.json())

            t0 = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                list(pool.map(run, ops))
            wall = time.perf_counter() - t0
            final = httpx.get(f"{url}/api/v1/ledger").json()
        # ---- consistency of the log after the run
        size = final["size"]
        ledger = Ledger.open(home / "ledger", origin=LEDGER_ORIGIN, create=False)
        try:
            final_root = ledger.root(size)
            bad = 0
            for rc in receipts:
                entry = ledger.entry(rc["ledger_index"])
                n = rc["tree_size"]
                root = base64.b64decode(rc["checkpoint"].split("\n")[2])
                proof = [bytes.fromhex(h) for h in rc["inclusion_proof"]]
                ok = verify_inclusion(leaf_hash(entry), rc["ledger_index"], n, proof, root)
                cons = ledger.consistency_proof(n, size) if n < size else []
                ok = ok and (n == size or verify_consistency(n, size, root, final_root, cons))
                bad += not ok
            report = ledger.verify()
        finally:
            ledger.close()
        done = len(lat["write"]) + len(lat["read"])
        print(f"server_bench: {clients} clients, loopback, SQLite default, wall {wall:.2f} s")
        print(f"{'op':<8}{'count':>8}{'ops/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for kind in ("write", "read"):
            xs = lat[kind]
            print(f"{kind:<8}{len(xs):>8}{len(xs) / wall:>10.1f}"
                  f"{_pct(xs, 0.5) * 1e3:>10.1f}{_pct(xs, 0.99) * 1e3:>10.1f}")  # fmt: skip
        print(f"{'all':<8}{done:>8}{done / wall:>10.1f}")
        print(f"errors: {len(errors)}{' ' + errors[0] if errors else ''}")
        print(f"log: size {size} (2 seed + {len(receipts)} writes); receipts failing "
              f"inclusion/consistency: {bad}; Ledger.verify: "
              f"{'ok' if report.ok else report.problems[:3]}")  # fmt: skip
        if bad or not report.ok or size != 2 + len(receipts):
            raise SystemExit("log inconsistent after load")


if __name__ == "__main__":
    args = [float(a) for a in sys.argv[1:]]
    main(*(int(a) for a in args[:3]), *(args[3:4]))  # type: ignore[arg-type]
