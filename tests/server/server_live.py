"""Real servers on a loopback port for API and browser tests: uvicorn in a thread
(:func:`live_server`, fast, many per session) or ``modelkin serve`` in its own process
(:func:`serve_process`, exactly what an operator runs: its options, its banner, uvicorn's
own proxy-header handling)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from safetensors.numpy import save_file

from modelkin.server import ServerSettings, create_app
from modelkin.statements import Identity


@dataclass
class Seeded:
    """The session's seeded home and its live server."""

    home: Path
    url: str
    alice: Identity
    model_id: str
    model_digest: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(home: Path, settings: ServerSettings | None = None) -> Iterator[str]:
    """Serve ``home`` on 127.0.0.1:<free port>; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(home, settings=settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        proxy_headers=False,  # as `modelkin serve` without --forwarded-allow-ips
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class ServeProcess:
    """A running ``modelkin serve``: its base URL and what it printed at startup."""

    url: str
    proc: subprocess.Popen[str]
    banner: list[str] = field(default_factory=list)


@contextmanager
def serve_process(
    home: Path, *options: str, env: dict[str, str] | None = None
) -> Iterator[ServeProcess]:
    """``python -m modelkin serve --home HOME --port P OPTIONS...`` until the block exits.

    Waits (polling, 180 s at most: start-up takes a minute on a loaded 2-core machine)
    until the API answers; the banner is every line the command printed before that."""
    port = free_port()
    cmd = [sys.executable, "-m", "modelkin", "serve", "--home", str(home), "--port", str(port)]
    full_env = {
        k: v for k, v in os.environ.items() if k not in ("MODELKIN_DB_URL", "FORWARDED_ALLOW_IPS")
    }
    full_env.update(env or {})
    proc = subprocess.Popen(
        [*cmd, *options], env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if proc.poll() is not None:
                    reader.join(timeout=5)
                    raise RuntimeError("modelkin serve exited:\n" + "\n".join(lines)) from None
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        "modelkin serve did not start:\n" + "\n".join(lines)
                    ) from None
                time.sleep(0.1)
        yield ServeProcess(url, proc, lines)  # the same list: it keeps filling
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        reader.join(timeout=5)


def tiny_model(path: Path, seed: int) -> Path:
    """A real, tiny safetensors model directory."""
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    save_file(
        {"embed.weight": rng.normal(0, 0.02, (32, 8)).astype(np.float32)},
        str(path / "model.safetensors"),
    )
    (path / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 8}))
    return path


# -- an independent RFC 6962 / RFC 9162 §2.1.3.2 inclusion verifier (not the ledger's code)
def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def checkpoint_root(checkpoint: str) -> tuple[int, bytes]:
    lines = checkpoint.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])
