"""Fingerprint and compare speed on the real models (prints a table).

For each real model: fast and full fingerprint time, the bytes of tensor data the fast
fingerprint asked the reader for (rows requested x bytes per stored row) as a fraction of
all tensor data, fingerprint file size, and the time to compare two fingerprints.
Run: .venv/bin/python benchmarks/fingerprint_speed.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from modelkin.fingerprint import fingerprint_source
from modelkin.fixtures import fetch
from modelkin.forensics import compare
from modelkin.io import open_model


def _measure(path: Path, mode: str) -> tuple[Any, float, float]:
    with open_model(path) as src:
        infos = {t.name: t for t in src.tensors()}
        total = sum(t.nbytes for t in infos.values())
        read = src.read
        touched = [0]

        def counting(name: str, rows: slice | None = None) -> np.ndarray:
            info = infos[name]
            n0 = info.shape[0] if info.shape else 1
            n = len(range(*rows.indices(n0))) if rows is not None else n0
            touched[0] += info.nbytes * n // max(1, n0)
            return read(name, rows)

        src.read = counting  # type: ignore[method-assign]
        t = time.perf_counter()
        fp = fingerprint_source(src, mode="fast" if mode == "fast" else "full")
        return fp, time.perf_counter() - t, touched[0] / max(1, total)


def main() -> None:
    rows = []
    fps = {}
    for mid in ("minilm-l6", "minilm-l3", "gemma-270m"):
        path = fetch(mid)
        t0 = time.perf_counter()
        with open_model(path):
            pass
        t_open = time.perf_counter() - t0
        fast, t_fast, frac = _measure(path, "fast")
        _, t_full, _ = _measure(path, "full")
        with tempfile.TemporaryDirectory() as d:
            size = fast.save(Path(d) / "fp").stat().st_size
        fps[mid] = fast
        rows.append((mid, fast.format, t_open, t_fast, frac, t_full, size))
    print(
        f"{'model':12} {'format':11} {'open s':>7} {'fast s':>7} {'read %':>7} "
        f"{'full s':>7} {'fp KiB':>7}"
    )
    for mid, fmt, t_open, t_fast, frac, t_full, size in rows:
        print(
            f"{mid:12} {fmt:11} {t_open:7.2f} {t_fast:7.2f} {100 * frac:7.2f} "
            f"{t_full:7.2f} {size / 1024:7.0f}"
        )
    print()
    print(f"{'compare':28} {'verdict':20} {'seconds':>8}")
    for a, b in (
        ("minilm-l6", "minilm-l6"),
        ("minilm-l3", "minilm-l6"),
        ("gemma-270m", "minilm-l6"),
        ("gemma-270m", "gemma-270m"),
    ):
        t = time.perf_counter()
        r = compare(fps[a], fps[b])
        print(f"{a + ' vs ' + b:28} {r.verdict:20} {time.perf_counter() - t:8.2f}")


if __name__ == "__main__":
    main()
