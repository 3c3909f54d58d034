"""Registry service under concurrent load on loopback: throughput, p50/p99 latency.

A real uvicorn server (one process, the embedded SQLite default) in this process's thread;
C client threads (httpx) run a bounded mix: signed writes (fresh self-signed identity
statements through ``POST /api/v1/statements``) and reads (model list, checkpoint, inclusion
proof, search). Bounded by count and by wall time. Afterwards the log is checked: every
receipt's inclusion proof against its checkpoint, consistency from every receipt's tree
size to the final tree, and a full ``Ledger.verify()``.

Run: ``.venv/bin/python benchmarks/server_bench.py [writes] [reads] [clients] [max_seconds]``

``server_bench.py scale [sizes...]`` (default ``1000 100000``; ``MODELKIN_BENCH_KEEP=DIR`` keeps
the generated registries there and reuses them) measures reads as the registry
grows: for each size a registry of that many models is generated (one signer; envelopes
signed here and appended to the ledger in batches, then replayed into the tables by
``Registry.repair``, the path ``registry rebuild`` takes, so every record was verified),
served by ``modelkin serve`` in its own process, and read by 8 client threads: the home
page, the first and a deep cursor page of ``/api/v1/models``, a search and one record.
Throughput and p99 per endpoint should stay flat from 1k to 100k: every list is a keyset
page and the home page shows counts and the newest records only.
"""

from __future__ import annotations

import base64
import os
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
from modelkin.registry import Registry, pages, register_identity, register_model
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


# ---------------------------------------------------------------------------- scale mode
BATCH = 2000
SCALE_CLIENTS = 8
SCALE_READS = 400  # per endpoint and size


def _model_envelope(ident: Identity, i: int, rng: random.Random) -> dict[str, Any]:
    files = [{"name": "model.safetensors", "sha256": rng.randbytes(32).hex(), "size": 1 << 20}]
    from modelkin.statements.manifest import MANIFEST_METHOD, manifest_digest

    name = f"model-{i:06d}"
    pred = {"name": name, "version": "1", "organisation": "Scale Labs", "license": "mit",
            "intended_use": None, "out_of_scope": None, "limitations": None,
            "format": "safetensors", "manifest": {"method": MANIFEST_METHOD, "files": files},
            "fingerprint": None, "structure": None}  # fmt: skip
    st = make_statement(
        [subject(name, manifest_digest(files))], get_kind("model").predicate_type, pred
    )
    return sign_envelope(st, ident)


def populate(home: Path, n: int) -> float:
    """A registry of ``n`` models in ``home`` (see the module docstring); seconds taken.

    A home already holding them (``MODELKIN_BENCH_KEEP``) is reused as it is."""
    from datetime import UTC, datetime

    from modelkin.registry.leaf import encode_leaf

    t0 = time.perf_counter()
    if (home / "built").is_file():
        return float((home / "built").read_text())
    ident = Identity.generate("scale")
    rng = random.Random(n)
    with Registry.open(home) as reg:
        register_identity(reg, ident, "Scale Labs")
        for lo in range(0, n, BATCH):
            leaves = []
            for i in range(lo, min(n, lo + BATCH)):
                env = _model_envelope(ident, i, rng)
                now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
                leaves.append(encode_leaf(env, now, "model", ident.keyid, reg.blobs))
            reg.ledger.append_many(leaves)
            reg.repair()  # verify and index the batch, as `registry rebuild` does
            print(f"  {min(n, lo + BATCH):,}/{n:,} models, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
        assert pages.kind_counts(reg).get("model") == n
    took = time.perf_counter() - t0
    (home / "built").write_text(f"{took:.1f}")
    return took


def _endpoints(url: str, n: int) -> dict[str, str]:
    first = httpx.get(f"{url}/api/v1/models?limit=50", timeout=60).json()
    mid = httpx.get(f"{url}/api/v1/search?q=model-{n // 2:06d}", timeout=60).json()["items"][0]
    deep = base64.urlsafe_b64encode(f"i:{mid['ledger_index']}".encode()).rstrip(b"=").decode()
    assert first["next_cursor"] is not None
    return {
        "home page /": "/",
        "models, page 1": "/api/v1/models?limit=50",
        "models, deep page": f"/api/v1/models?limit=50&cursor={deep}",
        "search": f"/api/v1/search?q=model-{n // 3:06d}",
        "one record": f"/api/v1/models/model-{n // 4:06d}",
    }


def _read_load(url: str, path: str) -> tuple[float, list[float], int]:
    """``SCALE_READS`` GETs of ``path`` from ``SCALE_CLIENTS`` threads: wall, latencies,
    errors."""
    local = threading.local()

    def one(_: int) -> tuple[float, bool]:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=url, timeout=60)
        t0 = time.perf_counter()
        r = local.c.get(path)
        return time.perf_counter() - t0, r.status_code == 200

    with ThreadPoolExecutor(SCALE_CLIENTS) as pool:
        list(pool.map(one, range(SCALE_CLIENTS * 2)))  # warm connections and caches
        t0 = time.perf_counter()
        got = list(pool.map(one, range(SCALE_READS)))
        wall = time.perf_counter() - t0
    return wall, [d for d, _ in got], sum(not ok for _, ok in got)


def scale(sizes: list[int]) -> None:
    from server_live import serve_process

    rows: list[tuple[str, int, float, float, float, int]] = []
    built: dict[int, float] = {}
    keep = os.environ.get("MODELKIN_BENCH_KEEP")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(keep or tmp) / f"home-{n}"
            built[n] = populate(home, n)
            with serve_process(home) as proc:
                for label, path in _endpoints(proc.url, n).items():
                    wall, lat, errors = _read_load(proc.url, path)
                    rows.append((label, n, len(lat) / wall, _pct(lat, 0.5), _pct(lat, 0.99),
                                 errors))  # fmt: skip
    print(f"server_bench scale: modelkin serve (one process, SQLite default), loopback, "
          f"{SCALE_CLIENTS} client threads, {SCALE_READS} GETs per row")  # fmt: skip
    print("registries built (sign, batch append, verify and index): " +
          ", ".join(f"{n:,} models in {s:.0f} s" for n, s in built.items()))  # fmt: skip
    print(f"| {'endpoint':<18} | {'models':>8} | {'req/s':>7} | {'p50 ms':>7} | "
          f"{'p99 ms':>7} | errors |")  # fmt: skip
    print(f"|{'-' * 20}|{'-' * 9}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 7}:|")
    for label in dict.fromkeys(r[0] for r in rows):
        for lab, n, rps, p50, p99, err in rows:
            if lab == label:
                print(f"| {lab:<18} | {n:>8,} | {rps:>7.0f} | {p50 * 1e3:>7.1f} | "
                      f"{p99 * 1e3:>7.1f} | {err:>6} |")  # fmt: skip
    if any(r[5] for r in rows):
        raise SystemExit("some reads failed")


if __name__ == "__main__":
    if sys.argv[1:2] == ["scale"]:
        scale([int(a) for a in sys.argv[2:]] or [1000, 100_000])
    else:
        args = [float(a) for a in sys.argv[1:]]
        main(*(int(a) for a in args[:3]), *(args[3:4]))  # type: ignore[arg-type]
