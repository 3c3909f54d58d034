"""``modelkin serve`` with no options: embedded default home from MODELKIN_HOME, created."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from server_live import free_port


def test_serve_creates_the_default_home(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    port = free_port()
    env = {**os.environ, "MODELKIN_HOME": str(home)}
    cmd = [sys.executable, "-m", "modelkin", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180  # start-up takes a minute on a loaded 2-core machine
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/ledger", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.json()["size"] == 0
        assert (home / "registry.db").is_file() and (home / "ledger").is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_refuses_a_bad_witness_key(tmp_path: Path) -> None:
    """A log (0x01) key is not a witness cosigner key: a clear error, exit 2, no server."""
    from modelkin.ledger.note import Signer

    log_key = str(Signer.generate("not-a-witness").verifier)
    env = {**os.environ, "MODELKIN_HOME": str(tmp_path / "h")}
    cmd = [sys.executable, "-m", "modelkin", "serve", "--port", str(free_port())]
    proc = subprocess.run(
        [*cmd, "--witness", log_key], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "witness key not-a-witness: not a cosignature/v1" in proc.stdout + proc.stderr
