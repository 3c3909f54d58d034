"""Speed and memory of fingerprinting and comparing, modelkin vs modelDNA.

For each real model fixture (MiniLM-L6 safetensors, MiniLM-L3 ONNX, Gemma-3-270M GGUF
Q4_K_M) and synthetic files (a ~1.3 GB GGUF Q8_0 and a ~1.3 GB single-protobuf ONNX,
each with a small twin of the same tensor widths but fewer layers; generated once and
cached under ``~/.cache/modelkin/bench/<sha256 of recipe>/``), and each tool, a *fresh* Python subprocess imports the tool, fingerprints the model once
and reports wall and CPU time, peak RSS (``VmHWM``), the RSS of the interpreter + imports
alone, so the fingerprinting's own footprint is ``peak - base``, and the tensor bytes
read from the file. Then two fingerprints are compared in-process (median of repeats).

The synthetic files are random weights in real layouts (not trained models): they exist to
show that time and memory follow the tensors a fingerprint reads (their width and count),
not the file size. Peak memory is bounded by the widest tensor read whole (fast mode reads
whole MLP/attention matrices of a few layers for unit matching), so their rows use widths
near the real models' and get their size from depth and vocabulary.

BLAS threads are pinned (``--blas-threads``, default 1, for both tools alike): on a shared
2-core machine a multi-threaded OpenBLAS turns each 256x256 eigendecomposition from ~7 ms
into ~0.5-1 s of spinning, which measures the machine's load, not the tools.

Usage: ``python benchmarks/forensics_bench.py [--mode fast|full] [--repeat N]
[--blas-threads N] [--no-synthetic]``
"""

from __future__ import annotations

import argparse
import hashlib
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
CACHE = Path.home() / ".cache" / "modelkin" / "bench"


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


# -- synthetic large models (random weights in real layouts) -------------------------------

#: Llama layout, Q8_0: hidden 1024, MLP 4096, 16/4 heads, 32k vocabulary; the large file
#: (80 layers, ~1.3 GB) and a small twin of the same widths (4 layers, ~0.14 GB).
GGUF_RECIPE = {
    "kind": "gguf",
    "hidden": 1024,
    "ffn": 4096,
    "layers": 80,
    "heads": 16,
    "kv_heads": 4,
    "vocab": 32000,
    "qtype": "Q8_0",
    "seed": 0,
    "v": 1,
}
GGUF_SMALL = GGUF_RECIPE | {"layers": 4}
#: BERT-large layout, float32 in one protobuf (no external data): hidden 1024, MLP 4096,
#: 24 layers (~1.3 GB), and a small twin (2 layers, ~0.23 GB).
ONNX_RECIPE = {
    "kind": "onnx",
    "hidden": 1024,
    "ffn": 4096,
    "layers": 24,
    "vocab": 30522,
    "seed": 0,
    "v": 1,
}
ONNX_SMALL = ONNX_RECIPE | {"layers": 2}


def _cached(recipe: dict[str, Any], name: str) -> tuple[Path, Path]:
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:32]
    d = CACHE / key
    return d, d / name


def synthetic_gguf(r: dict[str, Any]) -> Path:
    """The GGUF of recipe ``r`` (written once, tensor by tensor, then cached)."""
    import numpy as np
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFWriter

    d, path = _cached(r, "model.gguf")
    if path.exists():
        return path
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "model.gguf.part"
    h, f, hd = r["hidden"], r["ffn"], r["hidden"] // r["heads"]
    q = GGMLQuantizationType.Q8_0
    block, tsize = GGML_QUANT_SIZES[q]
    shapes: dict[str, tuple[int, ...]] = {"token_embd.weight": (r["vocab"], h)}
    for i in range(r["layers"]):
        for k, shp in (
            ("attn_norm", (h,)),
            ("attn_q", (h, h)),
            ("attn_k", (r["kv_heads"] * hd, h)),
            ("attn_v", (r["kv_heads"] * hd, h)),
            ("attn_output", (h, h)),
            ("ffn_norm", (h,)),
            ("ffn_gate", (f, h)),
            ("ffn_up", (f, h)),
            ("ffn_down", (h, f)),
        ):
            shapes[f"blk.{i}.{k}.weight"] = shp
    shapes["output_norm.weight"] = (h,)
    shapes["output.weight"] = (r["vocab"], h)
    w = GGUFWriter(tmp, "llama")
    w.add_block_count(r["layers"])
    w.add_embedding_length(h)
    w.add_feed_forward_length(f)
    w.add_head_count(r["heads"])
    w.add_head_count_kv(r["kv_heads"])
    w.add_layer_norm_rms_eps(1e-5)
    w.add_context_length(2048)
    w.add_tokenizer_model("llama")
    w.add_token_list([f"tok{i}" for i in range(r["vocab"])])
    w.add_token_scores([float(-i) for i in range(r["vocab"])])
    w.add_token_types([1] * r["vocab"])
    for name, shape in shapes.items():
        if len(shape) == 1:
            w.add_tensor_info(name, shape, np.dtype(np.float32), shape[0] * 4)
        else:
            nbytes = shape[0] * shape[1] // block * tsize
            w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes, raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(r["seed"])
    scale = np.frombuffer(np.float16(0.02).tobytes(), dtype=np.uint8)
    for shape in shapes.values():
        if len(shape) == 1:
            w.write_tensor_data(rng.normal(0.0, 0.1, shape).astype(np.float32) + 1.0)
            continue
        blocks = rng.integers(-127, 128, (shape[0] * shape[1] // block, tsize), dtype=np.int8)
        raw = blocks.view(np.uint8)
        raw[:, :2] = scale  # Q8_0 block: float16 scale, then 32 int8 values
        w.write_tensor_data(raw.reshape(shape[0], -1))
        del blocks, raw
    w.close()
    tmp.rename(path)
    return path


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def synthetic_onnx(r: dict[str, Any]) -> Path:
    """The ONNX file of recipe ``r``: one protobuf (no external data) written as
    wire format tensor by tensor, so it is never whole in memory (protobuf encoding: a
    length-delimited field is ``tag, varint length, bytes``; ModelProto.graph = 7,
    GraphProto.initializer = 5, TensorProto.raw_data = 9)."""
    import numpy as np
    from onnx import TensorProto, helper

    d, path = _cached(r, "model.onnx")
    if path.exists():
        return path
    d.mkdir(parents=True, exist_ok=True)
    h, f = r["hidden"], r["ffn"]
    weights: list[tuple[str, tuple[int, ...], str | None]] = [
        ("bert.embeddings.word_embeddings.weight", (r["vocab"], h), None),
        ("bert.embeddings.position_embeddings.weight", (512, h), None),
        ("bert.embeddings.LayerNorm.weight", (h,), None),
        ("bert.embeddings.LayerNorm.bias", (h,), None),
    ]
    nodes = []
    for i in range(r["layers"]):
        pre = f"bert.encoder.layer.{i}"
        for sub, n_in, n_out in (
            ("attention.self.query", h, h),
            ("attention.self.key", h, h),
            ("attention.self.value", h, h),
            ("attention.output.dense", h, h),
            ("intermediate.dense", h, f),
            ("output.dense", f, h),
        ):
            wname, x = f"onnx::MatMul_{len(weights)}", ("x_h" if n_in == h else "x_f")
            weights.append((wname, (n_in, n_out), None))  # MatMul B: [in, out]
            weights.append((f"{pre}.{sub}.bias", (n_out,), None))
            node = "/" + pre.replace("bert.", "").replace(".", "/") + "/" + sub.replace(".", "/")
            nodes.append(
                helper.make_node("MatMul", [x, wname], [node + "_mm"], name=node + "/MatMul")
            )
            nodes.append(
                helper.make_node(
                    "Add", [node + "_mm", f"{pre}.{sub}.bias"], [node + "_y"], name=node + "/Add"
                )
            )
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights += [(f"{pre}.{ln}.weight", (h,), None), (f"{pre}.{ln}.bias", (h,), None)]
    graph = helper.make_graph(
        nodes,
        "synthetic-bert-large",
        [
            helper.make_tensor_value_info("x_h", TensorProto.FLOAT, [1, h]),
            helper.make_tensor_value_info("x_f", TensorProto.FLOAT, [1, f]),
        ],
        [
            helper.make_tensor_value_info(n.output[0], TensorProto.FLOAT, None)
            for n in nodes
            if n.op_type == "Add"
        ],
    )
    model = helper.make_model(graph, producer_name="modelkin-bench")
    graph_bytes = graph.SerializeToString()
    model.ClearField("graph")
    heads = []
    for name, shp, _ in weights:
        meta = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shp)
        n = 4 * int(np.prod(shp))
        t_head = meta.SerializeToString() + b"\x4a" + _varint(n)  # raw_data
        heads.append((t_head, n))
    body_len = len(graph_bytes) + sum(1 + len(_varint(len(t) + n)) + len(t) + n for t, n in heads)
    rng = np.random.default_rng(r["seed"])
    tmp = d / "model.onnx.part"
    with tmp.open("wb") as out:
        out.write(model.SerializeToString() + b"\x3a" + _varint(body_len) + graph_bytes)
        for (t_head, n), (_name, shp, _) in zip(heads, weights, strict=True):
            out.write(b"\x2a" + _varint(len(t_head) + n) + t_head)
            rows = shp[0]
            per = max(1, (1 << 22) // max(1, n // rows))
            for lo in range(0, rows, per):
                part = (rows if len(shp) == 1 else min(per, rows - lo), *shp[1:])
                out.write(rng.normal(0.0, 0.05, part).astype("<f4").tobytes())
                if len(shp) == 1:
                    break
    tmp.rename(path)
    return path


# -- measuring -------------------------------------------------------------------------------


def child(tool: str, mode: str, path: str, out: str) -> None:
    """Runs in the fresh subprocess: fingerprint ``path`` once, print a JSON line."""
    res: dict[str, Any] = {"tool": tool}
    try:
        if tool == "modelkin":
            from modelkin.fingerprint import fingerprint_source
            from modelkin.io import open_model

            base = _rss_mb()
            t, c = time.perf_counter(), time.process_time()
            with open_model(Path(path)) as src:
                fp = fingerprint_source(src, mode=mode, seed=0)  # type: ignore[arg-type]
                res["bytes_read"] = src.bytes_read
            res["seconds"] = time.perf_counter() - t
            res["cpu"] = time.process_time() - c
            res["torch"] = "torch" in sys.modules
            fp.save(Path(out))
        else:
            from modeldna.fingerprint.extract import extract_fingerprint
            from modeldna.io.source import open_source

            base = _rss_mb()
            t, c = time.perf_counter(), time.process_time()
            fp = extract_fingerprint(open_source(path), mode=mode, model_id=path)
            res["seconds"] = time.perf_counter() - t
            res["cpu"] = time.process_time() - c
            res["bytes_read"] = fp.bytes_read
            fp.save(out)
        res["peak_mb"] = _rss_mb()
        res["baseline_mb"] = base
        res["fp_bytes"] = Path(out).stat().st_size
    except Exception as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"[:90]
    print(json.dumps(res))


def run_child(tool: str, mode: str, path: Path, out: Path, threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    if threads > 0:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    proc = subprocess.run(
        [sys.executable, __file__, "--child", tool, mode, str(path), str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env=env,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"tool": tool, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:90]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def compare_once(tool: str, fa: Path, fb: Path, repeat: int) -> tuple[float | str, str]:
    """Median seconds to compare two saved fingerprints (load excluded), and the verdict."""
    try:
        if tool == "modelkin":
            from modelkin.fingerprint import Fingerprint
            from modelkin.forensics import compare

            a, b = Fingerprint.load(fa), Fingerprint.load(fb)

            def op() -> Any:
                return compare(a, b)

            def verdict(rep: Any) -> str:
                return str(rep.verdict)
        else:
            from modeldna.compare import compare_fingerprints
            from modeldna.fingerprint.extract import Fingerprint as DFP

            da, db = DFP.load(fa), DFP.load(fb)

            def op() -> Any:
                return compare_fingerprints(da, db)

            def verdict(rep: Any) -> str:
                return ""

        times, rep = [], None
        for _ in range(repeat):
            t = time.perf_counter()
            rep = op()
            times.append(time.perf_counter() - t)
        return statistics.median(times), verdict(rep)
    except Exception as exc:
        return f"error: {type(exc).__name__}: {exc}"[:60], ""


def _size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return path.stat().st_size / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--mode", default="fast", choices=("fast", "full"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--blas-threads", type=int, default=1, help="0: leave as configured")
    ap.add_argument("--no-synthetic", action="store_true", help="real models only")
    ap.add_argument(
        "--child", nargs=4, metavar=("TOOL", "MODE", "PATH", "OUT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0

    from _peers import modeldna_available, modelkin_available
    from modelkin_dev.fixtures import fetch

    models: dict[str, Path] = {mid: fetch(mid) for mid in ("minilm-l6", "minilm-l3", "gemma-270m")}
    if not args.no_synthetic:
        models["synth-gguf-s"] = synthetic_gguf(GGUF_SMALL)
        models["synth-gguf-l"] = synthetic_gguf(GGUF_RECIPE)
        models["synth-onnx-s"] = synthetic_onnx(ONNX_SMALL)
        models["synth-onnx-l"] = synthetic_onnx(ONNX_RECIPE)
    tools = []
    for name, why in (("modelkin", modelkin_available()), ("modelDNA", modeldna_available())):
        if why is None:
            tools.append(name)
        else:
            print(f"# {name} NOT AVAILABLE: {why}")
    tmp = Path(tempfile.mkdtemp(prefix="forensics-bench-"))
    fps: dict[tuple[str, str], Path] = {}
    threads = args.blas_threads or "as configured"
    print(f"# fingerprint ({args.mode} mode), each in a fresh subprocess; BLAS threads: {threads}")
    print(
        f"{'model':14} {'size MB':>8} {'tool':9} {'seconds':>8} {'cpu s':>6} {'peak MB':>8} "
        f"{'base MB':>8} {'own MB':>7} {'read MB':>8} {'fp KB':>7}  note"
    )
    for mid, path in models.items():
        size = _size_mb(path)
        for tool in tools:
            out = tmp / f"{tool}-{mid}.fp"
            # modelDNA reads directories; a synthetic file sits alone in its cache folder.
            target = path.parent if tool == "modelDNA" and mid.startswith("synth") else path
            r = run_child(tool, args.mode, target, out, args.blas_threads)
            if "error" in r:
                print(
                    f"{mid:14} {size:8.1f} {tool:9} {'-':>8} {'-':>6} {'-':>8} {'-':>8} {'-':>7} "
                    f"{'-':>8} {'-':>7}  {r['error']}"
                )
                continue
            fps[(tool, mid)] = out
            note = "imported torch" if r.get("torch") else ""
            read = f"{r['bytes_read'] / 1e6:8.1f}" if r.get("bytes_read") else f"{'-':>8}"
            print(
                f"{mid:14} {size:8.1f} {tool:9} {r['seconds']:8.2f} {r['cpu']:6.2f} "
                f"{r['peak_mb']:8.0f} {r['baseline_mb']:8.0f} "
                f"{r['peak_mb'] - r['baseline_mb']:7.0f} {read} {r['fp_bytes'] / 1024:7.0f}  {note}"
            )
    print(f"\n# compare two saved fingerprints (median of {args.repeat}, load excluded)")
    print(f"{'pair':32} " + " ".join(f"{t:>14}" for t in tools) + "  modelkin verdict")
    for a, b in (
        ("minilm-l6", "minilm-l6"),
        ("minilm-l6", "minilm-l3"),
        ("minilm-l6", "gemma-270m"),
        ("gemma-270m", "gemma-270m"),
        ("synth-gguf-s", "synth-gguf-l"),
    ):
        cells, verdict = [], ""
        for tool in tools:
            if (tool, a) not in fps or (tool, b) not in fps:
                cells.append(f"{'n/a':>14}")
                continue
            s, v = compare_once(tool, fps[(tool, a)], fps[(tool, b)], args.repeat)
            verdict = v or verdict
            cells.append(f"{s * 1000:11.1f} ms" if isinstance(s, float) else f"{s[:14]:>14}")
        print(f"{a + ' vs ' + b:32} " + " ".join(cells) + f"  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
