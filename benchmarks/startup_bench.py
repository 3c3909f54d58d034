"""Start-up time of the ``modelkin`` commands people run one at a time (issue 14).

Each command runs as a fresh ``python -m modelkin ...`` process on tiny inputs made here
(a label JSON, an empty ledger), so what is timed is what a user waits for: interpreter
start, imports, building the command line, and the command's (tiny) work. Reported: the
median and minimum wall time of ``--runs`` runs, the median CPU time (user + system) of
the process, which a machine shared with other jobs inflates less than wall time, and the
cumulative time of the top-level imports from ``python -X importtime`` (one more run),
the part this benchmark exists to keep small. Target: every row under 0.5 s.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/startup_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _label_json(where: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "labels"))
    from label_samples import minilm_label

    from modelkin.labels.model import label_to_json

    path = where / "label.json"
    path.write_text(label_to_json(minilm_label()), encoding="utf-8")
    return path


def _commands(tmp: Path) -> list[tuple[str, list[str]]]:
    label = str(_label_json(tmp))
    ledger = tmp / "log"
    subprocess.run(
        [sys.executable, "-m", "modelkin", "ledger", "init", "--dir", str(ledger)],
        check=True,
        capture_output=True,
    )
    entry = tmp / "entry.bin"
    entry.write_bytes(b"startup benchmark entry")
    return [
        ("--help", ["--help"]),
        ("label -f json", ["label", label, "-f", "json"]),
        ("label -f svg", ["label", label, "-f", "svg"]),
        ("export -f cyclonedx", ["export", label, "-f", "cyclonedx"]),
        ("export -f spdx3", ["export", label, "-f", "spdx3"]),
        ("export -f hf-card", ["export", label, "-f", "hf-card"]),
        ("works rules", ["works", "rules"]),
        ("ledger append", ["ledger", "append", str(entry), "--dir", str(ledger)]),
    ]


def _import_seconds(args: list[str], env: dict[str, str]) -> float:
    """Sum of top-level cumulative import times reported by ``-X importtime``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "modelkin", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    total = 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if m and not m.group(2):  # top-level imports only (no indentation)
            total += int(m.group(1))
    return total / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        cmds = _commands(Path(tmp))
        print(f"modelkin start-up, {args.runs} runs each (python -m modelkin ...)")
        print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        print(
            f"{'command':<22} {'median s':>9} {'min s':>7} {'CPU s':>7} {'imports s':>10}"
            "  median under 0.5 s"
        )
        for name, argv in cmds:
            times, cpu = [], []
            for _ in range(args.runs):
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "modelkin", *argv], capture_output=True, env=env
                )
                times.append(time.perf_counter() - t0)
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
                if proc.returncode != 0:
                    raise SystemExit(f"{name} failed: {proc.stderr.decode()[-500:]}")
            med = statistics.median(times)
            imp = _import_seconds(argv, env)
            print(
                f"{name:<22} {med:>9.3f} {min(times):>7.3f} {statistics.median(cpu):>7.3f} "
                f"{imp:>10.3f}  "
                f"{'yes' if med < 0.5 else 'NO'}"
            )


if __name__ == "__main__":
    main()
