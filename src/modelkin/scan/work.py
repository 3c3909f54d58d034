"""What one worker does with one model: hash its files, fingerprint it, return bytes.

Runs in a spawned process or a Ray worker, so it takes a path (each worker reads its own
files; weights never travel) and returns plain data: the per-file manifest, a stat
signature for cheap change detection on resume, and the fingerprint file's bytes (a few
MB at most). The driver writes them, so the output directory needs no shared
filesystem and has a single writer. Errors come back as data: one bad model must never
abort a scan of thousands.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.statements.manifest import manifest_digest, model_files, scan_directory


def stat_signature(path: Path) -> list[list[Any]]:
    """``[name, size, mtime_ns]`` of every file a manifest of ``path`` would list.

    Like make and rsync, resume trusts unchanged sizes and modification times instead of
    re-reading every byte; a changed signature means the model is scanned again."""
    out: list[list[Any]] = []
    for name, p in model_files(Path(path)):
        st = p.stat()
        out.append([name, st.st_size, st.st_mtime_ns])
    return out


def model_format(path: Path) -> str:
    """A short format label for a registration (``hf-safetensors``, ``gguf``, ...)."""
    if path.is_file():
        return path.suffix.lstrip(".").lower() or "file"
    suffixes = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
    for fmt in (".safetensors", ".gguf", ".onnx", ".bin", ".pt"):
        if fmt in suffixes:
            name = fmt.lstrip(".")
            return f"hf-{name}" if (path / "config.json").exists() else name
    return "directory"


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def scan_one(path: str, mode: str = "fast", seed: int = 0) -> dict[str, Any]:
    """Manifest and fingerprint of the model at ``path``, or ``{"ok": False, "error"}``."""
    from threadpoolctl import threadpool_limits

    from modelkin.fingerprint import fingerprint_model

    started = time.perf_counter()
    p = Path(path)
    try:
        if not p.exists():
            raise ModelkinError(p, "no such file or directory")
        before = stat_signature(p)
        files = scan_directory(p)
        digest = manifest_digest(files)
        # One model per CPU is the unit of parallelism: BLAS threads on top would
        # oversubscribe the cores (measured: 1.7x slower for one model on 2 cores, far
        # worse when every core already runs a worker).
        with threadpool_limits(limits=1):
            fp = fingerprint_model(
                p, mode="full" if mode == "full" else "fast", seed=seed, manifest=digest
            )
        if stat_signature(p) != before:
            raise ModelkinError(p, "model files changed while being scanned")
        with tempfile.TemporaryDirectory(prefix="modelkin-scan-") as tmp:
            data = fp.save(Path(tmp) / "fingerprint").read_bytes()
        return {
            "ok": True,
            "stat": before,
            "manifest": files,
            "manifest_digest": digest,
            "fingerprint": data,
            "fingerprint_digest": fp.digest(),
            "structure": fp.structure,
            "format": model_format(p),
            "bytes": sum(int(f["size"]) for f in files),
            "seconds": time.perf_counter() - started,
            "peak_rss": _peak_rss_bytes(),
            "pid": os.getpid(),
        }
    except ModelkinError as exc:
        error = str(exc)
    except Exception as exc:
        # Readers validate what they can; anything else a malformed file provokes is
        # still that model's problem, reported against its path.
        error = f"{p}: {type(exc).__name__}: {exc}"
    return {
        "ok": False,
        "error": error,
        "seconds": time.perf_counter() - started,
        "peak_rss": _peak_rss_bytes(),
        "pid": os.getpid(),
    }
