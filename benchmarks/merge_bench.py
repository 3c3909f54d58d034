"""Merge decomposition: estimated mixing weights and parent p-values on merges made here.

Ground truth by construction (``modelkin_dev.synth.merges``), never from a verdict rule:
each child is a merge of known parents with known weights, or a control that is no merge
of the candidates. Tiny byte-level llama models (64 wide, 1 layer) are trained on the CPU
(``modelkin_dev.synth.train``: two independent from-scratch runs, seeds 1 and 2, cosine
schedule to a flat loss, and fine-tunes of seed 1 on two corpora); the real MiniLM-L6 is
merged with an independent initialisation of its shape and with a noisy copy of itself.

A case is right when the parents the decomposition puts in the merge (p <= 1e-6) are
exactly the parents the child was made from (for controls: the one it derives from, or
none), and, for merges, the method matches how it was made. The table prints each
parent's estimated weight beside the true one, and its p-value.

Part ``--null``: the per-parent test under its null. Eleven tiny llamas (64 wide, 2
layers) trained independently (each its own initialisation and data-order seed; eight on
one corpus, three on another; the recipes of ``benchmarks/null_study.py``, so its cache
serves both) are decomposed, each over every pair of the others: 990 parent p-values
(per role and Rüger-combined) that must be uniform or above (one-sided KS towards small
p, false-positive rates), and no decomposition may call a merge.

Usage: ``python benchmarks/merge_bench.py [--no-real] [--null]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.forensics.merge import decompose
from modelkin_dev.synth import merges, specs, train

SPEC = specs.LlamaSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=1)
STEPS = 800

#: (case, child, parents, base, true weights, parents truly in the merge, true method)
Case = tuple[str, str, list[str], str | None, list[float] | None, set[str], str | None]


def _tiny(tmp: Path) -> tuple[dict[str, Path], list[Case]]:
    runs = {f"seed{s}": train.train(SPEC, s, steps=STEPS, schedule="cosine") for s in (1, 2)}
    runs["ft"] = train.finetune(runs["seed1"], "stdlib-b", steps=100)
    runs["ft_a"] = train.finetune(runs["seed1"], "stdlib-a", steps=100, seed=2000)
    p = {k: r.model for k, r in runs.items()}
    s1, s2, fa, fb = p["seed1"], p["seed2"], p["ft"], p["ft_a"]
    cases: list[Case] = []
    for w in (0.2, 0.5, 0.8):
        name = f"linear-{w}"
        p[name] = merges.merge([s1, s2], tmp / name, "linear", [w, 1 - w])
        cases.append(
            (name, name, ["seed1", "seed2"], None, [w, 1 - w], {"seed1", "seed2"}, "linear")
        )
    for t in (0.25, 0.6):
        name = f"slerp-{t}"
        p[name] = merges.merge([s1, s2], tmp / name, "slerp", t=t)
        cases.append((name, name, ["seed1", "seed2"], None, [t], {"seed1", "seed2"}, "slerp"))
    p["task"] = merges.merge([fa, fb], tmp / "task", "linear", [0.7, 0.5], base=s1)
    cases.append(
        (
            "task-arith",
            "task",
            ["ft", "ft_a"],
            "seed1",
            [0.7, 0.5],
            {"ft", "ft_a"},
            "task_arithmetic",
        )
    )
    for m in ("ties", "dare"):
        p[m] = merges.merge([fa, fb], tmp / m, m, [1.0, 1.0], base=s1, density=0.3)
        cases.append((m, m, ["ft", "ft_a"], "seed1", None, {"ft", "ft_a"}, "ties/dare"))
    p["3way"] = merges.merge([s1, s2, fb], tmp / "3way", "linear", [0.2, 0.5, 0.3])
    cases.append(
        (
            "linear-3",
            "3way",
            ["seed1", "seed2", "ft_a"],
            None,
            [0.2, 0.5, 0.3],
            {"seed1", "seed2", "ft_a"},
            "linear",
        )
    )
    # controls: a fine-tune is no merge with an unrelated model; an unrelated model is no
    # merge of two relatives of another
    cases.append(("ctl-finetune", "ft", ["seed1", "seed2"], None, None, {"seed1"}, None))
    cases.append(("ctl-sibling-ft", "ft", ["ft_a", "seed2"], None, None, {"ft_a"}, None))
    cases.append(("ctl-unrelated", "seed2", ["seed1", "ft"], None, None, set(), None))
    return p, cases


def _real(tmp: Path) -> tuple[dict[str, Path], list[Case]]:
    import numpy as np
    from safetensors.numpy import load_file, save_file

    from modelkin_dev.fixtures import fetch

    src = fetch("minilm-l6")
    w = load_file(str(src / "model.safetensors"))

    def variant(name: str, arrays: dict[str, Any]) -> Path:
        d = tmp / name
        d.mkdir()
        for f in src.iterdir():
            if f.is_file() and f.name != "model.safetensors":
                (d / f.name).write_bytes(f.read_bytes())
        save_file(arrays, str(d / "model.safetensors"))
        return d

    rng = np.random.default_rng(1)
    fresh = {
        k: (rng.normal(0, 0.02, v.shape).astype(v.dtype) if v.ndim == 2 else v)
        for k, v in w.items()
    }
    rng = np.random.default_rng(9)
    noisy = {
        k: (v + rng.normal(0, 0.5 * float(v.std()), v.shape)).astype(v.dtype)
        if v.dtype == np.float32
        else v
        for k, v in w.items()
    }
    rng = np.random.default_rng(4)
    ft = {
        k: (v + rng.normal(0, 0.05 * float(v.std()), v.shape)).astype(v.dtype)
        if v.dtype == np.float32
        else v
        for k, v in w.items()
    }
    p = {"l6": src, "fresh": variant("fresh", fresh), "noisy": variant("noisy", noisy)}
    p["l6-ft"] = variant("ft", ft)
    p["l6+fresh"] = merges.merge([src, p["fresh"]], tmp / "m1", "linear", [0.6, 0.4])
    p["l6+noisy"] = merges.merge([src, p["noisy"]], tmp / "m2", "linear", [0.5, 0.5])
    p["l6/fresh slerp"] = merges.merge([src, p["fresh"]], tmp / "m3", "slerp", t=0.3)
    cases: list[Case] = [
        ("real linear", "l6+fresh", ["l6", "fresh"], None, [0.6, 0.4], {"l6", "fresh"}, "linear"),
        (
            "real self+noisy",
            "l6+noisy",
            ["l6", "noisy"],
            None,
            [0.5, 0.5],
            {"l6", "noisy"},
            "linear",
        ),
        ("real slerp", "l6/fresh slerp", ["l6", "fresh"], None, [0.3], {"l6", "fresh"}, "slerp"),
        ("real ctl-finetune", "l6-ft", ["l6", "fresh"], None, None, {"l6"}, None),
    ]
    return p, cases


def null_part() -> int:
    """Decompose independent models over pairs of other independent models."""
    import itertools
    from dataclasses import replace

    import numpy as np
    from scipy import stats

    base = replace(SPEC, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    recipes = [("stdlib-a", k) for k in range(8)] + [("stdlib-b", k) for k in range(14, 17)]
    fps: list[Fingerprint] = []
    for data, k in recipes:
        run = train.train(base, 100 + k, data, 500, data_seed=5000 + k, schedule="cosine")
        cached = run.dir / "fingerprint.fast.json"
        fp = None
        if cached.exists():
            try:
                fp = Fingerprint.load(cached)
            except Exception:  # a stale layout: recompute
                fp = None
        fps.append(fp if fp is not None else fingerprint_model(run.model))
    combined, per_role, verdicts = [], [], []
    t0 = time.perf_counter()
    for i, child in enumerate(fps):
        others = [j for j in range(len(fps)) if j != i]
        for a, b in itertools.combinations(others, 2):
            rep = decompose(child, [fps[a], fps[b]])
            verdicts.append(rep.verdict)
            combined += [p.p_value for p in rep.parents if p.p_value is not None]
            per_role += [p for row in rep.roles for p in row["p"]]
    secs = time.perf_counter() - t0
    print(
        f"{len(verdicts)} decompositions of independent models ({secs:.0f} s): "
        f"{verdicts.count('merge')} merges, {verdicts.count('derived')} derived"
    )
    print(
        f"{'p-values':<22} {'n':>6} {'KS one-sided p':>15} {'min p':>9} "
        f"{'<=1e-3':>7} {'<=0.01':>7} {'<=0.05':>7}"
    )
    for name, ps in (("per parent (Rüger)", combined), ("per parent and role", per_role)):
        arr = np.asarray(ps)
        ks = stats.kstest(arr, "uniform", alternative="greater").pvalue
        rates = [float(np.mean(arr <= a)) for a in (1e-3, 1e-2, 0.05)]
        print(
            f"{name:<22} {arr.size:>6} {ks:>15.3g} {arr.min():>9.2g} "
            + " ".join(f"{r:>7.4f}" for r in rates)
        )
    return 0 if verdicts.count("merge") == 0 and verdicts.count("derived") == 0 else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-real", action="store_true", help="skip the MiniLM-L6 cases")
    ap.add_argument("--null", action="store_true", help="the per-parent test under its null")
    args = ap.parse_args(argv)
    if args.null:
        return null_part()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        paths, cases = _tiny(tmp / "tiny")
        if not args.no_real:
            rp, rc = _real(Path(tempfile.mkdtemp(dir=d)))
            paths |= rp
            cases += rc
        fps: dict[str, Fingerprint] = {}
        for case, child, parents, base, true_w, truth, method in cases:
            for n in [child, *parents, *([base] if base else [])]:
                if n not in fps:
                    fps[n] = fingerprint_model(paths[n])
            t0 = time.perf_counter()
            rep = decompose(fps[child], [fps[n] for n in parents], base=fps[base] if base else None)
            secs = time.perf_counter() - t0
            found = {n for n, r in zip(parents, rep.parents, strict=True) if r.in_merge}
            ok = found == truth and (method is None or rep.method == method)
            est = " ".join(
                f"{r.weight:.3f}" if r.weight is not None else "n/a" for r in rep.parents
            )
            tw = " ".join(f"{x:g}" for x in true_w) if true_w else "-"
            if method == "slerp" and true_w:
                tw = f"t {true_w[0]:g}"
            if rep.method == "slerp":
                est += f" (t {rep.fit.get('slerp_t', float('nan')):.3f})"
            ps = " ".join(
                f"{r.p_value:.2g}" if r.p_value is not None else "n/a" for r in rep.parents
            )
            rows.append((case, rep.verdict, rep.method or "-", tw, est, ps, secs, ok))
    print(
        f"{'case':<18} {'verdict':<12} {'method':<16} {'true weights':<13} "
        f"{'estimated':<26} {'parent p-values':<26} {'s':>5}  ok"
    )
    for case, verdict, method, tw, est, ps, secs, ok in rows:
        print(
            f"{case:<18} {verdict:<12} {method:<16} {tw:<13} {est:<26} {ps:<26} "
            f"{secs:5.2f}  {'yes' if ok else 'NO'}"
        )
    right = sum(r[-1] for r in rows)
    print(f"\n{right}/{len(rows)} cases right (parents in the merge and method as constructed)")
    return 0 if right == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
