"""Adapters for the tools the benchmarks run side by side: modelkin and modelDNA.

Both adapters expose the same three calls — ``fingerprint(path)``, ``compare(a, b)`` and
a per-pair :class:`Outcome` — so the benchmark tables can put them in adjacent columns.
Either tool may be missing (modelkin's engine still being written, modelDNA not installed
from the ``bench`` extra); :func:`available` says why, and the benchmarks print that
instead of numbers.

modelDNA 0.1 (PyPI ``modeldna``) reads local *directories* holding safetensors or GGUF
weights; a file path is taken as its parent directory. It cannot read ONNX. It is run
with ``HF_HUB_OFFLINE=1`` so nothing is ever fetched.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

#: modelDNA verdict classes that claim lineage / that abstain.
MODELDNA_RELATED = {"EXACT_COPY", "QUANTIZED_COPY", "FINE_TUNE", "SAME_LINEAGE", "LIKELY_MERGE"}
MODELDNA_ABSTAIN = {"SAME_FAMILY_UNRESOLVED", "INSUFFICIENT"}


@dataclass
class Outcome:
    """One tool's answer on one pair. ``score`` ranks pairs (higher = more related):
    -log10(combined p) for modelkin, P(derived) for modelDNA; 0 when it abstained."""

    verdict: str
    related: bool | None
    score: float
    detail: str = ""
    seconds: float = 0.0


def modelkin_available() -> str | None:
    """None when modelkin's fingerprint + compare engine imports, else the reason."""
    try:
        from modelkin.fingerprint import fingerprint_model  # noqa: F401
        from modelkin.forensics import compare  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def modeldna_available() -> str | None:
    """None when modelDNA imports, else the reason."""
    try:
        import modeldna  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc} (pip install -e '.[bench]')"
    return None


def _key(path: Path, extra: str) -> str:
    st = path.stat()
    return hashlib.sha256(
        f"{path.resolve()}|{st.st_mtime_ns}|{st.st_size}|{extra}".encode()
    ).hexdigest()[:32]


def model_file(path: Path) -> Path:
    """A directory that only wraps one GGUF/ONNX file (made so that modelDNA, which
    takes directories, can read it) stands for that file."""
    if path.is_dir() and not (path / "config.json").exists():
        inner = [p for p in path.iterdir() if p.suffix in (".gguf", ".onnx")]
        if len(inner) == 1:
            return inner[0]
    return path


class Modelkin:
    """modelkin's engine with fingerprints cached on disk (keyed by path + mtime)."""

    name = "modelkin"

    def __init__(self, cache: Path, mode: str = "fast", reuse: bool = True) -> None:
        from modelkin.fingerprint import FINGERPRINT_VERSION

        self.cache = cache
        self.mode = mode
        self.reuse = reuse
        self.version = FINGERPRINT_VERSION
        cache.mkdir(parents=True, exist_ok=True)
        self._mem: dict[Path, Any] = {}

    def fingerprint(self, path: Path) -> Any:
        from modelkin.fingerprint import Fingerprint, fingerprint_model

        if path in self._mem:
            return self._mem[path]
        f = self.cache / f"{_key(path, f'{self.mode}|v{self.version}')}.fp"
        fp = None
        if self.reuse and f.exists():
            try:
                fp = Fingerprint.load(f)
            except Exception:  # a stale cache entry is recomputed
                fp = None
        if fp is None:
            fp = fingerprint_model(model_file(path), mode=self.mode, seed=0)
            fp.save(f)
        self._mem[path] = fp
        return fp

    def compare(self, suspect: Path, candidate: Path) -> Outcome:
        from modelkin.forensics import compare

        try:
            a, b = self.fingerprint(suspect), self.fingerprint(candidate)
            t = time.perf_counter()
            rep = compare(a, b)
            dt = time.perf_counter() - t
        except Exception as exc:
            return Outcome("error", None, 0.0, f"{type(exc).__name__}: {exc}"[:120])
        p = rep.p_value
        score = 0.0 if p is None else -math.log10(max(float(p), 1e-300))
        if p is None:
            detail = ""
        elif rep.p_floor is not None and p <= rep.p_floor:  # at its method's floor
            detail = f"p<{float(rep.p_floor):.2g}"
        else:
            detail = f"p={float(p):.2g}"
        return Outcome(str(rep.verdict), rep.related, score, detail, dt)


class ModelDNA:
    """modelDNA 0.1 through its library API (the steps of its ``compare`` command),
    with fingerprints kept in memory."""

    name = "modelDNA"

    def __init__(self, mode: str = "fast") -> None:
        self.mode = mode
        self._fps: dict[Path, Any] = {}

    def fingerprint(self, path: Path) -> Any:
        from modeldna.fingerprint.extract import extract_fingerprint
        from modeldna.io.source import open_source

        if path not in self._fps:
            self._fps[path] = extract_fingerprint(
                open_source(str(path)), mode=self.mode, model_id=str(path)
            )
        return self._fps[path]

    def compare(self, suspect: Path, candidate: Path) -> Outcome:
        from modeldna.compare import compare_fingerprints
        from modeldna.verdict import judge

        try:
            a, b = self.fingerprint(suspect), self.fingerprint(candidate)
            t = time.perf_counter()
            ev = compare_fingerprints(a, b)
            v = judge(
                [(ev, str(candidate))],
                suspect_dtype=a.arch.torch_dtype,
                candidate_dtypes={str(candidate): b.arch.torch_dtype},
            )
            dt = time.perf_counter() - t
        except Exception as exc:
            return Outcome("error", None, 0.0, f"{type(exc).__name__}: {str(exc)[:100]}")
        cls = v.verdict.value
        prob = v.best.probability if v.best is not None else None
        related = True if cls in MODELDNA_RELATED else None if cls in MODELDNA_ABSTAIN else False
        ruled = next((c.ruled_out for c in v.candidates if c.ruled_out), "") or ""
        return Outcome(
            cls, related, float(prob or 0.0), ruled or ("" if prob is None else f"P={prob:.2f}"), dt
        )
