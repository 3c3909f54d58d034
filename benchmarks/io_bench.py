"""Reader speed and memory: listing and full streaming of each real model.

For each real model fixture (and a generated safetensors file of ``--big-mib`` MiB), two
measurements, each in a fresh Python process so that peak RSS is that task's alone:

* ``list``: open the model, list tensors, build the role map and structural signature;
* ``stream``: open it and read every tensor as float32, one at a time.

Printed per row: wall time, stored MB per second (bytes in the file / time), peak RSS of
the process (``ru_maxrss``), RSS of a bare interpreter with modelkin imported, the largest
tensor as float32, and whether the peak stays under the issue's bound (300 MB + the largest
single tensor). Formats whose reader is not installed are reported as unavailable.

Run: ``.venv/bin/python benchmarks/io_bench.py [--big-mib 1024]``
"""

from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from modelkin.io import open_model
from modelkin.arch import role_map, structure
mode, path = sys.argv[1], sys.argv[2]
t_import = time.perf_counter() - t0
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
with open_model(path) as src:
    infos = src.tensors()
    stored = sum(t.nbytes for t in infos)
    largest = max((t.numel for t in infos), default=0) * 4
    if mode == "list":
        rm = role_map(src)
        structure(src, rm)
        n = len(infos)
    else:
        n = 0
        for info, arr in src.iter_tensors():
            n += 1
            del arr
    fmt = src.format
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"fmt": fmt, "n": n, "stored": stored, "largest": largest, "seconds": dt,
                  "peak_mib": peak, "base_mib": base}))
"""

MIB = 2**20


def write_big(path: Path, mib: int) -> None:
    """A llama-shaped F32 safetensors file of about ``mib`` MiB, written in 1 MiB chunks."""
    rows, cols = 2048, 4096  # 32 MiB per tensor
    per = rows * cols * 4
    n = max(1, mib * MIB // per)
    header = {
        f"model.layers.{i // 4}.mlp.{('up', 'gate', 'down', 'up2')[i % 4]}_proj.weight": {
            "dtype": "F32",
            "shape": [rows, cols],
            "data_offsets": [i * per, (i + 1) * per],
        }
        for i in range(n)
    }
    h = json.dumps(header).encode()
    rng = np.random.default_rng(0)
    chunk = rng.standard_normal(MIB // 4).astype(np.float32).tobytes()
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for _ in range(n * per // MIB):
            f.write(chunk)


def measure(mode: str, path: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, timeout=1800
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last.rsplit(": ", 1)[-1]}
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big-mib", type=int, default=1024, help="size of the generated file")
    ap.add_argument("--models", default="minilm-l6,minilm-l3,gemma-270m")
    args = ap.parse_args()

    from modelkin_dev.fixtures import fetch

    targets: list[tuple[str, Path]] = []
    for mid in args.models.split(","):
        if mid:
            targets.append((mid, fetch(mid)))
    with tempfile.TemporaryDirectory() as tmp:
        if args.big_mib > 0:
            big = Path(tmp) / "big.safetensors"
            write_big(big, args.big_mib)
            targets.append((f"generated-{args.big_mib}MiB", big))
        head = (
            f"{'model':<20} {'mode':<6} {'format':<11} {'tensors':>7} {'stored MB':>9} "
            f"{'seconds':>8} {'MB/s':>8} {'peak RSS MiB':>12} {'base MiB':>8} "
            f"{'largest f32 MiB':>15} {'<=300+largest':>13}"
        )
        print(head)
        print("-" * len(head))
        for name, path in targets:
            for mode in ("list", "stream"):
                r = measure(mode, path)
                if "error" in r:
                    print(f"{name:<20} {mode:<6} unavailable: {r['error']}")
                    continue
                stored = float(r["stored"])  # type: ignore[arg-type]
                secs = float(r["seconds"])  # type: ignore[arg-type]
                peak = float(r["peak_mib"])  # type: ignore[arg-type]
                largest = float(r["largest"]) / MIB  # type: ignore[arg-type]
                rate = f"{stored / 1e6 / secs:8.0f}" if mode == "stream" else f"{'-':>8}"
                ok = "yes" if peak <= 300 + largest else "NO"
                print(
                    f"{name:<20} {mode:<6} {r['fmt']!s:<11} {r['n']!s:>7} {stored / 1e6:9.1f} "
                    f"{secs:8.3f} {rate} {peak:12.0f} {float(r['base_mib']):8.0f} "  # type: ignore[arg-type]
                    f"{largest:15.1f} {ok:>13}"
                )


if __name__ == "__main__":
    main()
