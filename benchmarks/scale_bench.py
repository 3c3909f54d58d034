"""Real size: fingerprint and compare a 7B-class model, modelkin beside modelDNA.

Generates on disk (outside the repository, under ``--dir``; deleted afterwards unless
``--keep``) a Hugging Face directory with Qwen2.5-7B's exact tensor shapes and layout:
four bf16 safetensors shards with a ``model.safetensors.index.json`` (~15.2 GB), a
``config.json`` and a byte-level BPE ``tokenizer.json`` of Qwen2.5's size (151,643 tokens
and merges, 22 added tokens). Weights are seeded Gaussian noise (std 0.02, pieces of a
pre-drawn pool: see :class:`Pool`): the benchmark is about time and memory, which depend
on shapes and bytes, not on training. A derived
copy is then made the way a light fine-tune differs from its parent: every shard copied,
then eight tensors (q/k projections of layers 0-1, the MLP down projection of layers 3
and 20, the last norm and 1 % of lm_head's rows) drifted in place by Gaussian noise of
2 % of their RMS.

Each task runs in a fresh child process that reports its own peak RSS (``VmHWM``, reset
at exec, so the bench process never inflates it), with BLAS pinned to one thread for both
tools alike. Tools alternate within each task so that neither always meets a warm page
cache. Tasks:

* ``fingerprint``: fast-mode fingerprint of the original (modelkin's CLI path; modelDNA's
  ``extract_fingerprint`` in fast mode, as its ``compare`` command does);
* ``compare``: the CLI comparison of the two directories (both fingerprinted in that
  process, then compared), with its verdict;
* ``compare saved``: modelkin comparing two saved fingerprints (load included);
* ``full``: modelkin's full mode (every tensor hashed and summarised, every file hashed).

Targets from issue 19: fast fingerprint and compare under 60 s and 1 GB of RSS, full mode
within 2 GB.

Usage: ``nice -n 10 python benchmarks/scale_bench.py [--dir /tmp/modelkin-scale] [--keep]
[--no-full] [--no-modeldna] [--timeout 900]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

#: Qwen2.5-7B (config.json of Qwen/Qwen2.5-7B).
QWEN7B: dict[str, Any] = {
    "architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2",
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "vocab_size": 152064,
    "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-6,
    "rope_theta": 1000000.0,
    "hidden_act": "silu",
    "tie_word_embeddings": False,
    "torch_dtype": "bfloat16",
    "bos_token_id": 151643,
    "eos_token_id": 151643,
}
#: Shards of the real checkpoint, and tokens / added tokens of its tokenizer.
SHARDS = 4
BPE_TOKENS = 151643
ADDED_TOKENS = 22
STD = 0.02
DRIFT = 0.02
#: Tensors the derived copy changes (the fraction of rows for a partial drift).
DRIFTED: dict[str, float] = {
    "model.layers.0.self_attn.q_proj.weight": 1.0,
    "model.layers.0.self_attn.k_proj.weight": 1.0,
    "model.layers.1.self_attn.q_proj.weight": 1.0,
    "model.layers.1.self_attn.k_proj.weight": 1.0,
    "model.layers.3.mlp.down_proj.weight": 1.0,
    "model.layers.20.mlp.down_proj.weight": 1.0,
    "model.norm.weight": 1.0,
    "lm_head.weight": 0.01,
}
CHUNK = 1 << 22  # values written per step
POOL = 1 << 26  # values drawn once (128 MiB of bf16)


def tensor_shapes(cfg: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """Every tensor of the checkpoint, in the order the HF writer stores them."""
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    kv = cfg["num_key_value_heads"] * (h // cfg["num_attention_heads"])
    out: list[tuple[str, tuple[int, ...]]] = [("model.embed_tokens.weight", (v, h))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        out += [
            (f"{p}.input_layernorm.weight", (h,)),
            (f"{p}.mlp.down_proj.weight", (h, f)),
            (f"{p}.mlp.gate_proj.weight", (f, h)),
            (f"{p}.mlp.up_proj.weight", (f, h)),
            (f"{p}.post_attention_layernorm.weight", (h,)),
            (f"{p}.self_attn.k_proj.bias", (kv,)),
            (f"{p}.self_attn.k_proj.weight", (kv, h)),
            (f"{p}.self_attn.o_proj.weight", (h, h)),
            (f"{p}.self_attn.q_proj.bias", (h,)),
            (f"{p}.self_attn.q_proj.weight", (h, h)),
            (f"{p}.self_attn.v_proj.bias", (kv,)),
            (f"{p}.self_attn.v_proj.weight", (kv, h)),
        ]
    out += [("model.norm.weight", (h,)), ("lm_head.weight", (v, h))]
    return out


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even."""
    u = x.astype(np.float32).view(np.uint32)
    return (
        (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
    ).astype(np.uint16)


def from_bf16(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << np.uint32(16)).view(np.float32)


class Pool:
    """Seeded N(0, STD) values as bf16 bit patterns, handed out in chunks that start at
    seeded offsets of one pre-drawn pool: drawing 7.6 billion normals would take an hour
    on a shared 2-core machine, copying from the pool is bounded by the disk. Each tensor
    is then a seeded mosaic of pool pieces (for time and memory only shapes and bytes
    matter; the two models compared differ where the drift was applied)."""

    def __init__(self, seed: int, size: int = POOL) -> None:
        self.rng = np.random.default_rng(seed)
        self.values = to_bf16(self.rng.standard_normal(size, dtype=np.float32) * np.float32(STD))
        self.ones = to_bf16(np.float32(1.0) + from_bf16(self.values[: 1 << 16]))

    def write(self, f: Any, name: str, shape: tuple[int, ...]) -> None:
        n = _numel(shape)
        if name.endswith("norm.weight"):  # norm scales near 1
            f.write(np.resize(self.ones, n).tobytes())
            return
        pool = self.values
        for lo in range(0, n, CHUNK):
            k = min(CHUNK, n - lo)
            start = int(self.rng.integers(0, pool.size - k + 1))
            f.write(pool[start : start + k].data)


def _shard_plan(
    shapes: list[tuple[str, tuple[int, ...]]], shards: int
) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Split tensors, in order, into ``shards`` groups of about equal bytes."""
    total = sum(_numel(s) * 2 for _, s in shapes)
    plan: list[list[tuple[str, tuple[int, ...]]]] = [[]]
    acc = 0
    for name, shape in shapes:
        size = _numel(shape) * 2
        if plan[-1] and acc + size > total * len(plan) / shards and len(plan) < shards:
            plan.append([])
        plan[-1].append((name, shape))
        acc += size
    return plan


def write_tokenizer(path: Path, seed: int = 0) -> None:
    """A byte-level BPE ``tokenizer.json`` of Qwen2.5's size: 256 byte tokens, then merged
    tokens (each the concatenation of two earlier tokens, as BPE builds them), one merge
    rule per merged token, and the added special tokens."""
    rng = np.random.default_rng(seed)
    byte_tokens = [
        chr(0x100 + b) if b < 33 or 126 < b < 161 or b == 173 else chr(b) for b in range(256)
    ]
    vocab: dict[str, int] = {t: i for i, t in enumerate(byte_tokens)}
    toks = list(byte_tokens)
    merges: list[list[str]] = []
    while len(toks) < BPE_TOKENS:
        a = toks[int(rng.integers(0, min(len(toks), 4096)))]
        b = toks[int(rng.integers(0, len(toks)))]
        t = a + b
        if t in vocab or len(t) > 24:
            continue
        vocab[t] = len(toks)
        toks.append(t)
        merges.append([a, b])
    added = [
        {
            "id": BPE_TOKENS + i,
            "content": f"<|extra_{i}|>"
            if i > 2
            else ["<|endoftext|>", "<|im_start|>", "<|im_end|>"][i],
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for i in range(ADDED_TOKENS)
    ]
    obj = {
        "version": "1.0",
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False},
        "decoder": {"type": "ByteLevel"},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "byte_fallback": False,
            "vocab": vocab,
            "merges": merges,
        },
    }
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def generate(d: Path, cfg: dict[str, Any], seed: int = 0) -> Path:
    """Write the original model into ``d`` (once: a finished directory is reused)."""
    done = d / ".complete"
    if done.exists() and json.loads((d / "config.json").read_text()) == cfg:
        return d
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    shapes = tensor_shapes(cfg)
    plan = _shard_plan(shapes, SHARDS)
    pool = Pool(seed)
    weight_map: dict[str, str] = {}
    total = 0
    for k, group in enumerate(plan):
        fname = f"model-{k + 1:05d}-of-{len(plan):05d}.safetensors"
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        off = 0
        for name, shape in group:
            size = _numel(shape) * 2
            header[name] = {
                "dtype": "BF16",
                "shape": list(shape),
                "data_offsets": [off, off + size],
            }
            off += size
            weight_map[name] = fname
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)
        with (d / fname).open("wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw)
            for name, shape in group:
                pool.write(f, name, shape)
        total += off
        print(f"# wrote {fname} ({off / 1e9:.2f} GB)", file=sys.stderr, flush=True)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    write_tokenizer(d / "tokenizer.json")
    done.touch()
    return d


def _tensor_span(path: Path, name: str) -> tuple[int, tuple[int, ...]]:
    with path.open("rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    e = header[name]
    return 8 + n + e["data_offsets"][0], tuple(e["shape"])


def derive(src: Path, dst: Path, seed: int = 1) -> Path:
    """Copy ``src`` to ``dst`` and drift the :data:`DRIFTED` tensors in place."""
    done = dst / ".complete"
    if done.exists() and (dst / "config.json").read_bytes() == (src / "config.json").read_bytes():
        return dst
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for p in sorted(src.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            shutil.copyfile(p, dst / p.name)
    weight_map = json.loads((dst / "model.safetensors.index.json").read_text())["weight_map"]
    rng = np.random.default_rng(seed)
    for name, share in DRIFTED.items():
        if name not in weight_map:  # a smoke run with fewer layers
            continue
        shard = dst / weight_map[name]
        start, shape = _tensor_span(shard, name)
        row = _numel(shape[1:]) if len(shape) > 1 else 1
        rows = shape[0] if len(shape) > 1 else _numel(shape)
        pick = rows if share >= 1.0 else max(1, int(rows * share))
        idx = np.sort(rng.choice(rows, size=pick, replace=False)) if pick < rows else None
        with shard.open("r+b") as f:
            step = max(1, CHUNK // row)
            targets = range(0, rows, step) if idx is None else [int(i) for i in idx]
            for lo in targets:
                k = min(step, rows - lo) if idx is None else 1
                f.seek(start + lo * row * 2)
                x = from_bf16(np.frombuffer(f.read(k * row * 2), dtype=np.uint16))
                rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) or STD
                x = x + rng.standard_normal(x.size, dtype=np.float32) * np.float32(DRIFT * rms)
                f.seek(start + lo * row * 2)
                f.write(to_bf16(x).tobytes())
    done.touch()
    return dst


# -- measuring --------------------------------------------------------------------------------

CHILD = r"""
import json, os, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
tool, task, out = sys.argv[1], sys.argv[2], sys.argv[3]
paths = sys.argv[4:]
res = {}
t = time.perf_counter()
c0 = time.process_time()
try:
    if tool == "modelkin":
        if task == "compare":
            import contextlib, io
            from modelkin.cli import main
            sys.argv = ["modelkin", "compare", "--json", *paths]
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                code = main()
            rep = json.loads(buf.getvalue())
            res["verdict"] = f"{rep['verdict']} (exit {code})"
        else:
            from modelkin.fingerprint import fingerprint_model
            fp = fingerprint_model(paths[0], mode=task, seed=0)
            fp.save(out)
            res["verdict"] = f"{len(fp.roles)} roles"
    else:
        from modeldna.fingerprint.extract import extract_fingerprint
        from modeldna.io.source import open_source
        fps = [extract_fingerprint(open_source(p), mode="fast", model_id=p) for p in paths]
        if task == "compare":
            from modeldna.compare import compare_fingerprints
            from modeldna.verdict import judge
            ev = compare_fingerprints(fps[0], fps[1])
            v = judge([(ev, paths[1])], suspect_dtype=fps[0].arch.torch_dtype,
                      candidate_dtypes={paths[1]: fps[1].arch.torch_dtype})
            res["verdict"] = v.verdict.value
        else:
            fps[0].save(out)
            res["verdict"] = "fingerprint saved"
except Exception as exc:
    res["error"] = f"{type(exc).__name__}: {exc}"[:120]
res["seconds"] = time.perf_counter() - t
res["cpu"] = time.process_time() - c0
res["peak_mb"] = hwm()
print(json.dumps(res))
"""


def run_child(tool: str, task: str, paths: list[Path], out: Path, timeout: float) -> dict[str, Any]:
    """One task in a fresh interpreter; its own report of time and peak RSS."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    t = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, tool, task, str(out), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "seconds": time.perf_counter() - t}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return {"error": tail[:120], "seconds": time.perf_counter() - t}
    res: dict[str, Any] = json.loads(lines[-1])
    return res


def saved_compare(a: Path, b: Path) -> dict[str, Any]:
    """modelkin comparing two saved fingerprints in a fresh process (load included)."""
    code = (
        "import json,sys,time\n"
        "t=time.perf_counter()\n"
        "c0=time.process_time()\n"
        "from modelkin.fingerprint import Fingerprint\n"
        "from modelkin.forensics import compare\n"
        "r=compare(Fingerprint.load(sys.argv[1]),Fingerprint.load(sys.argv[2]))\n"
        "dt=time.perf_counter()-t\n"
        "hwm=[int(x.split()[1])/1024 for x in open('/proc/self/status') if x.startswith('VmHWM')][0]\n"
        "cpu=time.process_time()-c0\n"
        "print(json.dumps({'seconds':dt,'cpu':cpu,'peak_mb':hwm,'verdict':str(r.verdict)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(a), str(b)], capture_output=True, text=True, check=False
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def _row(task: str, tool: str, r: dict[str, Any], limit_mb: float, limit_s: float | None) -> str:
    if "error" in r:
        return f"{task:15} {tool:9} {r.get('seconds', 0):8.1f} {'-':>7} {'-':>8} {'-':>6}  {r['error']}"
    ok = r["peak_mb"] <= limit_mb and (limit_s is None or r["seconds"] <= limit_s)
    return (
        f"{task:15} {tool:9} {r['seconds']:8.1f} {r.get('cpu', float('nan')):7.1f} "
        f"{r['peak_mb']:8.0f} {'yes' if ok else 'NO':>6}  {r.get('verdict', '')}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/modelkin-scale"))
    ap.add_argument("--keep", action="store_true", help="keep the generated models")
    ap.add_argument("--no-full", action="store_true", help="skip the full-mode fingerprint")
    ap.add_argument("--no-modeldna", action="store_true")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per task")
    ap.add_argument("--layers", type=int, default=0, help="fewer layers (a quick smoke run)")
    args = ap.parse_args(argv)
    cfg = QWEN7B | ({"num_hidden_layers": args.layers} if args.layers else {})

    need = 2 * sum(_numel(s) * 2 for _, s in tensor_shapes(cfg)) + 2**30
    args.dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.dir).free
    have = sum(p.stat().st_size for p in args.dir.rglob("*") if p.is_file())
    if free + have < need:
        print(f"# not enough disk under {args.dir}: need {need / 1e9:.1f} GB", file=sys.stderr)
        return 1
    sys.path.insert(0, str(HERE))
    from _peers import modeldna_available

    tools = ["modelkin"]
    why = modeldna_available()
    if args.no_modeldna:
        print("# modelDNA skipped (--no-modeldna)")
    elif why is None:
        tools.append("modelDNA")
    else:
        print(f"# modelDNA NOT AVAILABLE: {why}")
    try:
        t = time.perf_counter()
        orig = generate(args.dir / "qwen7b-shape", cfg)
        derived = derive(orig, args.dir / "qwen7b-drift")
        gen_s = time.perf_counter() - t
        size = sum(p.stat().st_size for p in orig.iterdir() if p.is_file()) / 1e9
        params = sum(_numel(s) for _, s in tensor_shapes(cfg)) / 1e9
        print(
            f"# Qwen2.5-7B shapes ({cfg['num_hidden_layers']} layers): {params:.2f}B parameters, bf16, {SHARDS} shards, {size:.1f} GB "
            f"per model (generated/derived in {gen_s:.0f} s); derived copy: "
            f"{len(DRIFTED)} tensors drifted by {DRIFT:.0%} RMS noise"
        )
        print(
            "# each task in a fresh process, BLAS 1 thread; limits: fast 1 GB and 60 s, full 2 GB"
        )
        print(
            f"{'task':15} {'tool':9} {'seconds':>8} {'cpu s':>7} {'peak MB':>8} {'limit':>6}  "
            "verdict / note"
        )
        fps = {}
        order = [tools, list(reversed(tools))]
        for tool in order[0]:
            out = args.dir / f"{tool}-orig.fp"
            r = run_child(tool, "fast", [orig], out, args.timeout)
            fps[tool] = out
            print(_row("fingerprint", tool, r, 1024, 60), flush=True)
        for tool in order[1]:
            r = run_child(tool, "compare", [derived, orig], args.dir / "x.fp", args.timeout)
            print(_row("compare", tool, r, 1024, 60), flush=True)
        dfp = args.dir / "modelkin-drift.fp"
        run_child("modelkin", "fast", [derived], dfp, args.timeout)
        r = saved_compare(dfp, fps["modelkin"])
        print(_row("compare saved", "modelkin", r, 1024, 1.0), flush=True)
        if not args.no_full:
            r = run_child("modelkin", "full", [orig], args.dir / "full.fp", args.timeout)
            print(_row("full", "modelkin", r, 2048, None), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.dir / "qwen7b-shape", ignore_errors=True)
            shutil.rmtree(args.dir / "qwen7b-drift", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
