"""1:N search benchmark: recall of the true parent among 100,000 indexed fingerprints.

Index = the real parents (tiny llama seed 0 and tiny BERT seed 0 trained here on the CPU,
minilm-l6, minilm-l3, gemma-270m) + N synthetic distractors (100,000; ``--quick``:
10,000). Queries = real derivatives of those parents (transforms made by
``modelkin_dev.synth`` and real fine-tunes, fingerprinted for real: the labelled corpus of
``benchmarks/lineage_bench.py``) and independent controls (other training seeds), whose
top 10 must hold no ``related`` verdict.

How distractors are made (at the fingerprint level, printed again in the output): each
is drawn from one of 8 real *bases* (tiny llama seeds 0/1/2, tiny BERT seeds 0/1,
minilm-l6, minilm-l3, gemma-270m) as an *independent model of the same family*:

* depth: the base's layer count +-2 (layers map to the base layer at the same relative
  depth); width: 3/4 keep the base's widths, 1/8 halve and 1/8 double the hidden and MLP
  widths (shapes, hence sample positions, change);
* every role's seeded sample: fresh Gaussian draws with the mean of the base role and its
  standard deviation times exp(N(0, s)), s = the between-seed spread of log std measured
  on the real independently trained seeds (llama 0/1/2, BERT 0/1);
* token-keyed embedding rows (same tokens, same tokenizer as the base): the base rows plus
  Gaussian noise, mapped through a fresh random Gaussian matrix (a new basis), the noise
  set so that the token-Gram similarity to the base equals the one measured between
  independently trained seeds of that family (llama, BERT; the larger of the two for
  minilm and gemma, which have no second seed here): what independent training on the
  same data looks like to the ``tok`` channel;
* MLP-unit features are not drawn (the unit test then abstains on distractors); files get
  a unique fake digest.

The generated index is cached under ``~/.cache/modelkin/bench/`` keyed by the sha256 of
the recipe. Timings are on this machine (2 cores shared with other jobs).

Usage: ``python benchmarks/search_bench.py [--quick] [-n N] [--top K]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import Modelkin
from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import pack
from modelkin.fingerprint.stats import summarize
from modelkin.forensics import compare
from modelkin.search.features import (
    FEATURES_VERSION,
    RoleSample,
    index_items,
    items_batch,
    items_from_parts,
    token_rows,
)
from modelkin.search.index import INDEX_VERSION, SearchIndex
from modelkin_dev.synth import corpus, train

GENERATOR_VERSION = 3
BASES = ("llama0", "llama1", "llama2", "bert0", "bert1", "minilm6", "minilm3", "gemma")
#: Real models put in the index (the parents of the derivative queries, plus a sibling).
PARENTS = ("llama0", "bert0", "minilm6", "minilm3", "gemma")
WIDTHS = (1.0, 0.5, 2.0)
#: Probability of each width factor.
WIDTH_P = (0.75, 0.125, 0.125)

KIND_OF = {
    "ft": "fine-tune (real training)",
    "cont": "fine-tune (real training)",
    "perm": "permutation",
    "perm-hidden": "permutation (+hidden)",
    "gguf-f16": "conversion/quantization",
    "gguf-q8": "conversion/quantization",
    "q4-roundtrip": "conversion/quantization",
    "int8": "conversion/quantization",
    "onnx": "conversion/quantization",
    "q8": "conversion/quantization",
    "noise-0.01": "noise",
    "noise-0.1": "noise",
    "noise-0.05": "noise",
    "noise-0.2": "noise",
    "drop-layer": "layer removal",
    "every-other": "layer removal",
    "upscale": "depth upscaling",
    "vocab+64": "vocabulary change",
    "vocab+1000": "vocabulary change",
    "vocab-cut": "vocabulary change",
    "combo": "combined",
}


@dataclass
class Base:
    """What a distractor borrows from a real fingerprint."""

    name: str
    fp: Fingerprint
    roles: list[tuple[str, dict[str, Any]]]
    tok: tuple[np.ndarray, np.ndarray] | None
    tok_target: float
    eps: float = 0.0


def _fps() -> tuple[dict[str, Fingerprint], list[corpus.Case]]:
    """Real fingerprints of the corpus (cached by the lineage benchmark's engine)."""
    cases = corpus.build(quick=False)
    mk = Modelkin(train.cache_root() / "fingerprints")
    by_path: dict[Path, Fingerprint] = {}
    for c in cases:
        for p in (c.suspect, c.candidate):
            if p not in by_path:
                by_path[p] = mk.fingerprint(p)
    ids = {
        "llama0": "llama-seed0~seed1",
        "llama1": "llama-seed1~seed2",
        "bert0": "bert-seed0~seed1",
        "minilm6": "minilm6~minilm3",
        "gemma": "gemma~minilm6",
    }
    case = {c.id: c for c in cases}
    named = {k: by_path[case[v].suspect] for k, v in ids.items()}
    named["llama2"] = by_path[case["llama-seed1~seed2"].candidate]
    named["bert1"] = by_path[case["bert-seed0~seed1"].candidate]
    named["minilm3"] = by_path[case["minilm6~minilm3"].candidate]
    return named | {str(p): fp for p, fp in by_path.items()}, cases


def _tok_cos(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    ia = items_from_parts([], a, {}, None).vectors["tok"]
    ib = items_from_parts([], b, {}, None).vectors["tok"]
    return float((ia @ ib.T)[0, 0]) if len(ia) and len(ib) else 0.0


def _log_std_spread(fps: list[Fingerprint]) -> list[float]:
    """Per role present in every seed: the spread (sd) of log std across seeds."""
    out = []
    for name in fps[0].roles:
        stds = [f.roles.get(name, {}).get("stats", {}).get("std") for f in fps]
        if all(isinstance(s, float) and s > 0 for s in stds):
            out.append(float(np.std(np.log(stds), ddof=1)))
    return out


def measure(named: dict[str, Fingerprint]) -> dict[str, float]:
    """Between-seed variation measured on the independently trained seeds."""
    ll = [named[f"llama{i}"] for i in range(3)]
    bb = [named["bert0"], named["bert1"]]
    spread = _log_std_spread(ll) + _log_std_spread(bb)
    tl = [
        _tok_cos(token_rows(a), token_rows(b))  # type: ignore[arg-type]
        for a, b in ((ll[0], ll[1]), (ll[0], ll[2]), (ll[1], ll[2]))
    ]
    tb = _tok_cos(token_rows(bb[0]), token_rows(bb[1]))  # type: ignore[arg-type]
    return {
        "log_std_sd": float(np.median(spread)),
        "tok_llama": float(np.mean(tl)),
        "tok_bert": tb,
        "tok_other": max(float(np.mean(tl)), tb),
    }


#: Distractors per generation block, and random bases (new residual bases) per width.
BLOCK = 8192
POOL = 8


def _bases_pool(base: Base, width: int) -> list[np.ndarray]:
    """The base's token rows in POOL fresh random orthonormal bases of ``width`` columns
    (QR of Gaussian matrices; Gram-preserving when ``width`` >= the base width)."""
    key = ("pool", width)
    cache: dict[Any, Any] = base.__dict__.setdefault("_cache", {})
    if key not in cache:
        assert base.tok is not None
        rows = base.tok[0].astype(np.float64)
        h = rows.shape[1]
        rng = np.random.default_rng([h, width, 7])
        out = []
        for _ in range(POOL):
            if width >= h:
                q = np.linalg.qr(rng.standard_normal((width, h)))[0].T  # h x width, QQ^T = I
            else:
                q = np.linalg.qr(rng.standard_normal((h, width)))[0]  # h x width
            out.append((rows @ q).astype(np.float32))
        cache[key] = out
    return list(cache[key])


def _tokens(base: Base, rng: np.random.Generator, b: int, width: int, eps: float) -> np.ndarray:
    """``b`` token-row sets: base rows in a random pooled basis, plus noise, then a random
    signed permutation of the columns (still an orthonormal change of basis)."""
    pool = _bases_pool(base, width)
    k = rng.integers(0, POOL, size=b)
    rows = np.stack([pool[int(j)] for j in k])
    sd = float(pool[0].std())
    rows = rows + eps * sd * rng.standard_normal(rows.shape, dtype=np.float32)
    perm = np.argsort(rng.random((b, width)), axis=1)
    sign = rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=(b, 1, width))
    return np.take_along_axis(rows, perm[:, None, :], axis=2) * sign


def _calibrate(base: Base) -> float:
    """Noise scale giving the measured between-seed token-Gram similarity to the base."""
    assert base.tok is not None
    h = base.tok[0].shape[1]
    ref = items_from_parts([], base.tok, {}, None).vectors["tok"]
    lo, hi = 0.0, 8.0
    for _ in range(16):
        mid = (lo + hi) / 2
        rows = _tokens(base, np.random.default_rng(99), 8, h, mid)
        got = items_batch([], (rows, base.tok[1]), {}, None, 8)
        sim = float(np.mean([float((g.vectors["tok"] @ ref.T)[0, 0]) for g in got]))
        lo, hi = (mid, hi) if sim > base.tok_target else (lo, mid)
    return (lo + hi) / 2


def _scaled_shape(shape: list[int], st: dict[str, Any], f: float) -> list[int]:
    if f == 1.0:
        return list(shape)
    dims = {st.get("hidden_size"), st.get("intermediate_size")} - {None}
    return [max(1, int(d * f)) if d in dims else d for d in shape]


def _params(seed: int, i: int) -> tuple[int, int, int]:
    """(base index, depth change, width index) of distractor ``i``."""
    rng = np.random.default_rng([seed, i])
    return i % len(BASES), int(rng.integers(-2, 3)), int(rng.choice(len(WIDTHS), p=WIDTH_P))


@lru_cache(maxsize=64)
def groups(seed: int, block: int, n: int) -> dict[tuple[int, int, int], list[int]]:
    """Distractor ids of one block grouped by (base, depth change, width)."""
    out: dict[tuple[int, int, int], list[int]] = {}
    for i in range(block * BLOCK, min(n, (block + 1) * BLOCK)):
        out.setdefault(_params(seed, i), []).append(i)
    return out


@dataclass
class Group:
    """Distractors of one family drawn together (leading axis = distractor)."""

    ids: list[int]
    structure: dict[str, Any]
    roles: list[tuple[str, dict[str, Any], np.ndarray]]
    tokens: np.ndarray | None


def draw_group(
    base: Base, ids: list[int], dn: int, wi: int, seed: int, block: int, log_std_sd: float
) -> Group:
    """Independent-model draws from ``base`` (see the module docstring), deterministic."""
    rng = np.random.default_rng([seed, block, BASES.index(base.name), dn + 2, wi])
    b = len(ids)
    st = base.fp.structure
    n = int(st.get("num_layers") or 1)
    n2 = max(1, n + dn)
    f = WIDTHS[wi]
    hidden2 = max(1, int(int(st.get("hidden_size") or 0) * f))
    by_layer: dict[int | None, list[tuple[str, dict[str, Any]]]] = {}
    for name, r in base.roles:
        by_layer.setdefault(r.get("layer"), []).append((name, r))
    plan: list[tuple[int | None, int | None]] = [(None, None)]
    plan += [(j, round(j * (n - 1) / max(1, n2 - 1))) for j in range(n2)]
    roles = []
    for new_layer, src_layer in plan:
        for name, r in by_layer.get(src_layer, []):
            shape = _scaled_shape(r["shape"], st, f)
            sshape = list(r["sample"]["shape"])
            if len(shape) == 1:
                sshape = [min(256, shape[0])]
            else:
                sshape = [min(sshape[0], shape[0]), min(64, int(np.prod(shape[1:])))]
            stats = r.get("stats") or {}
            mean, std = float(stats.get("mean") or 0.0), float(stats.get("std") or 0.02)
            stds = std * np.exp(log_std_sd * rng.standard_normal(b)).astype(np.float32)
            z = rng.standard_normal([b, *sshape], dtype=np.float32)
            x = mean + stds.reshape(-1, *([1] * len(sshape))) * z
            key = name if new_layer is None else f"L{new_layer}." + name.split(".", 1)[1]
            role = {"kind": r["kind"], "layer": new_layer, "param": r["param"], "shape": shape,
                    "dtype": "F32", "quantized": False}  # fmt: skip
            roles.append((key, role, x))
    tokens = _tokens(base, rng, b, hidden2, base.eps) if base.tok is not None else None
    structure = dict(st) | {"num_layers": n2, "hidden_size": hidden2}
    if st.get("intermediate_size"):
        structure["intermediate_size"] = max(1, int(st["intermediate_size"] * f))
    return Group(ids, structure, roles, tokens)


def group_items(g: Group, base: Base) -> list[Any]:
    hidden = g.structure["hidden_size"]
    roles = [
        RoleSample(
            key=f"{r['kind']}|{r['param']}|{'x'.join(map(str, r['shape']))}",
            layer=r["layer"],
            hidden_1d=len(r["shape"]) == 1 and r["shape"][0] == hidden,
            sample=x,
        )
        for _name, r, x in g.roles
    ]
    tok = (g.tokens, base.tok[1]) if g.tokens is not None and base.tok is not None else None
    tokd = base.fp.tokenizer.get("digest") if base.fp.tokenizer else None
    return items_batch(
        roles, tok, g.structure, json.dumps(tokd, sort_keys=True) if tokd else None, len(g.ids)
    )


#: Recently drawn groups (a query's top 10 often shares a few groups).
_GROUPS: dict[tuple[Any, ...], Group] = {}


def distractor_fingerprint(
    i: int, bases: dict[str, Base], seed: int, n: int, log_std_sd: float, recipe: str
) -> Fingerprint:
    """The full fingerprint of distractor ``i`` (regenerated with its group)."""
    block = i // BLOCK
    params = _params(seed, i)
    ids = groups(seed, block, n)[params]
    base = bases[BASES[params[0]]]
    key = (base.name, tuple(ids), params[1], params[2], seed, block, log_std_sd)
    g = _GROUPS.get(key)
    if g is None:
        if len(_GROUPS) >= 32:
            _GROUPS.pop(next(iter(_GROUPS)))
        g = _GROUPS[key] = draw_group(base, ids, params[1], params[2], seed, block, log_std_sd)
    j = ids.index(i)
    roles = {}
    for name, r, x in g.roles:
        roles[name] = r | {"stats": summarize(x[j]), "sample": pack(x[j])}
    digest = hashlib.sha256(f"{recipe}|{i}".encode()).hexdigest()
    tokens = None
    if g.tokens is not None and base.tok is not None:
        tokens = {"hashes": [int(h) for h in base.tok[1]], "rows": pack(g.tokens[j])}
    return Fingerprint.from_dict(
        {
            "version": 3,
            "mode": "fast",
            "seed": 0,
            "format": "synthetic",
            "name": f"distractor-{i}",
            "files": {f"distractor-{i}": {"size": 0, "sha256": digest}},
            "structure": g.structure,
            "tokenizer": base.fp.tokenizer,
            "roles": roles,
            "tokens": tokens,
        }
    )


def build_index(
    bases: dict[str, Base], named: dict[str, Fingerprint], n: int, seed: int, meas: dict[str, float]
) -> tuple[SearchIndex, float, Path, bool]:
    recipe = json.dumps(
        {
            "generator": GENERATOR_VERSION,
            "features": FEATURES_VERSION,
            "index": INDEX_VERSION,
            "n": n,
            "seed": seed,
            "bases": {k: named[k].digest() for k in BASES},
            "parents": PARENTS,
            "measured": meas,
        },
        sort_keys=True,
    )
    key = hashlib.sha256(recipe.encode()).hexdigest()
    path = Path.home() / ".cache" / "modelkin" / "bench" / f"search-{key[:32]}" / "index.npz"
    if path.exists():
        t = time.perf_counter()
        idx = SearchIndex.load(path)
        return idx, time.perf_counter() - t, path, True
    t = time.perf_counter()
    idx = SearchIndex()
    for p in PARENTS:
        idx.add(p, index_items(named[p]), {"name": p, "real": True})
    for block in range((n + BLOCK - 1) // BLOCK):
        for (bi, dn, wi), ids in sorted(groups(seed, block, n).items(), key=lambda kv: kv[1][0]):
            base = bases[BASES[bi]]
            g = draw_group(base, ids, dn, wi, seed, block, meas["log_std_sd"])
            for i, items in zip(ids, group_items(g, base), strict=True):
                idx.add(f"d{i}", items, {"name": f"distractor-{i}", "base": base.name})
        if True:
            print(f"  generated {min(n, (block + 1) * BLOCK)}/{n}", file=sys.stderr, flush=True)
    idx.save(path)
    return idx, time.perf_counter() - t, path, False


_FRESH = """
import resource, sys, time
from pathlib import Path
t = time.perf_counter()
from modelkin.fingerprint import Fingerprint
from modelkin.search import SearchIndex, index_items
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
idx = SearchIndex.load(Path(sys.argv[1]))
t1 = time.perf_counter()
for _ in range(3):
    idx.query(index_items(Fingerprint.load(Path(sys.argv[2]))), 10)
t2 = time.perf_counter()
print(t1 - t0, (t2 - t1) / 3, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def fresh_process(index: Path, query: Fingerprint) -> tuple[float, float, float, float]:
    """(load s, lookup s, RSS after imports MB, peak RSS MB) of a new process that loads the index and runs a
    query: what a CLI ``search`` costs, without this script's generation work."""
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        q = query.save(Path(d) / "q.fp")
        out = subprocess.run(
            [sys.executable, "-c", _FRESH, str(index), str(q)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    load, look, base, rss = (float(x) for x in out.stdout.split())
    return load, look, base, rss


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10,000 distractors")
    ap.add_argument("-n", type=int, default=None, help="number of distractors")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    n = args.n if args.n is not None else (10_000 if args.quick else 100_000)

    named, cases = _fps()
    meas = measure(named)
    bases: dict[str, Base] = {}
    for b in BASES:
        fp = named[b]
        target = meas["tok_llama" if b.startswith("llama") else "tok_bert"]
        if b in ("minilm6", "minilm3", "gemma"):
            target = meas["tok_other"]
        bases[b] = Base(b, fp, list(fp.roles.items()), token_rows(fp), target)
        if bases[b].tok is not None:
            bases[b].eps = _calibrate(bases[b])
    idx, build_s, path, cached = build_index(bases, named, n, args.seed, meas)

    print("# 1:N search benchmark (modelkin.search)")
    print(f"index: {len(PARENTS)} real parents + {n:,} synthetic distractors = {len(idx):,} models")
    print("distractors: independent-model draws from 8 real bases (tiny llama seeds 0/1/2, tiny")
    print("  BERT seeds 0/1 trained here; minilm-l6, minilm-l3, gemma-270m): depth +-2 layers,")
    print("  1/8 half and 1/8 double width; every role's seeded sample drawn fresh from N(mean,")
    print(f"  std * exp(N(0, {meas['log_std_sd']:.3f}))) (between-seed sd of log std, measured);")
    print("  token rows = base rows + noise in a fresh random basis, noise set to the token-Gram")
    print(
        f"  similarity measured between independent seeds (llama {meas['tok_llama']:.2f}, BERT "
        f"{meas['tok_bert']:.2f}, others {meas['tok_other']:.2f}); no MLP-unit features."
    )
    print(
        "  noise scales: "
        + ", ".join(f"{b.name} {b.eps:.2f}" for b in bases.values() if b.tok is not None)
    )

    parents = {str(p): k for k, p in _parent_paths(cases).items()}
    queries: list[tuple[str, str, Fingerprint, str | None]] = []
    for c in cases:
        key = parents.get(str(c.candidate))
        if c.related and key is not None and c.expected != "related":
            kind = KIND_OF.get(c.id.split("~")[0].split("-", 1)[1], "other")
            queries.append((c.id, kind, named[str(c.suspect)], key))
    controls = [("llama-seed1", named["llama1"]), ("llama-seed2", named["llama2"])]
    controls += [("bert-seed1", named["bert1"])]
    ft1 = next(c for c in cases if c.id == "llama-seed1perm~seed0perm")
    controls.append(("llama-seed1 permuted", named[str(ft1.suspect)]))
    for label, fp in controls:
        queries.append((label, "control (independent seed)", fp, None))

    recipe_id = path.parent.name
    lookup, full = [], []
    rows = []
    by_kind: dict[str, list[tuple[int, int]]] = {}
    ctrl_related = 0
    for qid, kind, fp, truth in queries:
        t = time.perf_counter()
        found = idx.query(index_items(fp), args.top)
        dt = time.perf_counter() - t
        for _ in range(2):  # repeated for stable latency figures
            t = time.perf_counter()
            idx.query(index_items(fp), args.top)
            lookup.append(time.perf_counter() - t)
        lookup.append(dt)
        keys = [m.key for m in found]
        rank = keys.index(truth) + 1 if truth in keys else 0
        cands = []
        for m in found:
            if m.info.get("real"):
                cands.append(named[m.key])
            else:
                i = int(m.key[1:])
                cands.append(
                    distractor_fingerprint(i, bases, args.seed, n, meas["log_std_sd"], recipe_id)
                )
        t = time.perf_counter()
        reports = [compare(fp, c) for c in cands]
        full.append(dt + time.perf_counter() - t)
        related = [m.key for m, r in zip(found, reports, strict=True) if r.related]
        if truth is None:
            ctrl_related += bool(related)
        else:
            by_kind.setdefault(kind, []).append((rank == 1, 0 < rank <= 10))
        rows.append((qid, kind, truth or "-", rank, related))

    print(f"\n{'query':34} {'kind':28} {'parent':8} {'rank':>4}  related in top {args.top}")
    for qid, kind, truth, rank, related in rows:
        print(
            f"{qid[:34]:34} {kind[:28]:28} {truth:8} {rank or '>10':>4}  {', '.join(related) or '-'}"
        )
    print(f"\n{'transform kind':30} {'n':>3} {'recall@1':>9} {'recall@10':>10}")
    r1_all, r10_all = [], []
    for kind, res in sorted(by_kind.items()):
        r1 = [a for a, _ in res]
        r10 = [b for _, b in res]
        r1_all += r1
        r10_all += r10
        print(f"{kind:30} {len(res):3d} {np.mean(r1):9.3f} {np.mean(r10):10.3f}")
    print(
        f"{'all derivatives':30} {len(r1_all):3d} {np.mean(r1_all):9.3f} {np.mean(r10_all):10.3f}"
    )
    print(
        f"controls with a 'related' verdict in their top {args.top}: {ctrl_related}/{len(controls)}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{'measure':46} {'value':>12}")
    print(f"{'query latency, index lookup p50 (ms)':46} {1000 * pct(lookup, 50):12.1f}")
    print(f"{'query latency, index lookup p99 (ms)':46} {1000 * pct(lookup, 99):12.1f}")
    print(
        f"{f'query latency, lookup + compare top {args.top} p50 (ms)':46} {1000 * pct(full, 50):12.1f}"
    )
    print(
        f"{f'query latency, lookup + compare top {args.top} p99 (ms)':46} {1000 * pct(full, 99):12.1f}"
    )
    what = "load (cached)" if cached else "generate + features + save"
    print(f"{'index build (' + what + ') (s)':46} {build_s:12.1f}")
    print(f"{'index size on disk (MB)':46} {path.stat().st_size / 1e6:12.1f}")
    print(f"{'index in memory (MB)':46} {idx.nbytes() / 1e6:12.1f}")
    print(f"{'peak RSS of this process (MB)':46} {rss:12.1f}")
    load_s, look_s, base_rss, fresh_rss = fresh_process(path, named["gemma"])
    print(f"{'fresh process: index load (s)':46} {load_s:12.2f}")
    print(f"{'fresh process: lookup, gemma-270m query (ms)':46} {1000 * look_s:12.1f}")
    print(f"{'fresh process: RSS after imports, no index (MB)':46} {base_rss:12.1f}")
    print(f"{'fresh process: peak RSS after load + lookup (MB)':46} {fresh_rss:12.1f}")
    print(f"(index cached at {path}; distractor fingerprints for the compares are regenerated")
    print(" on demand, outside the timed region; real parents' fingerprints are in memory)")
    return 0


def _parent_paths(cases: list[corpus.Case]) -> dict[str, Path]:
    case = {c.id: c for c in cases}
    return {
        "llama0": case["llama-seed0~seed1"].suspect,
        "bert0": case["bert-seed0~seed1"].suspect,
        "minilm6": case["minilm6~minilm3"].suspect,
        "minilm3": case["minilm6~minilm3"].candidate,
        "gemma": case["gemma~minilm6"].suspect,
    }


if __name__ == "__main__":
    sys.exit(main())
