"""Lineage benchmark: modelkin vs modelDNA on the labelled pairs of ``modelkin_dev.synth``.

Builds (or reuses, from the cache) the ground-truth corpus — tiny llama/BERT models
trained from scratch with different seeds, their fine-tunes, transforms of them and of
the real MiniLM / Gemma fixtures, and the real sibling and cross-family pairs — then asks
each tool about every pair and prints:

* per-case verdicts of both tools side by side (with the case's origin: transform,
  real training, real models);
* AUROC (score = -log10 combined p for modelkin, P(derived) for modelDNA), TPR at
  FPR <= 1%, false "related" verdicts on unrelated pairs (must be 0), abstentions.

Expected class: an unrelated pair whose two models carry (nearly) the same tokenizer (read
from the model files: Jaccard of token strings >= 0.9) expects ``same_tokenizer_only``,
the verdict that exists for exactly that case; other unrelated pairs expect ``unrelated``.
Three rows beyond the corpus permute attention heads only (tiny llama with GQA, MiniLM),
so that the head-matching test is what has to find them.

Usage: ``python benchmarks/lineage_bench.py [--quick] [--no-peer] [--mode fast|full]``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import (
    ModelDNA,
    Modelkin,
    Outcome,
    model_file,
    modeldna_available,
    modelkin_available,
)
from modelkin_dev.synth import corpus, train


def auroc(pos: Sequence[float], neg: Sequence[float]) -> float:
    """Probability a random related pair outranks a random unrelated one (ties 1/2)."""
    if not pos or not neg:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def tpr_at_fpr(pos: Sequence[float], neg: Sequence[float], fpr: float = 0.01) -> float:
    """Share of related pairs scored above the threshold that lets at most ``fpr`` of the
    unrelated pairs through (with < 100 negatives that means: above every negative)."""
    if not pos or not neg:
        return float("nan")
    ranked = sorted(neg, reverse=True)
    allowed = int(fpr * len(ranked))
    thr = ranked[allowed] if allowed < len(ranked) else float("-inf")
    return sum(p > thr for p in pos) / len(pos)


def _short(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


#: modelDNA classes in modelkin's vocabulary (for the class-accuracy row).
DNA_CLASSES = {
    "EXACT_COPY": "identical",
    "QUANTIZED_COPY": "converted",
    "FINE_TUNE": "derived",
    "SAME_LINEAGE": "derived",
    "NO_MATCH": "unrelated",
}


def _tokens(path: Path) -> frozenset[str] | None:
    """The token strings of a model's own tokenizer (None when the file carries none)."""
    from modelkin.io import open_model

    with open_model(model_file(path)) as src:
        tok = src.tokenizer()
    return None if tok is None else frozenset(t for t in tok.tokens if t)


def shares_tokenizer(c: corpus.Case) -> bool:
    """Ground truth for ``same_tokenizer_only``: the two models' tokenizer files hold
    (nearly) the same token strings (Jaccard >= 0.9, read from the files, not from the
    fingerprints)."""
    a, b = _tokens(c.suspect), _tokens(c.candidate)
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= 0.9


def expected_classes(c: corpus.Case, shared_tokenizer: bool) -> tuple[str, ...]:
    """Verdicts counted as the right class. Unrelated pairs that share a tokenizer
    (independent seeds trained on the same data) are exactly what ``same_tokenizer_only``
    means, so it is the expected class for them; ``unrelated`` otherwise."""
    if c.expected == "unrelated" and shared_tokenizer:
        return ("same_tokenizer_only",)
    return (c.expected,)


def _same_class(tool: str, o: Outcome, c: corpus.Case, shared_tokenizer: bool) -> bool:
    """The tool named the expected class (for siblings: any 'related' verdict)."""
    if c.expected == "related":
        return o.related is True
    got = DNA_CLASSES.get(o.verdict, o.verdict) if tool == "modelDNA" else o.verdict
    if tool == "modelDNA" and c.expected == "unrelated":  # it has no tokenizer-only class
        return got == "unrelated"
    return got in expected_classes(c, shared_tokenizer)


def extra_cases(cases: list[corpus.Case]) -> list[corpus.Case]:
    """Attention-head-only permutations (MLP units and hidden basis untouched), so the
    head-matching test is what must find them: tiny llama (GQA, 4 query / 2 kv heads)
    vs its parent and vs an independent seed, and MiniLM-L6 (12 heads) vs its parent."""
    from modelkin_dev.synth import transforms as T

    by_id = {c.id: c for c in cases}
    out: list[corpus.Case] = []
    root = train.cache_root() / f"corpus-v{corpus.CORPUS_VERSION}" / "bench-extra"
    l0 = by_id["llama-seed0~seed1"].suspect
    l1 = by_id["llama-seed0~seed1"].candidate
    perm = corpus._made(root / "llama0-perm-heads", lambda o: T.permute(l0, o, 4, mlp=False))
    kind = "attention-head permutation only"
    out.append(
        corpus.Case("llama-perm-heads~seed0", perm, l0, True, "derived_surgery", kind, "transform")
    )
    out.append(
        corpus.Case(
            "llama-perm-heads~seed1",
            perm,
            l1,
            False,
            "unrelated",
            f"{kind} of seed0 vs seed1",
            "transform",
        )
    )
    if "minilm6-perm~minilm6" in by_id:
        m6 = by_id["minilm6-perm~minilm6"].candidate
        mperm = corpus._made(root / "minilm6-perm-heads", lambda o: T.permute(m6, o, 4, mlp=False))
        out.append(
            corpus.Case(
                "minilm6-perm-heads~minilm6", mperm, m6, True, "derived_surgery", kind, "transform"
            )
        )
    return out


def curve_section(quick: bool) -> None:
    """Loss-curve test on real training runs: resumed copies vs independent seeds."""
    from modelkin.forensics.curves import background, compare_curves, read_curve
    from modelkin_dev.synth import specs

    print("\n# loss curves (modelkin compare-curves) on real training runs")
    pairs: list[tuple[str, Path, Path, bool]] = []
    spec_list = [("llama", specs.LlamaSpec())] + ([] if quick else [("bert", specs.BertSpec())])
    bg_curves = []
    for name, spec in spec_list:
        runs = [train.train(spec, seed, steps=corpus.TRAIN_STEPS) for seed in (0, 1, 2)]
        bg_curves += [read_curve(r.curve) for r in runs]
        for at in (100, 200):
            res = train.resume(runs[0], at, noise=1e-3)
            pairs.append((f"{name} seed0 vs resumed@{at}", runs[0].curve, res.curve, True))
        ft = train.finetune(runs[0], "stdlib-b", steps=corpus.FINETUNE_STEPS)
        pairs.append((f"{name} seed0 vs its fine-tune log", runs[0].curve, ft.curve, False))
        for i, j in ((0, 1), (0, 2), (1, 2)):
            pairs.append((f"{name} seed{i} vs seed{j}", runs[i].curve, runs[j].curve, False))
    bg = background(bg_curves[:3])
    print(f"{'pair':36} {'batches':14} {'r':>7} {'p':>10} {'verdict':>10}")
    pos, neg = [], []
    for label, a, b, related in pairs:
        ev = compare_curves(read_curve(a), read_curve(b), background=bg)
        p = ev.p_value if ev.p_value is not None else 1.0
        score = -math.log10(max(p, 1e-300))
        (pos if related else neg).append(score)
        verdict = "related" if p <= 1e-6 else "not shown"
        truth = "shared batches" if related else "no shared"
        print(f"{label:36} {truth:14} {ev.statistic or 0:7.3f} {p:10.2g} {verdict:>10}")
    print(
        f"curves: AUROC {auroc(pos, neg):.3f}, TPR@FPR<=1% {tpr_at_fpr(pos, neg):.3f}, "
        f"false related {sum(s >= 6 for s in neg)}/{len(neg)}"
    )
    print(
        "(a fine-tune logged from step 0 on other data shares no batches with its parent:"
        " the curve test is not expected to flag it)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small subset of the corpus")
    ap.add_argument("--no-peer", action="store_true", help="skip modelDNA")
    ap.add_argument("--mode", default="fast", choices=("fast", "full"))
    ap.add_argument(
        "--refingerprint",
        action="store_true",
        help="ignore cached modelkin fingerprints (after engine changes)",
    )
    ap.add_argument("--json", type=Path, help="also write per-case results to this file")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    cases = corpus.build(quick=args.quick, progress=lambda m: print(f"# {m}", flush=True))
    cases += extra_cases(cases)
    shared_tok = [shares_tokenizer(c) for c in cases]
    print(
        f"# corpus: {len(cases)} pairs ({sum(c.related for c in cases)} related, "
        f"{sum(not c.related for c in cases)} unrelated) built in "
        f"{time.perf_counter() - t0:.0f} s\n"
    )

    tools: list[Modelkin | ModelDNA] = []
    why = modelkin_available()
    if why is None:
        tools.append(
            Modelkin(train.cache_root() / "fingerprints", args.mode, not args.refingerprint)
        )
    else:
        print(f"# modelkin engine NOT AVAILABLE: {why}")
    if not args.no_peer:
        why_peer = modeldna_available()
        if why_peer is None:
            tools.append(ModelDNA(args.mode))
        else:
            print(f"# modelDNA NOT AVAILABLE: {why_peer}")

    results: dict[str, list[Outcome]] = {t.name: [] for t in tools}
    for tool in tools:
        t = time.perf_counter()
        for c in cases:
            results[tool.name].append(tool.compare(c.suspect, c.candidate))
        print(
            f"# {tool.name}: {len(cases)} pairs in {time.perf_counter() - t:.1f} s "
            "(fingerprinting included, each model once)"
        )

    print()
    head = f"{'case':34} {'origin':13} {'truth':9} {'expected':19}"
    for tool in tools:
        head += f" | {tool.name + ' verdict':22} {'evidence':12}"
    print(head)
    print("-" * len(head))
    for i, c in enumerate(cases):
        row = (
            f"{_short(c.id, 34):34} {c.origin:13} "
            f"{'related' if c.related else 'unrelated':9} "
            f"{'/'.join(expected_classes(c, shared_tok[i])):19}"
        )
        for tool in tools:
            o = results[tool.name][i]
            mark = "" if o.related is None or o.related == c.related else " ✗"
            row += f" | {_short(o.verdict + mark, 22):22} {_short(o.detail, 12):12}"
        print(row)

    print()
    print(f"{'metric':44}" + "".join(f" {t.name:>12}" for t in tools))
    metrics: list[tuple[str, list[str]]] = []
    for name in (
        "AUROC",
        "TPR @ FPR<=1%",
        "false 'related' on unrelated pairs",
        "missed (related pair called unrelated)",
        "abstained / insufficient",
        "errors",
        "verdict class = expected class",
        "related pairs detected: transform",
        "related pairs detected: real training",
        "related pairs detected: real models",
    ):
        metrics.append((name, []))
    for tool in tools:
        res = results[tool.name]
        pos = [o.score for o, c in zip(res, cases, strict=True) if c.related]
        neg = [o.score for o, c in zip(res, cases, strict=True) if not c.related]
        vals = [
            f"{auroc(pos, neg):.3f}",
            f"{tpr_at_fpr(pos, neg):.3f}",
            str(sum(o.related is True for o, c in zip(res, cases, strict=True) if not c.related)),
            str(sum(o.related is False for o, c in zip(res, cases, strict=True) if c.related)),
            str(sum(o.related is None and o.verdict != "error" for o in res)),
            str(sum(o.verdict == "error" for o in res)),
            f"{sum(_same_class(tool.name, o, c, t) for o, c, t in zip(res, cases, shared_tok, strict=True))}"
            f"/{len(cases)}",
        ]
        for origin in ("transform", "real training", "real models"):
            sel = [
                (o, c) for o, c in zip(res, cases, strict=True) if c.related and c.origin == origin
            ]
            vals.append(f"{sum(o.related is True for o, _ in sel)}/{len(sel)}")
        for (_, col), v in zip(metrics, vals, strict=True):
            col.append(v)
    for name, col in metrics:
        print(f"{name:44}" + "".join(f" {v:>12}" for v in col))
    if args.json:
        rows = [
            {
                "id": c.id,
                "suspect": str(c.suspect),
                "candidate": str(c.candidate),
                "related": c.related,
                "expected": c.expected,
                "kind": c.kind,
                "origin": c.origin,
                **{t.name: vars(results[t.name][i]) for t in tools},
            }
            for i, c in enumerate(cases)
        ]
        args.json.write_text(json.dumps(rows, indent=1))
    curve_section(args.quick)
    errs = {(t.name, o.detail) for t in tools for o in results[t.name] if o.verdict == "error"}
    if errs:
        print("\nerrors (first of each kind):")
        for tname, d in sorted(errs)[:12]:
            print(f"  {tname}: {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
