"""The labelled pair set behind ``benchmarks/lineage_bench.py``.

Each :class:`Case` is ``(suspect, candidate, related?)`` plus what was done and whether
the relation comes from a *transform* (weights edited by :mod:`.transforms` /
:mod:`.convert`), from *real training* (seeded CPU runs of :mod:`.train`) or from *real
models* whose lineage is documented (shared/MODELS.md). Negatives are deliberately hard:
same architecture, same tokenizer and same data with another seed, and transformed
copies compared with an independent model of identical shape.

Everything is rebuilt deterministically and cached under
``cache_dir()/"synth"/"corpus-v<N>"``; a case whose files exist is not rebuilt.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelkin_dev.synth import convert, gguf_edit, prune, specs, train
from modelkin_dev.synth import transforms as T

CORPUS_VERSION = 1
#: Training length of the corpus' tiny models (steps of 16 x 64 tokens).
TRAIN_STEPS = 300
FINETUNE_STEPS = 150

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Case:
    """One labelled pair.

    ``expected``: the verdict a perfect tool would give (``converted``, ``derived``,
    ``derived_surgery``, ``related`` for siblings, ``unrelated``); ``origin``:
    ``transform``, ``real training`` or ``real models``."""

    id: str
    suspect: Path
    candidate: Path
    related: bool
    expected: str
    kind: str
    origin: str


def _root() -> Path:
    return train.cache_root() / f"corpus-v{CORPUS_VERSION}"


def _made(out: Path, make: Callable[[Path], Any]) -> Path:
    """Build ``out`` once (marker file ``out.name + '.ok'`` beside it)."""
    ok = out.with_name(out.name + ".ok")
    if ok.exists() and out.exists():
        return out
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    make(out)
    ok.write_text("ok")
    return out


def _in_dir(fn: Callable[[Path], Any], filename: str) -> Callable[[Path], Any]:
    """A maker that writes one file inside a new directory (peer tools take
    directories)."""

    def make(out: Path) -> None:
        out.mkdir(parents=True)
        fn(out / filename)

    return make


def _gguf(src: Path, out: Path, qtype: str) -> Path:
    """GGUF file in its own directory."""
    return _made(out, _in_dir(lambda f: convert.to_gguf(src, f, qtype), "model.gguf"))


def build(
    quick: bool = False, real: dict[str, Path] | None = None, progress: Progress | None = None
) -> list[Case]:
    """Build (or reuse) every model of the corpus and return the labelled pairs.

    ``real``: id -> path of the real fixtures (fetched when None); ``quick``: a small
    subset (tiny llama runs and a few MiniLM cases) for smoke runs."""
    from modelkin_dev.fixtures import fetch

    say = progress or (lambda _m: None)
    root = _root()
    cases: list[Case] = []

    def add(cid: str, s: Path, c: Path, rel: bool, exp: str, kind: str, origin: str) -> None:
        cases.append(Case(cid, s, c, rel, exp, kind, origin))

    # -- real training: tiny llama -------------------------------------------------------
    say("training tiny llama models (3 seeds, fine-tune, continued pre-training)")
    ls = specs.LlamaSpec()
    llama = [train.train(ls, seed, steps=TRAIN_STEPS) for seed in (0, 1, 2)]
    l_ft = train.finetune(llama[0], "stdlib-b", steps=FINETUNE_STEPS)
    l_cont = train.finetune(llama[0], "stdlib-a", steps=FINETUNE_STEPS, seed=2000)
    L0, L1, L2 = (r.model for r in llama)
    add(
        "llama-seed0~seed1",
        L0,
        L1,
        False,
        "unrelated",
        "independent seeds, same data",
        "real training",
    )
    add(
        "llama-seed0~seed2",
        L0,
        L2,
        False,
        "unrelated",
        "independent seeds, same data",
        "real training",
    )
    add(
        "llama-seed1~seed2",
        L1,
        L2,
        False,
        "unrelated",
        "independent seeds, same data",
        "real training",
    )
    add(
        "llama-ft~seed0",
        l_ft.model,
        L0,
        True,
        "derived",
        "fine-tune on other text",
        "real training",
    )
    add(
        "llama-ft~seed1",
        l_ft.model,
        L1,
        False,
        "unrelated",
        "fine-tune of seed0 vs seed1",
        "real training",
    )
    add(
        "llama-cont~seed0",
        l_cont.model,
        L0,
        True,
        "derived",
        "continued pre-training",
        "real training",
    )

    # -- transforms of tiny llama ---------------------------------------------------------
    say("transforming tiny llama")
    d = root / "llama0"
    l_tr: dict[str, tuple[Path, str, str]] = {
        "perm": (
            _made(d / "perm", lambda o: T.permute(L0, o, seed=1)),
            "derived_surgery",
            "MLP-unit + head permutation",
        ),
        "perm-hidden": (
            _made(d / "permh", lambda o: T.permute(L0, o, seed=2, hidden=True)),
            "derived_surgery",
            "MLP + head + hidden-dim permutation",
        ),
        "gguf-f16": (_gguf(L0, d / "gguf-f16", "F16"), "converted", "GGUF F16 conversion"),
        "gguf-q8": (_gguf(L0, d / "gguf-q8", "Q8_0"), "converted", "GGUF Q8_0 conversion"),
        "noise-0.01": (
            _made(d / "noise01", lambda o: T.add_noise(L0, o, 0.01, seed=1)),
            "derived",
            "Gaussian noise 1% of std",
        ),
        "noise-0.1": (
            _made(d / "noise10", lambda o: T.add_noise(L0, o, 0.1, seed=1)),
            "derived",
            "Gaussian noise 10% of std",
        ),
        "q4-roundtrip": (
            _made(d / "q4rt", lambda o: T.quantize_roundtrip(L0, o, "q4_0")),
            "converted",
            "Q4_0 quantize/dequantize",
        ),
        "drop-layer": (
            _made(d / "drop", lambda o: T.select_layers(L0, o, [0, 1, 3])),
            "derived_surgery",
            "layer 2 removed",
        ),
        "upscale": (
            _made(d / "upscale", lambda o: T.select_layers(L0, o, [0, 1, 2, 3, 2, 3])),
            "derived_surgery",
            "depth up-scaling (layers 2-3 duplicated)",
        ),
        "vocab+64": (
            _made(d / "vocab", lambda o: T.resize_vocab(L0, o, 259 + 64)),
            "derived_surgery",
            "vocabulary extended by 64 tokens",
        ),
        "combo": (
            _made(
                d / "combo",
                lambda o: T.compose(
                    L0,
                    o,
                    [
                        (T.permute, {"seed": 3}),
                        (T.add_noise, {"scale": 0.03, "seed": 3}),
                        (T.select_layers, {"order": [0, 1, 2]}),
                        (T.quantize_roundtrip, {"method": "q8_0"}),
                    ],
                ),
            ),
            "derived_surgery",
            "permute + noise 3% + drop last layer + Q8_0",
        ),
    }
    for name, (path, exp, kind) in l_tr.items():
        add(f"llama-{name}~seed0", path, L0, True, exp, kind, "transform")
    for name in ("perm", "perm-hidden", "gguf-q8", "upscale", "combo"):
        path, _exp, kind = l_tr[name]
        add(
            f"llama-{name}~seed1",
            path,
            L1,
            False,
            "unrelated",
            f"{kind} of seed0 vs seed1",
            "transform",
        )
    # a transformed independent model vs a transformed one: same surgery, no lineage
    l1_perm = _made(root / "llama1" / "perm", lambda o: T.permute(L1, o, seed=1))
    add(
        "llama-seed1perm~seed0perm",
        l1_perm,
        l_tr["perm"][0],
        False,
        "unrelated",
        "both permuted with the same seed, independent weights",
        "transform",
    )

    if quick:
        real_ids: tuple[str, ...] = ("minilm-l6", "minilm-l3")
    else:
        real_ids = ("minilm-l6", "minilm-l3", "gemma-270m")
    real = real or {mid: fetch(mid) for mid in real_ids}
    m6, m3 = real["minilm-l6"], real["minilm-l3"]

    # -- real models ---------------------------------------------------------------------
    say("transforming minilm-l6")
    d = root / "minilm6"
    m_tr: dict[str, tuple[Path, str, str]] = {
        "perm": (
            _made(d / "perm", lambda o: T.permute(m6, o, seed=1)),
            "derived_surgery",
            "MLP-unit + head permutation",
        ),
        "noise-0.05": (
            _made(d / "noise05", lambda o: T.add_noise(m6, o, 0.05, seed=1)),
            "derived",
            "Gaussian noise 5% of std",
        ),
        "every-other": (
            _made(d / "half", lambda o: T.select_layers(m6, o, [0, 2, 4])),
            "derived_surgery",
            "every other layer kept (6 -> 3)",
        ),
    }
    if not quick:
        m_tr |= {
            "onnx": (
                _made(d / "onnx", _in_dir(lambda f: convert.to_onnx(m6, f), "model.onnx")),
                "converted",
                "ONNX export (torch.onnx)",
            ),
            "int8": (
                _made(d / "int8", lambda o: T.quantize_roundtrip(m6, o, "int8")),
                "converted",
                "int8 per-row quantize/dequantize",
            ),
            "q4-roundtrip": (
                _made(d / "q4rt", lambda o: T.quantize_roundtrip(m6, o, "q4_0")),
                "converted",
                "Q4_0 quantize/dequantize",
            ),
            "noise-0.2": (
                _made(d / "noise20", lambda o: T.add_noise(m6, o, 0.2, seed=2)),
                "derived",
                "Gaussian noise 20% of std",
            ),
            "upscale": (
                _made(d / "upscale", lambda o: T.select_layers(m6, o, [0, 1, 2, 3, 4, 5, 4, 5])),
                "derived_surgery",
                "depth up-scaling (layers 4-5 duplicated)",
            ),
            "vocab+1000": (
                _made(d / "vocab", lambda o: T.resize_vocab(m6, o, 30522 + 1000)),
                "derived_surgery",
                "vocabulary extended by 1000 tokens",
            ),
            "vocab-cut": (
                _made(d / "vocabcut", lambda o: T.resize_vocab(m6, o, 20000)),
                "derived_surgery",
                "vocabulary truncated to 20000",
            ),
            "combo": (
                _made(
                    d / "combo",
                    lambda o: T.compose(
                        m6,
                        o,
                        [
                            (T.permute, {"seed": 4, "hidden": True}),
                            (T.select_layers, {"order": [0, 1, 3, 5]}),
                            (T.add_noise, {"scale": 0.02, "seed": 4}),
                        ],
                    ),
                ),
                "derived_surgery",
                "hidden+unit permutation, 2 layers removed, noise 2%",
            ),
        }
    for name, (path, exp, kind) in m_tr.items():
        add(f"minilm6-{name}~minilm6", path, m6, True, exp, kind, "transform")
    add(
        "minilm6~minilm3",
        m6,
        m3,
        True,
        "related",
        "siblings: two layer selections of MiniLM-L12, fine-tuned separately",
        "real models",
    )
    add(
        "minilm6-perm~minilm3",
        m_tr["perm"][0],
        m3,
        True,
        "related",
        "permuted sibling",
        "transform",
    )

    # -- real training: tiny BERT ---------------------------------------------------------
    if not quick:
        say("training tiny BERT models (2 seeds, fine-tune) and transforms")
        bs = specs.BertSpec()
        bert = [train.train(bs, seed, steps=TRAIN_STEPS) for seed in (0, 1)]
        b_ft = train.finetune(bert[0], "stdlib-b", steps=FINETUNE_STEPS)
        B0, B1 = bert[0].model, bert[1].model
        d = root / "bert0"
        b_onnx = _made(d / "onnx", _in_dir(lambda f: convert.to_onnx(B0, f), "model.onnx"))
        b_perm = _made(d / "perm", lambda o: T.permute(B0, o, seed=5, hidden=True))
        add(
            "bert-seed0~seed1",
            B0,
            B1,
            False,
            "unrelated",
            "independent seeds, same data",
            "real training",
        )
        add(
            "bert-ft~seed0",
            b_ft.model,
            B0,
            True,
            "derived",
            "fine-tune on other text",
            "real training",
        )
        add(
            "bert-ft~seed1",
            b_ft.model,
            B1,
            False,
            "unrelated",
            "fine-tune of seed0 vs seed1",
            "real training",
        )
        add(
            "bert-onnx~seed0",
            b_onnx,
            B0,
            True,
            "converted",
            "ONNX export (torch.onnx)",
            "transform",
        )
        add(
            "bert-onnx~seed1", b_onnx, B1, False, "unrelated", "ONNX of seed0 vs seed1", "transform"
        )
        add(
            "bert-perm~seed0",
            b_perm,
            B0,
            True,
            "derived_surgery",
            "hidden+unit+head permutation",
            "transform",
        )
        add(
            "bert-perm~seed1",
            b_perm,
            B1,
            False,
            "unrelated",
            "permuted seed0 vs seed1",
            "transform",
        )
        add(
            "bert-seed0~minilm6", B0, m6, False, "unrelated", "tiny BERT vs MiniLM", "real training"
        )
        add(
            "llama-seed0~bert-seed0",
            L0,
            B0,
            False,
            "unrelated",
            "decoder vs encoder, same data",
            "real training",
        )

        g = real["gemma-270m"]
        say("re-writing gemma-270m GGUF (Q4_K_M -> Q8_0, noise, block removal)")
        d = root / "gemma"
        g_tr: dict[str, tuple[Path, str, str]] = {
            "q8": (
                _made(d / "q8", _in_dir(lambda f: gguf_edit.rewrite(g, f), "model.gguf")),
                "converted",
                "re-quantized Q4_K_M -> Q8_0",
            ),
            "noise-0.05": (
                _made(
                    d / "noise05",
                    _in_dir(lambda f: gguf_edit.rewrite(g, f, noise=0.05, seed=1), "model.gguf"),
                ),
                "derived",
                "Gaussian noise 5% of std, Q8_0",
            ),
            "every-other": (
                _made(
                    d / "half",
                    _in_dir(
                        lambda f: gguf_edit.rewrite(g, f, noise=0.01, layers=list(range(0, 18, 2))),
                        "model.gguf",
                    ),
                ),
                "derived_surgery",
                "every other block kept + noise 1%, Q8_0",
            ),
        }
        for name, (path, exp, kind) in g_tr.items():
            add(f"gemma-{name}~gemma", path, g, True, exp, kind, "transform")
        add(
            "gemma-every-other~minilm6",
            g_tr["every-other"][0],
            m6,
            False,
            "unrelated",
            "transformed gemma vs MiniLM",
            "transform",
        )
        add("gemma~minilm6", g, m6, False, "unrelated", "cross-family", "real models")
        add("gemma~minilm3", g, m3, False, "unrelated", "cross-family", "real models")
        add("gemma~llama-seed0", g, L0, False, "unrelated", "cross-family", "real models")
        add(
            "minilm6-half~minilm3",
            m_tr["every-other"][0],
            m3,
            True,
            "related",
            "3-layer selection of L6 vs 3-layer sibling",
            "transform",
        )
        add(
            "minilm6-combo~minilm6-noise",
            m_tr["combo"][0],
            m_tr["noise-0.2"][0],
            True,
            "derived_surgery",
            "two different derivatives of one model",
            "transform",
        )
    _width_and_rotation(root, add, say, L0, L1, m6, None if quick else real["gemma-270m"])
    return cases


#: Width pruning of the corpus' tiny llama (hidden 64 = 4 heads of 16 in 2 kv groups):
#: one kv group, a quarter of the MLP units; and of MiniLM-L6 (12 heads of 32).
LLAMA_PRUNE = {"hidden": 32, "intermediate": 96, "kv_groups": 1}
MINILM_PRUNE = {"hidden": 320, "intermediate": 1024, "kv_groups": 10}
HEAL_STEPS = 150


def _width_and_rotation(
    root: Path,
    add: Callable[[str, Path, Path, bool, str, str, str], None],
    say: Progress,
    L0: Path,
    L1: Path,
    m6: Path,
    gemma: Path | None = None,
) -> None:
    """Issue 19 (findings 2 and 3): width-pruned (Minitron-style, with and without depth
    pruning and a healing fine-tune) and rotated (SliceGPT-style) derivatives, and the
    same transforms applied to an independent model as controls."""
    say("width pruning and rotating tiny llama and minilm-l6")
    d = root / "surgery"
    wp = _made(d / "l0-wp", lambda o: T.width_prune(L0, o, **LLAMA_PRUNE))
    wpd = _made(d / "l0-wp-depth", lambda o: T.select_layers(wp, o, [0, 2, 3]))
    rot = _made(d / "l0-rot", lambda o: T.rotate(L0, o, seed=5))
    pos: dict[str, tuple[Path, str]] = {
        "width-pruned": (wp, "hidden 64->32, heads 4->2, MLP 128->96 by importance"),
        "width+depth-pruned": (wpd, "width-pruned, then layer 1 of 4 removed"),
        "width-pruned+healed": (
            prune.heal(wp, steps=HEAL_STEPS).model,
            f"width-pruned, healed by {HEAL_STEPS} steps of training",
        ),
        "width+depth+healed": (
            prune.heal(wpd, steps=HEAL_STEPS).model,
            f"width+depth-pruned, healed by {HEAL_STEPS} steps",
        ),
        "rotated": (rot, "residual stream rotated (norms folded, Haar-random Q)"),
        "rotated+ft": (
            prune.heal(rot, steps=HEAL_STEPS).model,
            f"rotated, then {HEAL_STEPS} steps of training",
        ),
    }
    for name, (path, kind) in pos.items():
        add(f"llama-{name}~seed0", path, L0, True, "derived_surgery", kind, "transform")
    l1_wp = _made(d / "l1-wp", lambda o: T.width_prune(L1, o, **LLAMA_PRUNE))
    l1_rot = _made(d / "l1-rot", lambda o: T.rotate(L1, o, seed=6))
    for cid, s_, c_, kind in (
        ("llama-seed1-width-pruned~seed0", l1_wp, L0, "width-pruned seed1 vs seed0"),
        ("llama-seed1-rotated~seed0", l1_rot, L0, "rotated seed1 vs seed0"),
        ("llama-rotated~seed1", rot, L1, "rotated seed0 vs seed1"),
    ):
        add(cid, s_, c_, False, "unrelated", kind, "transform")
    m_wp = _made(d / "m6-wp", lambda o: T.width_prune(m6, o, **MINILM_PRUNE))
    m_pos = {
        "width-pruned": (m_wp, "hidden 384->320, heads 12->10, MLP 1536->1024"),
        "width+depth+noise": (
            _made(
                d / "m6-wpd",
                lambda o: T.compose(
                    m_wp,
                    o,
                    [(T.select_layers, {"order": [0, 2, 4, 5]}), (T.add_noise, {"scale": 0.02})],
                ),
            ),
            "width-pruned, 2 of 6 layers removed, 2% noise (healing stand-in)",
        ),
        "rotated": (
            _made(d / "m6-rot", lambda o: T.rotate(m6, o, seed=3)),
            "weights rotated by a Haar-random Q (post-LN: not function-preserving)",
        ),
        "rotated+noise": (
            _made(
                d / "m6-rotn",
                lambda o: T.compose(
                    m6, o, [(T.rotate, {"seed": 3}), (T.add_noise, {"scale": 0.02})]
                ),
            ),
            "rotated, then 2% noise",
        ),
    }
    for name, (path, kind) in m_pos.items():
        add(f"minilm6-{name}~minilm6", path, m6, True, "derived_surgery", kind, "transform")
    if gemma is None:
        return
    say("width pruning gemma-270m (GGUF, hidden 640->512, MLP 2048->1536)")
    g_pos = {
        "width-pruned": (
            _made(
                d / "g-wp",
                _in_dir(lambda f: gguf_edit.rewrite(gemma, f, hidden=512, ffn=1536), "model.gguf"),
            ),
            "hidden 640->512, MLP 2048->1536 by importance, Q8_0",
        ),
        "width+depth+noise": (
            _made(
                d / "g-wpd",
                _in_dir(
                    lambda f: gguf_edit.rewrite(
                        gemma, f, hidden=512, ffn=1536, noise=0.02, layers=list(range(0, 18, 2))
                    ),
                    "model.gguf",
                ),
            ),
            "width-pruned, every other block kept, 2% noise, Q8_0",
        ),
    }
    for name, (path, kind) in g_pos.items():
        add(f"gemma-{name}~gemma", path, gemma, True, "derived_surgery", kind, "transform")
    add(
        "gemma-width-pruned~minilm6",
        g_pos["width-pruned"][0],
        m6,
        False,
        "unrelated",
        "width-pruned gemma vs MiniLM",
        "transform",
    )
