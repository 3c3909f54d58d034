"""Reader speed and memory: listing and full streaming of each real model.

For each real model fixture (and a generated safetensors file of ``--big-mib`` MiB), two
measurements, each in a fresh Python process so that peak RSS is that task's alone:

* ``list``: open the model, list tensors, build the role map and structural signature;
* ``stream``: open it and read every tensor as float32, one at a time.

Printed per row: wall time, stored MB per second (bytes in the file / time), peak RSS of
the process (``ru_maxrss``), RSS of a bare interpreter with modelkin imported, the largest
tensor as float32, and whether the peak stays under the issue's bound (300 MB + the largest
single tensor). Formats whose reader is not installed are reported as unavailable.

With ``--memory``, instead: modelkin beside modelDNA on the same files, rounds
alternating between the tools (each run a fresh process that reports its own ``VmHWM``;
BLAS pinned to one thread for both), the median of ``--rounds`` per cell:

* ``compare``: each tool's ``compare`` command on gemma-3-270m (GGUF Q4_K_M) against a
  byte copy of it in another directory (both fingerprinted in the process, as a user runs
  it; modelDNA reads directories);
* ``fingerprint``: fingerprinting the GGUF alone;
* ``compare saved``: modelkin comparing two saved fingerprints (load included);
* ``tokenizer.json``: reading a generated gemma-sized ``tokenizer.json`` (262,144 tokens,
  514,906 merge pairs) with ``json.load`` versus modelkin's reader.

Run: ``.venv/bin/python benchmarks/io_bench.py [--big-mib 1024]`` or ``--memory``
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


MEMORY_CHILD = r"""
import json, sys, time
def hwm():
    return [int(x.split()[1]) / 1024 for x in open("/proc/self/status") if x.startswith("VmHWM")][0]
task, args = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
note = ""
if task == "modelkin-cli":
    import contextlib, io
    from modelkin.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(args)
    note = f"exit {code}: " + next((ln for ln in buf.getvalue().splitlines() if ln), "")
elif task == "modelDNA-cli":
    import contextlib, io
    from modeldna.cli import app
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            app(args, standalone_mode=False)
    except SystemExit:
        pass
    note = next((ln.strip() for ln in buf.getvalue().splitlines() if "Verdict" in ln or "verdict" in ln), "")
elif task == "modelDNA-fingerprint":
    from modeldna.fingerprint.extract import extract_fingerprint
    from modeldna.io.source import open_source
    extract_fingerprint(open_source(args[0]), mode="fast", model_id=args[0]).save(args[1])
elif task == "saved":
    from modelkin.fingerprint import Fingerprint
    from modelkin.forensics import compare
    note = str(compare(Fingerprint.load(args[0]), Fingerprint.load(args[1])).verdict)
elif task == "json.load":
    obj = json.load(open(args[0], encoding="utf-8"))
    note = f"{len(obj['model']['vocab'])} tokens"
elif task == "tokenizer":
    from modelkin.io.tokenizer import from_tokenizer_json
    tok = from_tokenizer_json(args[0])
    note = f"{len(tok.tokens)} tokens, {len(tok.merges)} merges"
print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": hwm(), "note": note[:60]}))
"""


def run_memory(task: str, *args: str) -> dict[str, object]:
    """One task in a fresh interpreter (BLAS 1 thread), reporting its own peak RSS."""
    import os

    env = dict(os.environ, HF_HUB_OFFLINE="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, task, *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:80]}
    out: dict[str, object] = json.loads(lines[-1])
    return out


def write_tokenizer_json(path: Path, tokens: int = 262_144, merges: int = 514_906) -> None:
    """A BPE tokenizer.json of gemma-3's size (its vocabulary and merge-pair counts)."""
    vocab = {f"▁tok{i}é" if i % 3 else f"t{i}": i for i in range(tokens)}
    pairs = [[f"t{i % tokens}", f"▁tok{(i + 1) % tokens}é"] for i in range(merges)]
    obj = {"version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": pairs}}
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def memory(rounds: int) -> None:
    """The ``--memory`` table (see the module doc)."""
    import shutil
    import statistics

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _peers import modeldna_available
    from modelkin_dev.fixtures import fetch

    gguf = fetch("gemma-270m")
    dna = modeldna_available() is None
    if not dna:
        print(f"# modelDNA NOT AVAILABLE: {modeldna_available()}")
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        a.mkdir()
        b.mkdir()
        shutil.copyfile(gguf, a / gguf.name)
        shutil.copyfile(gguf, b / gguf.name)
        tj = Path(tmp) / "tokenizer.json"
        write_tokenizer_json(tj)
        fa, fb = Path(tmp) / "a.fp", Path(tmp) / "b.fp"
        cells: dict[tuple[str, str], list[dict[str, object]]] = {}
        plan: list[tuple[str, str, tuple[str, ...]]] = [
            (
                "compare",
                "modelkin",
                ("modelkin-cli", "compare", str(a / gguf.name), str(b / gguf.name)),
            ),
            ("compare", "modelDNA", ("modelDNA-cli", "compare", str(a), str(b))),
            (
                "fingerprint",
                "modelkin",
                ("modelkin-cli", "fingerprint", str(a / gguf.name), "-o", str(fa)),
            ),
            ("fingerprint", "modelDNA", ("modelDNA-fingerprint", str(a), str(Path(tmp) / "d.fp"))),
            ("tokenizer.json", "json.load", ("json.load", str(tj))),
            ("tokenizer.json", "modelkin", ("tokenizer", str(tj))),
        ]
        run_memory("modelkin-cli", "fingerprint", str(b / gguf.name), "-o", str(fb))
        for r in range(rounds):
            # alternate which tool goes first in each pair of rows
            for i in range(0, len(plan), 2):
                pair = plan[i : i + 2] if r % 2 == 0 else plan[i : i + 2][::-1]
                for task, tool, argv in pair:
                    if tool == "modelDNA" and not dna:
                        continue
                    cells.setdefault((task, tool), []).append(run_memory(*argv))
            cells.setdefault(("compare saved", "modelkin"), []).append(
                run_memory("saved", str(fa), str(fb))
            )
        print(
            f"# gemma-3-270m Q4_K_M GGUF ({gguf.stat().st_size / 1e6:.0f} MB) and a copy; "
            f"tokenizer.json {tj.stat().st_size / 1e6:.1f} MB; median of {rounds} alternating rounds"
        )
        print(f"{'task':15} {'tool':10} {'seconds':>8} {'peak RSS MB':>12}  note")
        for (task, tool), runs in cells.items():
            ok = [x for x in runs if "error" not in x]
            if not ok:
                print(f"{task:15} {tool:10} {'-':>8} {'-':>12}  {runs[0].get('error')}")
                continue
            sec = statistics.median(float(x["seconds"]) for x in ok)  # type: ignore[arg-type]
            peak = statistics.median(float(x["peak_mb"]) for x in ok)  # type: ignore[arg-type]
            print(f"{task:15} {tool:10} {sec:8.2f} {peak:12.0f}  {ok[-1].get('note', '')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big-mib", type=int, default=1024, help="size of the generated file")
    ap.add_argument("--models", default="minilm-l6,minilm-l3,gemma-270m")
    ap.add_argument("--memory", action="store_true", help="modelkin beside modelDNA (see doc)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds for --memory")
    args = ap.parse_args()
    if args.memory:
        memory(args.rounds)
        return

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
