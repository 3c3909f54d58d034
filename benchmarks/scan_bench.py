"""Collection scan throughput: serial, a 2-process pool, and local Ray with 1 and 2 workers.

The collection is built once and cached under ``~/.cache/modelkin/bench/scan-<sha>``
(keyed by the sha256 of its recipe): synthetic llama-style HF directories of ~40-80 MB
(random float32 weights written with numpy, real safetensors/config/tokenizer files)
plus copies of the real fixtures (minilm-l6 HF directory, minilm-l3 ONNX, gemma-270m
GGUF). Each configuration runs in a fresh Python process, scanning into a fresh output
directory, so peak RSS figures are that run's own.

Printed per configuration: models, MB read, runner start-up time (process pool spawn or
``ray.init`` of a local cluster), scan time without start-up, models/s and MB/s over the
scan time, peak RSS of the driver and of the largest worker (``ru_maxrss``).

Run: ``.venv/bin/python benchmarks/scan_bench.py [--configs serial,pool2,ray1,ray2]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Synthetic models: (layers, seed). hidden 384, MLP 1024, 6 heads / 2 KV heads, vocab 8000.
SYNTHETIC = [(3, 11), (4, 12), (5, 13), (6, 14), (7, 15), (8, 16), (4, 17), (6, 18), (8, 19)]
REAL = ["minilm-l6", "minilm-l3", "gemma-270m"]
RECIPE = {
    "version": 1,
    "synthetic": SYNTHETIC,
    "hidden": 384,
    "mlp": 1024,
    "vocab": 8000,
    "real": REAL,
}
CONFIGS = {
    "serial": {"runner": "serial", "workers": 1},
    "pool2": {"runner": "pool", "workers": 2},
    "ray1": {"runner": "ray", "workers": 1},
    "ray2": {"runner": "ray", "workers": 2},
}

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from modelkin.scan import PoolRunner, RayRunner, ScanOptions, SerialRunner, collect, scan_collection
kind, workers, root, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
runner = {"serial": lambda: SerialRunner(), "pool": lambda: PoolRunner(workers),
          "ray": lambda: RayRunner(workers=workers)}[kind]()
s = scan_collection(collect(root), runner, ScanOptions(out_dir=out, retries=0))
print(json.dumps({"done": s.done, "failed": s.failed, "bytes": s.bytes, "seconds": s.seconds,
                  "startup": s.runner.get("startup_seconds", 0.0),
                  "driver_peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "worker_peak": s.worker_peak_rss}))
"""


def _write_llama(out: Path, layers: int, seed: int) -> None:
    from modelkin_dev.synth import tokenizers
    from modelkin_dev.synth.hfdir import StreamWriter
    from modelkin_dev.synth.specs import LlamaSpec

    spec = LlamaSpec(
        vocab_size=RECIPE["vocab"],
        hidden_size=RECIPE["hidden"],
        intermediate_size=RECIPE["mlp"],
        num_hidden_layers=layers,
        num_attention_heads=6,
        num_key_value_heads=2,
    )
    rng = np.random.default_rng(seed)
    h, i, v, kv = spec.hidden_size, spec.intermediate_size, spec.vocab_size, 2 * spec.head_dim
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(spec.config(), indent=2, sort_keys=True))
    w = StreamWriter(out / "model.safetensors")

    def add(name: str, *shape: int) -> None:
        w.add(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    add("lm_head.weight", v, h)
    add("model.embed_tokens.weight", v, h)
    w.add("model.norm.weight", np.ones(h, np.float32))
    for n in range(layers):
        p = f"model.layers.{n}."
        w.add(p + "input_layernorm.weight", np.ones(h, np.float32))
        add(p + "mlp.down_proj.weight", h, i)
        add(p + "mlp.gate_proj.weight", i, h)
        add(p + "mlp.up_proj.weight", i, h)
        w.add(p + "post_attention_layernorm.weight", np.ones(h, np.float32))
        add(p + "self_attn.k_proj.weight", kv, h)
        add(p + "self_attn.o_proj.weight", h, h)
        add(p + "self_attn.q_proj.weight", h, h)
        add(p + "self_attn.v_proj.weight", kv, h)
    w.close()
    tokenizers.write("llama", out)


def build_collection() -> Path:
    """The cached collection (built on first use; a marker file says it is complete)."""
    key = hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]
    root = Path.home() / ".cache" / "modelkin" / "bench" / f"scan-{key}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    for layers, seed in SYNTHETIC:
        _write_llama(root / "synthetic" / f"llama-{layers}l-s{seed}", layers, seed)
    from modelkin_dev.fixtures import fetch

    for mid in REAL:
        src = fetch(mid)
        if src.is_dir():
            shutil.copytree(src, root / "real" / mid)
        else:
            (root / "real").mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / "real" / f"{mid}{src.suffix}")
    (root / ".complete").write_text("ok\n")
    return root


def run_config(name: str, root: Path) -> dict[str, Any]:
    cfg = CONFIGS[name]
    with tempfile.TemporaryDirectory(prefix="scan-bench-") as tmp:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                cfg["runner"],
                str(cfg["workers"]),
                str(root),
                str(Path(tmp) / "out"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]), config=name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default=",".join(CONFIGS))
    args = ap.parse_args()
    root = build_collection()
    print(f"collection: {root}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.1f}")
    head = (
        f"{'config':<8} {'models':>6} {'MB':>7} {'startup s':>9} {'scan s':>7} "
        f"{'models/s':>8} {'MB/s':>6} {'driver MiB':>10} {'worker MiB':>10}"
    )
    print(head)
    print("-" * len(head))
    for name in args.configs.split(","):
        r = run_config(name, root)
        scan = max(r["seconds"] - r["startup"], 1e-9)
        print(
            f"{name:<8} {r['done']:>6} {r['bytes'] / 1e6:>7.0f} {r['startup']:>9.1f} "
            f"{scan:>7.1f} {r['done'] / scan:>8.2f} {r['bytes'] / 1e6 / scan:>6.1f} "
            f"{r['driver_peak'] / 2**20:>10.0f} {r['worker_peak'] / 2**20:>10.0f}"
            + (f"  failed: {len(r['failed'])}" if r["failed"] else "")
        )


if __name__ == "__main__":
    main()
