"""Issue 19, findings 2 and 3: width-pruned and rotated derivatives are called related, with
the surgery named; independent models put through the same transforms are not.

Ground truth comes from how each model was made: tiny llama models really trained on the
CPU (a parent and an independent twin: same architecture, data and recipe, another seed),
transformed by :mod:`modelkin_dev.synth.transforms` (width pruning by importance, depth
pruning, a random orthogonal rotation of the residual stream) and healed by continued
training; and the bundled real MiniLM-L6 put through the same transforms (healing there is
2 % relative noise: no BERT training on the CPU), against independent random inits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelkin.fingerprint import Fingerprint, fingerprint_model
from modelkin.forensics import RELATED_P, compare
from modelkin.forensics.verdict import DECIDE_ACTIVATIONS, DECIDE_TOKENIZER
from modelkin_dev.synth import prune, specs, train
from modelkin_dev.synth import transforms as T

from .conftest import FingerprintCache

#: A 4-layer llama with 8 heads of dimension 8 in 4 key/value groups, so that width
#: pruning can drop a whole group (hidden 64 -> 48 keeps 6 heads).
SPEC = specs.LlamaSpec(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=4,
    num_attention_heads=8,
    num_key_value_heads=4,
)
STEPS = 400
HEAL_STEPS = 150
PRUNE = {"hidden": 48, "intermediate": 96, "kv_groups": 3}
#: Level no valid test may reach on an independent pair.
NULL_ALPHA = 1e-3
#: From scratch the module trains 2 x 400 + 3 x 150 steps (cached outside the repo
#: afterwards): longer than the default per-test limit on a loaded 2-core machine.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fingerprint]:
    base = tmp_path_factory.mktemp("tiny")
    parent, twin = (train.train(SPEC, s, steps=STEPS, schedule="cosine").model for s in (0, 1))
    m: dict[str, Path] = {"parent": parent, "twin": twin}
    m["wp"] = T.width_prune(parent, base / "wp", **PRUNE)
    m["wp_depth"] = T.select_layers(m["wp"], base / "wp_depth", [0, 2, 3])
    m["wp_heal"] = prune.heal(m["wp"], steps=HEAL_STEPS).model
    m["wp_depth_heal"] = prune.heal(m["wp_depth"], steps=HEAL_STEPS).model
    m["rot"] = T.rotate(parent, base / "rot", seed=5)
    m["rot_ft"] = prune.heal(m["rot"], steps=HEAL_STEPS).model
    m["twin_rot"] = T.rotate(twin, base / "twin_rot", seed=6)
    m["twin_wp"] = T.width_prune(twin, base / "twin_wp", **PRUNE)
    m["twin_wp_depth"] = T.select_layers(m["twin_wp"], base / "twin_wp_depth", [0, 2, 3])
    return {k: fingerprint_model(v) for k, v in m.items()}


def _p(r: object, name: str) -> float | None:
    ev = next(e for e in r.evidence if e.name == name)  # type: ignore[attr-defined]
    return ev.p_value


@pytest.mark.parametrize("child", ["wp", "wp_depth", "wp_heal", "wp_depth_heal"])
def test_width_pruned_tiny_models_are_related(tiny: dict[str, Fingerprint], child: str) -> None:
    for a, b in ((child, "parent"), ("parent", child)):
        r = compare(tiny[a], tiny[b])
        assert r.related is True and r.verdict == "derived_surgery", (a, b, r.verdict, r.summary)
        sp = _p(r, "subset_matching")
        assert sp is not None and sp <= RELATED_P, (a, b, sp)
        assert "width-pruned" in r.reason and "hidden size 64 -> 48" in r.reason, r.reason
        assert "MLP units 128 -> 96" in r.reason


@pytest.mark.parametrize("child", ["rot", "rot_ft"])
def test_rotated_tiny_models_are_related(tiny: dict[str, Fingerprint], child: str) -> None:
    r = compare(tiny[child], tiny["parent"])
    assert r.related is True and r.verdict == "derived_surgery", (r.verdict, r.summary)
    rp = _p(r, "rotation_matching")
    assert rp is not None and rp <= RELATED_P
    assert "rotated" in r.reason, r.reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("twin_rot", "parent"),
        ("rot", "twin"),
        ("twin_wp", "parent"),
        ("twin_wp_depth", "parent"),
        ("wp", "twin"),
        ("twin", "parent"),
    ],
)
def test_transformed_independent_models_stay_unrelated(
    tiny: dict[str, Fingerprint], a: str, b: str
) -> None:
    """The old false positive of finding 3 (a rotated model against an unrelated model
    of the same shape called derived) and its width-pruning analogue."""
    r = compare(tiny[a], tiny[b])
    assert r.related is not True, (a, b, r.verdict, r.summary)
    for name in ("subset_matching", "rotation_matching"):
        p = _p(r, name)
        assert p is None or p > NULL_ALPHA, (a, b, name, p)


def test_without_tokens_width_pruning_abstains_and_says_what_would_decide(
    tiny: dict[str, Fingerprint],
) -> None:
    """Finding 1: no valid test can run without shared token rows, so the answer is
    ``insufficient`` naming the evidence that would decide, never exit 0."""

    def strip(fp: Fingerprint) -> Fingerprint:
        return Fingerprint.from_dict({**fp.to_dict(), "tokens": None, "tokenizer": None})

    r = compare(strip(tiny["wp_heal"]), strip(tiny["parent"]))
    assert r.verdict == "insufficient", (r.verdict, r.summary)
    assert DECIDE_TOKENIZER in r.decide and DECIDE_ACTIVATIONS in r.decide


# -- the bundled real model -----------------------------------------------------------------


@pytest.fixture(scope="module")
def real(
    real_models: dict[str, Path],
    variants: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> FingerprintCache:
    base = tmp_path_factory.mktemp("l6width")
    l6 = real_models["minilm-l6"]
    prune = {"hidden": 320, "intermediate": 1024, "kv_groups": 10}
    made = {
        "l6-wp": T.width_prune(l6, base / "wp", **prune),
        "l6-wp-depth-heal": T.compose(
            l6,
            base / "wpdh",
            [
                (T.width_prune, prune),
                (T.select_layers, {"order": [0, 2, 4, 5]}),
                (T.add_noise, {"scale": 0.02, "seed": 1}),
            ],
        ),
        "l6-rot": T.rotate(l6, base / "rot", seed=3),
        "l6-rot-noise": T.compose(
            l6, base / "rotn", [(T.rotate, {"seed": 3}), (T.add_noise, {"scale": 0.02})]
        ),
        "rand1-rot": T.rotate(variants["rand1"], base / "r1rot", seed=4),
        "rand1-wp": T.width_prune(variants["rand1"], base / "r1wp", **prune),
    }
    return FingerprintCache({**real_models, **variants, **made})


@pytest.mark.parametrize("child", ["l6-wp", "l6-wp-depth-heal"])
def test_width_pruned_minilm_is_related(real: FingerprintCache, child: str) -> None:
    r = compare(real(child), real("minilm-l6"))
    assert r.related is True and r.verdict == "derived_surgery", (r.verdict, r.summary)
    assert "width-pruned" in r.reason and "hidden size 384 -> 320" in r.reason, r.reason


@pytest.mark.parametrize("child", ["l6-rot", "l6-rot-noise"])
def test_rotated_minilm_is_related(real: FingerprintCache, child: str) -> None:
    r = compare(real(child), real("minilm-l6"))
    assert r.related is True and r.verdict == "derived_surgery", (r.verdict, r.summary)
    assert "rotated" in r.reason, r.reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("rand1-rot", "minilm-l6"),
        ("l6-rot", "rand2"),
        ("rand1-wp", "minilm-l6"),
        ("l6-wp", "rand2"),
    ],
)
def test_transformed_random_inits_stay_unrelated(real: FingerprintCache, a: str, b: str) -> None:
    r = compare(real(a), real(b))
    assert r.related is not True, (a, b, r.verdict, r.summary)
    for name in ("subset_matching", "rotation_matching"):
        p = _p(r, name)
        assert p is None or p > NULL_ALPHA, (a, b, name, p)
