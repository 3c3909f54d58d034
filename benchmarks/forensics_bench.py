"""Speed and memory of fingerprinting and comparing, modelkin vs modelDNA.

For each real model fixture (MiniLM-L6 safetensors, MiniLM-L3 ONNX, Gemma-3-270M GGUF
Q4_K_M) and each tool, a *fresh* Python subprocess imports the tool, fingerprints the
model once and reports wall time, peak RSS (``resource.getrusage``, ``ru_maxrss``) and
the RSS of the interpreter + imports alone (``VmHWM`` from /proc; ``getrusage`` where
/proc is missing), so the fingerprinting's own footprint is
``peak - baseline``. Then two fingerprints are compared in-process (median of repeats).

Usage: ``python benchmarks/forensics_bench.py [--mode fast|full] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _rss_mb() -> float:
    """Peak RSS of this process in MB: ``VmHWM`` where /proc has it (reset by exec),
    else ``getrusage`` ``ru_maxrss``, which Linux carries over from the forking parent
    and so over-reports a child that stays below its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def child(tool: str, mode: str, path: str, out: str) -> None:
    """Runs in the fresh subprocess: fingerprint ``path`` once, print a JSON line."""
    res: dict[str, Any] = {"tool": tool}
    try:
        if tool == "modelkin":
            from modelkin.fingerprint import fingerprint_model

            base = _rss_mb()
            t = time.perf_counter()
            fp = fingerprint_model(Path(path), mode=mode, seed=0)
            res["seconds"] = time.perf_counter() - t
            fp.save(Path(out))
        else:
            from modeldna.fingerprint.extract import extract_fingerprint
            from modeldna.io.source import open_source

            base = _rss_mb()
            t = time.perf_counter()
            fp = extract_fingerprint(open_source(path), mode=mode, model_id=path)
            res["seconds"] = time.perf_counter() - t
            res["bytes_read"] = fp.bytes_read
            fp.save(out)
        res["peak_mb"] = _rss_mb()
        res["baseline_mb"] = base
        res["fp_bytes"] = Path(out).stat().st_size
    except Exception as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"[:90]
    print(json.dumps(res))


def run_child(tool: str, mode: str, path: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", tool, mode, str(path), str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"tool": tool, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:90]}
    return json.loads(lines[-1])


def compare_seconds(tool: str, fa: Path, fb: Path, repeat: int) -> float | str:
    """Median seconds to compare two saved fingerprints (load excluded)."""
    try:
        if tool == "modelkin":
            from modelkin.fingerprint import Fingerprint
            from modelkin.forensics import compare

            a, b = Fingerprint.load(fa), Fingerprint.load(fb)

            def op() -> Any:
                return compare(a, b)
        else:
            from modeldna.compare import compare_fingerprints
            from modeldna.fingerprint.extract import Fingerprint as DFP

            da, db = DFP.load(fa), DFP.load(fb)

            def op() -> Any:
                return compare_fingerprints(da, db)

        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            op()
            times.append(time.perf_counter() - t)
        return statistics.median(times)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:60]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", default="fast", choices=("fast", "full"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument(
        "--child", nargs=4, metavar=("TOOL", "MODE", "PATH", "OUT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    from _peers import modeldna_available, modelkin_available
    from modelkin.fixtures import fetch

    models = {mid: fetch(mid) for mid in ("minilm-l6", "minilm-l3", "gemma-270m")}
    tools = []
    for name, why in (("modelkin", modelkin_available()), ("modelDNA", modeldna_available())):
        if why is None:
            tools.append(name)
        else:
            print(f"# {name} NOT AVAILABLE: {why}")
    tmp = Path(tempfile.mkdtemp(prefix="forensics-bench-"))
    fps: dict[tuple[str, str], Path] = {}
    print(f"# fingerprint ({args.mode} mode), each in a fresh subprocess")
    print(
        f"{'model':12} {'size MB':>8} {'tool':9} {'seconds':>8} {'peak MB':>8} "
        f"{'base MB':>8} {'own MB':>7} {'fp KB':>7}  note"
    )
    for mid, path in models.items():
        size = (
            sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
            if path.is_dir()
            else path.stat().st_size
        ) / 1e6
        for tool in tools:
            out = tmp / f"{tool}-{mid}.fp"
            r = run_child(tool, args.mode, path, out)
            if "error" in r:
                print(
                    f"{mid:12} {size:8.1f} {tool:9} {'-':>8} {'-':>8} {'-':>8} {'-':>7} "
                    f"{'-':>7}  {r['error']}"
                )
                continue
            fps[(tool, mid)] = out
            note = f"read {r['bytes_read'] / 1e6:.1f} MB" if r.get("bytes_read") else ""
            print(
                f"{mid:12} {size:8.1f} {tool:9} {r['seconds']:8.2f} {r['peak_mb']:8.0f} "
                f"{r['baseline_mb']:8.0f} {r['peak_mb'] - r['baseline_mb']:7.0f} "
                f"{r['fp_bytes'] / 1024:7.0f}  {note}"
            )
    print(f"\n# compare two saved fingerprints (median of {args.repeat}, load excluded)")
    print(f"{'pair':26} " + " ".join(f"{t:>14}" for t in tools))
    for a, b in (
        ("minilm-l6", "minilm-l3"),
        ("minilm-l6", "gemma-270m"),
        ("gemma-270m", "gemma-270m"),
    ):
        cells = []
        for tool in tools:
            if (tool, a) not in fps or (tool, b) not in fps:
                cells.append(f"{'n/a':>14}")
                continue
            s = compare_seconds(tool, fps[(tool, a)], fps[(tool, b)], args.repeat)
            cells.append(f"{s * 1000:11.1f} ms" if isinstance(s, float) else f"{s[:14]:>14}")
        print(f"{a + ' vs ' + b:26} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
