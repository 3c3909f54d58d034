"""Three registries on loopback, as real ``modelkin serve`` processes (used by the
federation test, ``benchmarks/federation_bench.py`` and anyone who wants to see one).

Each registry has its own home (log key, registry), is a C2SP tlog-witness for the two
others, and submits its own checkpoints to them under a 2-of-2 policy: one Sigsum-format
policy file per log, naming its key and URL and the two other registries' witnesses.
Waiting is on events: a server is up when it prints uvicorn's "running" line; the rest
waits on the servers' long-poll endpoints (witnessed checkpoints, mirror sizes).
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from safetensors.numpy import save_file

from modelkin.ledger import Ledger
from modelkin.ledger.witness import Witness
from modelkin.registry import Registry, register_identity
from modelkin.statements import (
    Identity,
    get_kind,
    make_statement,
    manifest_digest,
    scan_directory,
    sign_envelope,
    subject,
)
from modelkin.statements.manifest import MANIFEST_METHOD

NAMES = ("a", "b", "c")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry3:
    """One of the three: where it lives and how to reach it."""

    name: str
    home: Path
    port: int
    witness_dir: Path
    vkey: str = ""
    witness_vkey: str = ""
    proc: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def witness_name(self) -> str:
        return f"{self.name}.test/witness"


def model_envelope(tmp: Path, alice: Identity, tag: str, seed: int) -> tuple[dict[str, Any], str]:
    """A signed model statement over a tiny real safetensors model; returns (envelope,
    the model's manifest digest)."""
    d = tmp / f"model-{tag}"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file({"w": rng.normal(0, 0.02, (8, 8)).astype(np.float32)}, str(d / "model.safetensors"))
    files = scan_directory(d)
    digest = manifest_digest(files)
    pred = {"name": f"model-{tag}", "version": "1", "organisation": "Alice Labs",
            "license": "mit", "manifest": {"method": MANIFEST_METHOD, "files": files}}  # fmt: skip
    st = make_statement([subject(f"model-{tag}", digest)], get_kind("model").predicate_type, pred)
    return sign_envelope(st, alice), digest


def prepare(tmp: Path) -> tuple[list[Registry3], list[Path], Identity]:
    """Homes (each with alice's identity logged), witness keys and the three policies."""
    alice = Identity.generate("alice")
    regs = [Registry3(n, tmp / f"home-{n}", free_port(), tmp / f"witness-{n}") for n in NAMES]
    for r in regs:
        # each log its own origin (C2SP: the origin names one log; witnesses key on it)
        Ledger.open(r.home / "ledger", origin=f"{r.name}.test/registry").close()
        with Registry.open(r.home) as reg:
            register_identity(reg, alice, "Alice Labs")
        r.vkey = (r.home / "ledger/log.vkey").read_text().strip()
        r.witness_vkey = Witness.init(r.witness_dir, r.witness_name).vkey()
    policies = []
    for r in regs:
        others = [o for o in regs if o is not r]
        text = f"# {r.name}'s log, witnessed by the two other registries (2 of 2)\n"
        text += f"log {r.vkey} {r.url}\n"
        text += "".join(f"witness w{o.name} {o.witness_vkey} {o.url}\n" for o in others)
        text += f"group both all {' '.join('w' + o.name for o in others)}\nquorum both\n"
        p = tmp / f"{r.name}.policy"
        p.write_text(text)
        policies.append(p)
    return regs, policies, alice


def start(r: Registry3, policies: list[Path], *extra: str, home: Path | None = None) -> None:
    """Start ``modelkin serve`` for ``r`` and return once uvicorn says it is running."""
    cmd = [sys.executable, "-m", "modelkin", "serve", "--home", str(home or r.home),
           "--port", str(r.port), "--writes-per-minute", "100000",
           "--witness-dir", str(r.witness_dir), "--witness-name", r.witness_name,
           "--witness-interval", "5", "--mirror-interval", "0.5", "--public-url", r.url]  # fmt: skip
    for p in policies:
        cmd += ["--policy", str(p)]
    cmd += list(extra)
    env = {k: v for k, v in os.environ.items() if k != "MODELKIN_DB_URL"}
    env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)  # fmt: skip
    assert proc.stdout is not None
    r.proc, r.output = proc, []
    for line in proc.stdout:  # blocks on the server's own output: no polling
        r.output.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        raise AssertionError(f"{r.name} did not start:\n{''.join(r.output)}")
    out = proc.stdout

    def drain() -> None:
        for line in out:
            r.output.append(line)

    threading.Thread(target=drain, daemon=True).start()


def stop(r: Registry3) -> None:
    if r.proc is not None and r.proc.poll() is None:
        r.proc.terminate()
        r.proc.wait(timeout=60)
    r.proc = None


@contextmanager
def federation(
    tmp: Path,
    mirror_of: int | None = 0,
    setup: Callable[[list[Registry3], Identity], None] | None = None,
) -> Iterator[tuple[list[Registry3], list[Path], Identity]]:
    """The three registries running; the third mirrors the first (``mirror_of``);
    ``setup`` runs on the prepared homes before any server starts."""
    regs, policies, alice = prepare(tmp)
    if setup is not None:
        setup(regs, alice)
    try:
        for i, r in enumerate(regs):
            extra = ["--mirror", regs[mirror_of].url] if i == 2 and mirror_of is not None else []
            start(r, policies, *extra)
        yield regs, policies, alice
    finally:
        for r in regs:
            stop(r)


def submit(client: httpx.Client, r: Registry3, envelope: dict[str, Any]) -> dict[str, Any]:
    resp = client.post(f"{r.url}/api/v1/statements", json=envelope)
    assert resp.status_code == 201, resp.text
    out: dict[str, Any] = resp.json()
    return out


def witnessed(client: httpx.Client, r: Registry3, size: int, timeout: float = 30) -> dict[str, Any]:
    resp = client.get(f"{r.url}/api/v1/federation/witnessed",
                      params={"min_size": size, "timeout": timeout}, timeout=timeout + 10)  # fmt: skip
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


def entry(client: httpx.Client, r: Registry3, index: int) -> bytes:
    resp = client.get(f"{r.url}/api/v1/ledger/entries/{index}")
    assert resp.status_code == 200, resp.text
    return base64.b64decode(resp.json()["entry"])
