"""Two ``modelkin serve`` processes on one PostgreSQL database append at the same time.

The ledger has one sequencer (an advisory lock), so the two servers must produce ONE log:
every acknowledged statement at its own index, a tree that fully verifies, and checkpoints
from either server that are consistent with the other's (RFC 9162 consistency proofs)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelkin.ledger import merkle as mk
from modelkin.ledger import note
from modelkin.ledger.checkpoint import open_checkpoint
from modelkin.registry import Registry, register_identity
from modelkin.statements import Identity
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.kinds import get_kind
from modelkin.statements.statement import make_statement, subject

THREADS, PER_THREAD = 2, 6  # per server


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(home: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "modelkin", "serve", "--home", str(home), "--port", str(port)]
    cmd += ["--db-url", url, "--writes-per-minute", "100000"]
    env = {k: v for k, v in os.environ.items() if k != "MODELKIN_DB_URL"}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_up(proc: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 180  # start-up takes a minute on a loaded 2-core machine
    while True:
        try:
            httpx.get(f"{base}/api/v1/ledger", timeout=2).raise_for_status()
            return
        except httpx.TransportError:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                pytest.fail(f"server exited: {out}")
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)


def _product(alice: Identity, tag: str) -> dict[str, Any]:
    pred = {"name": tag, "organisation": "A", "models": [{"sha256": "cd" * 32}]}
    st = make_statement([subject("m", "cd" * 32)], get_kind("product").predicate_type, pred)
    return sign_envelope(st, alice)


def test_two_servers_one_log(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "home"  # shared by both servers: log key, signed.state, blobs
    alice = Identity.generate("alice")
    with Registry.open(home, pg_url) as reg:
        register_identity(reg, alice, "Alice Labs")
    ports = [_free_port(), _free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    procs = [_serve(home, pg_url, p) for p in ports]
    receipts: list[tuple[int, dict[str, Any]]] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        for proc, base in zip(procs, bases, strict=True):
            _wait_up(proc, base)
        start = threading.Barrier(2 * THREADS)

        def worker(server: int, k: int) -> None:
            envs = [_product(alice, f"s{server}-t{k}-{i}") for i in range(PER_THREAD)]
            with httpx.Client(base_url=bases[server], timeout=60) as client:
                start.wait()
                for env in envs:
                    r = client.post("/api/v1/statements", json=env)
                    with lock:
                        if r.status_code == 201:
                            receipts.append((server, r.json()))
                        else:
                            errors.append(f"{r.status_code} {r.text}")

        threads = [
            threading.Thread(target=worker, args=(s, k)) for s in (0, 1) for k in range(THREADS)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        total = 2 * THREADS * PER_THREAD
        assert len(receipts) == total
        indexes = [r["ledger_index"] for _, r in receipts]
        assert sorted(indexes) == list(range(1, total + 1))  # 0 is alice's identity

        status = [httpx.get(f"{b}/api/v1/ledger").json() for b in bases]
        vkey = status[0]["verifier_key"]
        assert status[1]["verifier_key"] == vkey
        verifier = note.Verifier.parse(vkey)
        # every receipt: signed checkpoint + inclusion proof of its own leaf
        heads: dict[int, bytes] = {}
        for _, r in receipts:
            cp, _ = open_checkpoint(r["checkpoint"], verifier)
            proof = [bytes.fromhex(h) for h in r["inclusion_proof"]]
            leaf = bytes.fromhex(r["leaf_hash"])
            assert mk.verify_inclusion(leaf, r["ledger_index"], cp.size, proof, cp.root)
            assert heads.setdefault(cp.size, cp.root) == cp.root  # one root per size: no fork
        # checkpoints from both servers form one chain: consecutive consistency proofs,
        # asked alternately of each server
        sizes = sorted(heads)
        for n, (old, new) in enumerate(itertools.pairwise(sizes)):
            c = httpx.get(
                f"{bases[n % 2]}/api/v1/ledger/proof/consistency", params={"old": old, "new": new}
            ).json()
            proof = [bytes.fromhex(h) for h in c["consistency_proof"]]
            assert mk.verify_consistency(old, new, heads[old], heads[new], proof)
        for b in bases:  # both servers index every statement
            assert httpx.get(f"{b}/api/v1/products").json()["count"] == total
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
    with Registry.open(home, pg_url) as reg:
        assert reg.applied_size() == total + 1
        log = reg.ledger
        assert log.size() == total + 1
        report = log.verify()
        assert report.ok, report.problems
        latest, _ = open_checkpoint(log.checkpoint(), verifier)
        for size, root in heads.items():
            assert mk.verify_consistency(
                size, latest.size, root, latest.root, log.consistency_proof(size, latest.size)
            )
