"""Null study: are the engine's p-values valid for independently trained models?

Trains tiny llama models on the CPU (byte-level vocabulary: ~100 of its 259 tokens never
occur in the text, as real vocabularies have unused and reserved tokens) and compares
every pair with ``modelkin.forensics.compare``. Every model has its own initialisation
seed *and* its own data-order seed (no two models share either: models that share a
random initialisation are related, not independent), and every run uses a cosine
learning-rate schedule that ends on a flat loss (the convergence table shows the end of
each group's loss curves). The groups:

* ``base``: the same architecture, data and recipe (what two labs accused of copying
  look like); ``mlp192``: a wider MLP; ``h48``: a narrower residual stream; ``corpus-b``
  and ``corpus-c``: the base architecture trained on other text;
* ``ft``: short fine-tunes of three base models on other text. A fine-tune against its
  own parent is related by construction (the power check of the study); against every
  other model it is an independent pair.

For every test that enters the combined p-value, every role of ``parameter_similarity``
(the per-role permutation p-values before Rüger's combination) and the descriptive
depth-profile's naive tail, it prints the Kolmogorov–Smirnov distance of the null
p-values from uniform (two-sided, and one-sided towards *small* p-values: the direction
that makes a test anti-conservative), and the empirical false-positive rate at 1e-6,
1e-3 and 0.01, then the verdicts. A valid test has no excess of small p-values (one-sided
KS p >= 0.01, FPR <= level); conservative combinations (Rüger, Bonferroni) and discrete
nulls (fixed-point counts) sit *above* uniform, which is valid. Pairs share models, so
the KS p-values are approximate (the pairs are not independent draws).

A QQ plot (-log10 expected vs observed p per test) is written as PNG to ``--out``
(default ``benchmarks/out/``, git-ignored) with the per-pair JSON. Trained models and
fingerprints are cached outside the repository keyed by their recipe (a rerun only
compares).

Usage: ``python benchmarks/null_study.py [--quick] [--steps N] [--out DIR]``
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.forensics import compare
from modelkin_dev.synth import specs, train

BASE = specs.LlamaSpec(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)
#: Training steps of every from-scratch run (16 x 64 tokens each, cosine decay to 0).
STEPS = 500
FINETUNE_STEPS = 150
LEVELS = (1e-6, 1e-3, 1e-2)
#: One-sided KS p below which a test's null p-values count as anti-conservative.
KS_ALPHA = 0.01
#: Engine tests reported first (in this order) when they produced a p-value; any other
#: test that enters the combined p (added to the engine later) follows, by name.
COMBINED_TESTS = (
    "parameter_similarity",
    "unit_matching",
    "head_matching",
    "layer_alignment",
    "tokens_embeddings",
    "identity",
)


@dataclass(frozen=True)
class Group:
    name: str
    spec: specs.LlamaSpec
    data: str
    size: int
    what: str


GROUPS = (
    Group("base", BASE, "stdlib-a", 8, "same architecture, data and recipe"),
    Group("mlp192", replace(BASE, intermediate_size=192), "stdlib-a", 3, "wider MLP"),
    Group(
        "h48",
        replace(BASE, hidden_size=48, intermediate_size=128),
        "stdlib-a",
        3,
        "narrower residual stream",
    ),
    Group("corpus-b", BASE, "stdlib-b", 3, "other text"),
    Group("corpus-c", BASE, "stdlib-c", 2, "other text"),
)
#: Base models (indices) that get a fine-tune on other text.
FINETUNED = (0, 1, 2)


@dataclass
class Member:
    name: str
    group: str
    run: train.Run
    parent: str | None = None


def plan(quick: bool = False) -> list[tuple[Group, int, int, int]]:
    """``(group, index, init seed, data-order seed)`` of every from-scratch model. Seeds
    are unique across the whole study (model ``k``: ``100 + k`` and ``5000 + k``): two
    models that share an initialisation seed are related, not independent."""
    out = []
    k = 0
    for g in GROUPS:
        for i in range(2 if quick and g.size > 2 else g.size):
            out.append((g, i, 100 + k, 5000 + k))
            k += 1
    seeds, data_seeds = [s for _, _, s, _ in out], [d for *_, d in out]
    if len(set(seeds)) != len(seeds) or len(set(data_seeds)) != len(data_seeds):
        raise SystemExit("null_study: two models share a seed (they would not be independent)")
    return out


def build(steps: int, quick: bool, say: Callable[[str], None]) -> list[Member]:
    """Train (or reuse) every model of :func:`plan`, then the fine-tunes."""
    out: list[Member] = []
    for g, i, seed, data_seed in plan(quick):
        t = time.perf_counter()
        run = train.train(g.spec, seed, g.data, steps, data_seed=data_seed, schedule="cosine")
        out.append(Member(f"{g.name}-{i}", g.name, run))
        say(f"{g.name}-{i}: seed {seed}, data seed {data_seed} ({time.perf_counter() - t:.0f} s)")
    for j, i in enumerate(FINETUNED[:1] if quick else FINETUNED):
        parent = out[i]
        run = train.finetune(parent.run, "stdlib-b", steps=FINETUNE_STEPS, seed=9000 + j)
        out.append(Member(f"ft-{i}", "ft", run, parent=parent.name))
        say(f"ft-{i}: fine-tune of {parent.name} on stdlib-b, data seed {9000 + j}")
    return out


def fingerprint(m: Member) -> Fingerprint:
    """The model's fingerprint, cached beside the run (keyed by the engine's output)."""
    path = m.run.dir / "fingerprint.fast.json"
    if path.exists():
        try:
            return Fingerprint.load(path)
        except Exception:  # stale format: recompute
            pass
    fp = fingerprint_model(m.run.model)
    fp.save(path)
    return fp


def convergence(members: list[Member]) -> list[str]:
    """Per group: mean loss over windows at the end of the run and the relative change
    between the last two tenths (a flat end: < 2 %)."""
    lines = [
        f"{'group':9} {'models':>6} {'steps':>6} {'loss@50%':>9} {'loss@80%':>9} "
        f"{'loss@90%':>9} {'final':>7} {'max rel. change, last 2 tenths':>31}"
    ]
    by: dict[str, list[np.ndarray]] = {}
    for m in members:
        loss = np.loadtxt(m.run.curve, delimiter=",", skiprows=1)[:, 2]
        by.setdefault(m.group, []).append(loss)
    for g, curves in by.items():
        n = min(len(c) for c in curves)
        w = max(1, n // 10)

        def at(frac: float, cs: list[np.ndarray] = curves, n: int = n, w: int = w) -> float:
            e = max(w, round(frac * n))
            return float(np.mean([c[e - w : e].mean() for c in cs]))

        change = max(
            abs(float(c[-2 * w : -w].mean()) - float(c[-w:].mean())) / float(c[-2 * w : -w].mean())
            for c in curves
        )
        lines.append(
            f"{g:9} {len(curves):6d} {n:6d} {at(0.5):9.3f} {at(0.8):9.3f} {at(0.9):9.3f} "
            f"{at(1.0):7.3f} {100 * change:30.2f}%"
        )
    return lines


def pair_row(a: Member, b: Member, fa: Fingerprint, fb: Fingerprint) -> dict[str, Any]:
    """Everything the study needs from one comparison."""
    t = time.perf_counter()
    r = compare(fa, fb)
    tests: dict[str, float] = {}
    roles: dict[str, float] = {}
    for e in r.evidence:
        if e.combine and e.p_value is not None:
            tests[e.name] = float(e.p_value)
        if e.name == "parameter_similarity":
            for row in e.details.get("roles", []):
                roles[str(row["role"])] = float(row["p"])
    prof = r.get("depth_profile")
    naive = None if prof is None else prof.details.get("naive_one_sided_p")
    related = a.parent == b.name or b.parent == a.name
    return {
        "a": a.name,
        "b": b.name,
        "kind": kind(a, b),
        "related_by_construction": related,
        "verdict": str(r.verdict),
        "p": r.p_value,
        "tests": tests,
        "roles": roles,
        "depth_profile_naive_p": naive,
        "seconds": time.perf_counter() - t,
    }


def _role_kind(key: str) -> str:
    """``L1.attn_q.weight`` -> ``attn_q``; ``lm_head.weight`` -> ``lm_head``."""
    parts = key.split(".")
    return parts[1] if parts[0].startswith("L") and parts[0][1:].isdigit() else parts[0]


def kind(a: Member, b: Member) -> str:
    """What separates the two models (the pair's category in the tables)."""
    if a.parent == b.name or b.parent == a.name:
        return "fine-tune vs its parent (related)"
    if "ft" in (a.group, b.group):
        return "fine-tune vs independent model"
    if a.group == b.group:
        return "same recipe, other seeds"
    ga = next(g for g in GROUPS if g.name == a.group)
    gb = next(g for g in GROUPS if g.name == b.group)
    if ga.spec.hidden_size != gb.spec.hidden_size:
        return "different hidden width"
    if ga.spec != gb.spec:
        return "different MLP width"
    return "different corpus"


def uniformity(ps: list[float]) -> dict[str, Any]:
    """KS distances from U(0,1) and the empirical FPR at each level."""
    a = np.asarray(ps, dtype=np.float64)
    two = stats.kstest(a, "uniform")
    # alternative="greater": the empirical CDF lies above the uniform one, i.e. an excess
    # of small p-values (anti-conservative)
    one = stats.kstest(a, "uniform", alternative="greater")
    return {
        "n": int(a.size),
        "ks_d": float(two.statistic),
        "ks_p": float(two.pvalue),
        "ks_small_d": float(one.statistic),
        "ks_small_p": float(one.pvalue),
        "fpr": {str(lv): int(np.count_nonzero(a <= lv)) for lv in LEVELS},
        "min_p": float(a.min()) if a.size else None,
    }


def test_names(rows: list[dict[str, Any]]) -> list[str]:
    """Every combined test seen in ``rows``: the known ones first, then new ones."""
    seen = {name for r in rows for name in r["tests"]}
    return [n for n in COMBINED_TESTS if n in seen] + sorted(seen - set(COMBINED_TESTS))


def tables(rows: list[dict[str, Any]]) -> tuple[list[str], dict[str, Any]]:
    null = [r for r in rows if not r["related_by_construction"]]
    series: dict[str, list[float]] = {}
    names = test_names(null)
    for r in null:
        for name in names:
            if name in r["tests"]:
                series.setdefault(name, []).append(r["tests"][name])
        if r["p"] is not None:
            series.setdefault("combined (verdict input)", []).append(float(r["p"]))
    role_series: dict[str, list[float]] = {}
    for r in null:
        for key, p in r["roles"].items():
            role_series.setdefault(f"  role {_role_kind(key)}", []).append(p)
    desc = [r["depth_profile_naive_p"] for r in null if r["depth_profile_naive_p"] is not None]
    out = [
        f"{'test (null pairs only)':34} {'pairs':>5} {'KS D':>6} {'KS p':>8} "
        f"{'KS-small p':>10} {'min p':>8} "
        + " ".join(f"{'FPR@' + format(lv, 'g'):>11}" for lv in LEVELS)
        + "  null"
    ]
    summary: dict[str, Any] = {}
    allseries = list(series.items()) + sorted(role_series.items())
    if desc:
        allseries.append(("depth_profile naive p (descr.)", [float(x) for x in desc]))
    for name, ps in allseries:
        u = uniformity(ps)
        summary[name.strip()] = u
        ok = u["ks_small_p"] >= KS_ALPHA and all(
            u["fpr"][str(lv)] <= max(1, stats.binom.ppf(0.99, u["n"], lv)) for lv in LEVELS
        )
        fprs = " ".join(f"{u['fpr'][str(lv)]:>4}/{u['n']:<3} ".rjust(11) for lv in LEVELS)
        out.append(
            f"{name:34} {u['n']:5d} {u['ks_d']:6.3f} {u['ks_p']:8.2g} {u['ks_small_p']:10.2g} "
            f"{u['min_p']:8.2g} {fprs}  {'valid' if ok else 'FAILS'}"
        )
    return out, summary


def verdict_table(rows: list[dict[str, Any]]) -> list[str]:
    kinds = sorted({r["kind"] for r in rows})
    verdicts = sorted({r["verdict"] for r in rows})
    head = f"{'pair kind':36} {'pairs':>5} " + " ".join(f"{v:>19}" for v in verdicts)
    out = [head]
    for k in kinds:
        sel = [r for r in rows if r["kind"] == k]
        cells = " ".join(f"{sum(r['verdict'] == v for r in sel):>19}" for v in verdicts)
        out.append(f"{k:36} {len(sel):5d} {cells}")
    return out


def qq_png(summary_series: dict[str, list[float]], path: Path) -> None:
    """-log10 expected vs observed p-values, one colour per test (Pillow, no plotting
    library): points above the diagonal are an excess of small p-values."""
    from PIL import Image, ImageDraw

    size, pad = 720, 60
    img = Image.new("RGB", (size + 260, size), "white")
    d = ImageDraw.Draw(img)
    top = 0.0
    for ps in summary_series.values():
        n = len(ps)
        if n:
            top = max(top, -math.log10(1.0 / (n + 1)), -math.log10(max(min(ps), 1e-300)))
    top = min(max(top, 1.0), 20.0)
    span = size - 2 * pad

    def xy(e: float, o: float) -> tuple[float, float]:
        return pad + span * min(e, top) / top, size - pad - span * min(o, top) / top

    d.rectangle([pad, pad, size - pad, size - pad], outline="black")
    d.line([xy(0, 0), xy(top, top)], fill="grey", width=1)
    for t in range(int(top) + 1):
        x, y = xy(t, 0)
        d.text((x - 3, size - pad + 6), str(t), fill="black")
        x, y = xy(0, t)
        d.text((pad - 22, y - 6), str(t), fill="black")
    d.text((size // 2 - 80, size - 25), "-log10 expected p (uniform)", fill="black")
    d.text((6, 20), "-log10 observed p", fill="black")
    palette = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (0, 0, 0),
        (255, 215, 0),
        (0, 128, 128),
        (128, 0, 0),
        (70, 70, 200),
    ]
    for i, (name, ps) in enumerate(summary_series.items()):
        col = palette[i % len(palette)]
        a = np.sort(np.asarray(ps, dtype=np.float64))
        n = a.size
        for k, p in enumerate(a):
            e = -math.log10((k + 1) / (n + 1))
            o = -math.log10(max(float(p), 1e-300))
            x, y = xy(e, o)
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=col)
        d.rectangle([size + 10, 40 + 22 * i, size + 22, 52 + 22 * i], fill=col)
        d.text((size + 28, 40 + 22 * i), f"{name} ({n})", fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 models per group (smoke run)")
    ap.add_argument("--steps", type=int, default=STEPS, help="steps of each from-scratch run")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args(argv)

    def say(msg: str) -> None:
        print(f"# {msg}", flush=True)

    t0 = time.perf_counter()
    members = build(args.steps, args.quick, say)
    say(f"{len(members)} models ready in {time.perf_counter() - t0:.0f} s")
    t1 = time.perf_counter()
    fps = {m.name: fingerprint(m) for m in members}
    say(f"fingerprints in {time.perf_counter() - t1:.0f} s")
    print("\n## loss at the end of training (mean over the group; windows of 10 % of the run)")
    print("\n".join(convergence(members)))

    t2 = time.perf_counter()
    rows = []
    for a, b in itertools.combinations(members, 2):
        rows.append(pair_row(a, b, fps[a.name], fps[b.name]))
    say(f"{len(rows)} pairs compared in {time.perf_counter() - t2:.0f} s")
    null = [r for r in rows if not r["related_by_construction"]]
    print(
        f"\n## verdicts ({len(rows)} pairs: {len(null)} independent, "
        f"{len(rows) - len(null)} related by construction)"
    )
    print("\n".join(verdict_table(rows)))
    false_related = [r for r in null if r["verdict"] in ("derived", "derived_surgery", "converted")]
    print(f"independent pairs called related: {len(false_related)}")
    for r in false_related:
        print(f"  {r['a']} ~ {r['b']}: {r['verdict']} p = {r['p']:.3g} {r['tests']}")
    pos = [r for r in rows if r["related_by_construction"]]
    for r in pos:
        p = "n/a" if r["p"] is None else f"{r['p']:.3g}"
        print(f"power check {r['a']} ~ {r['b']}: {r['verdict']} (combined p {p})")

    print("\n## uniformity of null p-values (independent pairs)")
    lines, summary = tables(rows)
    print("\n".join(lines))
    series: dict[str, list[float]] = {}
    names = test_names(null)
    for r in null:
        for name in names:
            if name in r["tests"]:
                series.setdefault(name, []).append(r["tests"][name])
        for key, p in r["roles"].items():
            series.setdefault(f"role {_role_kind(key)}", []).append(p)
    png = args.out / "null_study_qq.png"
    qq_png(series, png)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "null_study.json").write_text(
        json.dumps({"rows": rows, "uniformity": summary}, indent=1)
    )
    secs = [r["seconds"] for r in rows]
    print(
        f"\nQQ plot: {png}; per-pair JSON: {args.out / 'null_study.json'}; compare median "
        f"{np.median(secs):.2f} s/pair; total {time.perf_counter() - t0:.0f} s"
    )
    return 1 if false_related else 0


if __name__ == "__main__":
    sys.exit(main())
