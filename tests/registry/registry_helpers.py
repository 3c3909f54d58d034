"""Helpers for the registry tests: tiny real models and an independent RFC 9162 verifier."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def make_model_dir(path: Path, seed: int, noise_from: Path | None = None) -> Path:
    """A real (tiny) safetensors model directory; ``noise_from`` copies and perturbs one."""
    path.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    if noise_from is not None:
        from safetensors.numpy import load_file

        base = load_file(str(noise_from / "model.safetensors"))
        tensors = {
            k: (v + rng.normal(0, 0.004, v.shape)).astype(np.float32) for k, v in base.items()
        }
    else:
        tensors = {
            "embed.weight": rng.normal(0, 0.02, (64, 16)).astype(np.float32),
            "layers.0.mlp.weight": rng.normal(0, 0.02, (16, 32)).astype(np.float32),
        }
    save_file(tensors, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 16}))
    return path


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def checkpoint_root(checkpoint: str) -> tuple[int, bytes]:
    lines = checkpoint.split("\n")
    return int(lines[1]), base64.b64decode(lines[2])


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root
