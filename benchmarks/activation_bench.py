"""Activation evidence: ground truth on trained tiny models, and cost on real ones.

Part ``truth`` (ground truth by construction, never by a verdict rule). Tiny byte-level
llama decoders are trained on the CPU (``modelkin_dev.synth``): teachers (32 wide, 3
layers), students distilled from a teacher's soft outputs (KL at temperature 2; either the
teacher's shape or 48 wide / 2 layers), each student's *independent twin* (same
architecture, initialisation seed and data stream, trained on the labels alone), and
independent models of both shapes. Every model trains 300 steps of 16 x 64 bytes of the same
corpus. Each (teacher, other) pair is compared with modelkin's weight tests and with the
activation evidence (aligned debiased CKA; next-token Jensen-Shannon divergence over the
shared vocabulary).

The seeds fall in two halves. The **calibration** half fixes the distillation threshold by
a rule written here before any scoring: ``threshold = 0.5 x`` the smallest JS of its
independent pairs. The **held-out** half is scored against that frozen threshold and
reported separately, with each pair's margin. ``--write-reference`` stores the calibration
summary and threshold in ``src/modelkin/forensics/data/activation_reference.json`` (what
``compare`` quotes beside the statistic).

Part ``derivatives``: the same statistics for weight-derived copies of a teacher
(fine-tuned, permuted, layer-pruned, noised) and for real pairs (minilm-l6 vs its sibling
minilm-l3 in ONNX, given the family's tokenizer files; minilm-l6 vs gemma-270m).

Part ``cost``: peak RSS (``VmHWM``) and wall time of the activation test on the real
models in fresh subprocesses: gemma-270m GGUF against itself and against minilm-l6,
minilm-l6 against itself.

Usage: ``python benchmarks/activation_bench.py [--part truth|derivatives|cost|all]
[--write-reference]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REFERENCE = ROOT / "src" / "modelkin" / "forensics" / "data" / "activation_reference.json"
STEPS = 300
#: (teacher seed, student/twin seed, independent seeds) per half.
HALVES = {
    "calibration": {"teachers": [101, 102], "students": [111, 112], "independent": [121, 122, 123]},
    "held-out": {"teachers": [201, 202], "students": [211, 212], "independent": [221, 222, 223]},
}
THRESHOLD_RULE = "0.5 x the smallest next-token JS of the calibration half's independent pairs"


def _pair(a: Path, b: Path) -> dict[str, Any]:
    from modelkin.fingerprint import fingerprint_model
    from modelkin.forensics import compare
    from modelkin.forensics.activations import activation_test

    r = compare(fingerprint_model(a), fingerprint_model(b))
    ev = activation_test(a, b)
    out = ev.details.get("outputs", {})
    return {
        "verdict": r.verdict,
        "weights_p": r.p_value,
        "cka": ev.statistic,
        "js": out.get("js_mean"),
        "top1": out.get("top1_agreement"),
    }


def _half(name: str, seeds: dict[str, list[int]], log: Any) -> list[dict[str, Any]]:
    from modelkin_dev.synth import specs, train
    from modelkin_dev.synth.distill import distill, independent_twin

    tspec = specs.TINY_LLAMA
    small = replace(tspec, hidden_size=48, intermediate_size=96, num_hidden_layers=2)
    rows: list[dict[str, Any]] = []
    for ti, tseed in enumerate(seeds["teachers"]):
        teacher = train.train(tspec, tseed, steps=STEPS)
        for shape, sspec in (("same shape", tspec), ("48w/2L", small)):
            sseed = seeds["students"][ti]
            st = distill(teacher, sspec, sseed, steps=STEPS)
            tw = independent_twin(st)
            for kind, model in (("distilled", st.model), ("independent twin", tw.model)):
                log(f"{name}: teacher {tseed} vs {kind} {shape} seed {sseed}")
                rows.append(
                    {
                        "half": name,
                        "kind": kind,
                        "shape": shape,
                        "pair": f"T{tseed}~S{sseed}",
                        **_pair(teacher.model, model),
                    }
                )
        for iseed in seeds["independent"]:
            other = train.train(tspec, iseed, steps=STEPS)
            log(f"{name}: teacher {tseed} vs independent seed {iseed}")
            rows.append(
                {
                    "half": name,
                    "kind": "independent",
                    "shape": "same shape",
                    "pair": f"T{tseed}~I{iseed}",
                    **_pair(teacher.model, other.model),
                }
            )
    return rows


def truth(write_reference: bool) -> None:
    import numpy as np

    def log(msg: str) -> None:
        print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    cal = _half("calibration", HALVES["calibration"], log)
    indep_js = [r["js"] for r in cal if r["kind"] != "distilled"]
    indep_cka = [r["cka"] for r in cal if r["kind"] != "distilled"]
    threshold = 0.5 * min(indep_js)  # the rule, frozen before the held-out half runs
    held = _half("held-out", HALVES["held-out"], log)
    print(f"threshold on js_mean: {threshold:.4f} ({THRESHOLD_RULE})\n")
    print(
        "| half | pair | kind | student shape | weights verdict | weights p | aligned CKA "
        "| JS | top-1 | margin to threshold | finding |"
    )
    print("|---|---|---|---|---|---|---:|---:|---:|---:|---|")
    for r in cal + held:
        finding = r["js"] < threshold and r["verdict"] not in (
            "identical",
            "converted",
            "derived",
            "derived_surgery",
        )
        p = "n/a" if r["weights_p"] is None else f"{r['weights_p']:.2g}"
        print(
            f"| {r['half']} | {r['pair']} | {r['kind']} | {r['shape']} | {r['verdict']} | {p} "
            f"| {r['cka']:.3f} | {r['js']:.4f} | {r['top1']:.3f} | {r['js'] - threshold:+.4f} "
            f"| {'distillation_suspected' if finding else '-'} |"
        )
    for half, rows in (("calibration", cal), ("held-out", held)):
        d = [r for r in rows if r["kind"] == "distilled"]
        i = [r for r in rows if r["kind"] != "distilled"]
        tp = sum(r["js"] < threshold for r in d)
        fp = sum(r["js"] < threshold for r in i)
        rel = sum(
            r["verdict"] in ("identical", "converted", "derived", "derived_surgery") for r in rows
        )
        print(
            f"\n{half}: distilled flagged {tp}/{len(d)}; independent flagged {fp}/{len(i)}; "
            f"weight verdicts related {rel}/{len(rows)}"
        )
    if write_reference:
        ref = {
            "description": "Independently trained same-data pairs and distilled students of "
            "modelkin's tiny calibration models (byte-level llama decoders, 32 wide x 3 layers "
            "teachers; students 32x3 or 48x2; 300 steps of 16x64 bytes of Python stdlib text)",
            "measured_by": "python benchmarks/activation_bench.py --part truth --write-reference",
            "threshold_rule": THRESHOLD_RULE,
            "regime": {"families": ["llama"], "max_hidden": 64, "max_vocab": 512},
            "thresholds": {"js_mean": round(threshold, 6)},
            "summary": {
                "independent_pairs": len(indep_js),
                "independent_js_min": round(min(indep_js), 6),
                "independent_js_max": round(max(indep_js), 6),
                "independent_cka_min": round(min(indep_cka), 4),
                "independent_cka_max": round(max(indep_cka), 4),
                "independent_cka_median": round(float(np.median(indep_cka)), 4),
                "distilled_js": [round(r["js"], 6) for r in cal if r["kind"] == "distilled"],
                "distilled_cka": [round(r["cka"], 4) for r in cal if r["kind"] == "distilled"],
                "scope": "tiny byte-level decoders only; at other scales descriptive",
            },
        }
        REFERENCE.write_text(json.dumps(ref, indent=1) + "\n")
        print(f"\nwrote {REFERENCE.relative_to(ROOT)}")


_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from modelkin.forensics.activations import activation_test
from pathlib import Path
def hwm():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
base = hwm()
t1 = time.perf_counter()
c1 = resource.getrusage(resource.RUSAGE_SELF)
ev = activation_test(sys.argv[1], sys.argv[2])
t2 = time.perf_counter()
c2 = resource.getrusage(resource.RUSAGE_SELF)
cpu = (c2.ru_utime + c2.ru_stime) - (c1.ru_utime + c1.ru_stime)
d = ev.details
print(json.dumps({"wall_s": t2 - t1, "cpu_s": cpu, "import_s": t1 - t0, "base_mb": base, "peak_mb": hwm(),
    "cka": ev.statistic, "rows": d.get("rows"), "mode": d.get("probe", {}).get("mode"),
    "tokens": [d.get("probe", {}).get("tokens_a"), d.get("probe", {}).get("tokens_b")]}))
"""


def cost() -> None:
    from modelkin_dev.fixtures import fetch

    g, m = fetch("gemma-270m"), fetch("minilm-l6")
    print(
        "| pair | probe mode | tokens (a, b) | CKA rows | wall s | CPU s | peak RSS MB | "
        "of which interpreter + imports MB |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, a, b in (
        ("gemma-270m vs itself", g, g),
        ("gemma-270m vs minilm-l6", g, m),
        ("minilm-l6 vs itself", m, m),
    ):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(a), str(b)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"| {name} | {r['mode']} | {r['tokens'][0]}, {r['tokens'][1]} | {r['rows']} "
            f"| {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_mb']:.0f} | {r['base_mb']:.0f} |"
        )


def derivatives() -> None:
    """Aligned CKA (and next-token JS where both share tokens) for derived pairs, beside
    the independent pairs of ``truth``: what the statistic looks like when weights were
    copied and changed."""
    import shutil
    import tempfile

    from modelkin.forensics.activations import activation_test
    from modelkin_dev.fixtures import fetch
    from modelkin_dev.synth import specs, train
    from modelkin_dev.synth import transforms as T

    base = train.train(specs.TINY_LLAMA, 101, steps=STEPS)
    tmp = Path(tempfile.mkdtemp(prefix="actbench-"))
    try:
        cases: list[tuple[str, Path, Path]] = [
            ("fine-tuned 150 steps on other text", base.model, train.finetune(base).model),
            (
                "units + heads + residual basis permuted",
                base.model,
                T.permute(base.model, tmp / "perm", seed=5, hidden=True),
            ),
            (
                "middle layer removed (3 -> 2 layers)",
                base.model,
                T.select_layers(base.model, tmp / "pruned", [0, 2]),
            ),
            (
                "Gaussian noise 20% of each tensor's std",
                base.model,
                T.add_noise(base.model, tmp / "noise", 0.2, seed=1),
            ),
        ]
        l3 = tmp / "minilm-l3"
        l3.mkdir()
        shutil.copy(fetch("minilm-l3"), l3 / "model.onnx")
        for f in (
            "tokenizer.json",
            "vocab.txt",
            "special_tokens_map.json",
            "tokenizer_config.json",
        ):
            shutil.copy(fetch("minilm-l6") / f, l3 / f)  # the family's shared WordPiece vocabulary
        cases.append(("real siblings: minilm-l6 vs minilm-l3 (ONNX)", fetch("minilm-l6"), l3))
        cases.append(
            ("real unrelated: minilm-l6 vs gemma-270m", fetch("minilm-l6"), fetch("gemma-270m"))
        )
        print("| derived / real pair | aligned CKA | last-layer CKA | chance | JS | alignment |")
        print("|---|---:|---:|---:|---:|---|")
        for name, a, b in cases:
            ev = activation_test(a, b)
            d = ev.details
            js = d.get("outputs", {}).get("js_mean")
            al = " ".join(f"{i}-{j}" for i, j, _ in d["alignment"])
            print(
                f"| {name} | {ev.statistic:.3f} | {d['cka_last']:.3f} | {d['chance_cka']:.3f} "
                f"| {'-' if js is None else f'{js:.4f}'} | {al} |"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("truth", "derivatives", "cost", "all"), default="all")
    ap.add_argument("--write-reference", action="store_true")
    args = ap.parse_args()
    if args.part in ("cost", "all"):
        cost()
        print()
    if args.part in ("derivatives", "all"):
        derivatives()
        print()
    if args.part in ("truth", "all"):
        truth(args.write_reference)


if __name__ == "__main__":
    main()
