"""A real uvicorn server on a loopback port, in a thread, for API and browser tests."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
        create_app(home, settings=settings), host="127.0.0.1", port=port, log_level="warning"
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
