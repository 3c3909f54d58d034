"""Finding 0 of issue 19, point by point, on arrays whose law is known.

The false accusation came from four faults: a variance inflation pooled over all roles
while one vocabulary-indexed matrix had ~64 effective values instead of 2,048 (tokens a
model never sees collapse onto one direction); one matrix deciding alone; a two-sided
depth-profile test that counted interpolated points as data; and a Cauchy combination
that one test at p = 1 vetoed (``test_independent_training.py`` checks the last one and
the real trained pair). Each test below fails on the engine that made the accusation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import pack
from modelkin.forensics import compare
from modelkin.forensics.params import parameter_test, role_test
from modelkin.forensics.profile import profile_test
from modelkin.forensics.stats import fisher_z, pearson, two_sided

VOCAB, HIDDEN, UNUSED = 256, 64, 94


def _output_matrix(rng: np.random.Generator) -> np.ndarray:
    """An output matrix of an independently trained model: used tokens' rows are the
    model's own, the rows of tokens it never saw collapse onto one direction of *its*
    hidden space (a direction another independent model does not share)."""
    w = rng.normal(size=(VOCAB, HIDDEN))
    direction = rng.normal(size=HIDDEN)
    scale = 3.0 + 0.1 * rng.normal(size=(UNUSED, 1))
    w[-UNUSED:] = scale * direction + 0.1 * rng.normal(size=(UNUSED, HIDDEN))
    return w


def test_collapsed_rows_keep_the_per_role_null_valid() -> None:
    """Independent pairs of such matrices: the iid Fisher-z tail (the pooled-inflation
    engine's null) fires far beyond its level; the per-role permutation null along the
    hidden axis stays at its level."""
    rng = np.random.default_rng(19)
    draws = 200
    naive, perm = [], []
    for _ in range(draws):
        a, b = _output_matrix(rng), _output_matrix(rng)
        naive.append(two_sided(fisher_z(pearson(a, b), a.size)))
        row = role_test(a, b, "lm_head", "lm_head.weight")
        assert row is not None and row["axis"] == "columns"
        perm.append(row["p"])
    # the hazard is real: the iid null rejects a large share of independent pairs
    assert np.mean(np.asarray(naive) <= 1e-3) > 0.3
    # the permutation null holds its level (99.9 % binomial bound) and is uniform
    bound = stats.binom.ppf(0.999, draws, 0.01) / draws
    assert np.mean(np.asarray(perm) <= 0.01) <= bound
    assert stats.kstest(perm, "uniform", alternative="greater").pvalue > 1e-3


def _role(kind: str, layer: int | None, a: np.ndarray, shape: list[int]) -> dict[str, Any]:
    return {
        "kind": kind,
        "layer": layer,
        "param": "weight",
        "shape": shape,
        "dtype": "F32",
        "quantized": False,
        "stats": {"std": float(a.std())},
        "sample": pack(a),
    }


def _fp(name: str, roles: dict[str, dict[str, Any]], layers: int) -> Fingerprint:
    return Fingerprint.from_dict(
        {
            "version": 3,
            "mode": "fast",
            "seed": 0,
            "format": "safetensors",
            "name": name,
            "files": {},
            "structure": {"num_layers": layers, "hidden_size": HIDDEN, "digest": name},
            "tokenizer": None,
            "roles": roles,
        }
    )


def test_one_matrix_never_decides_alone() -> None:
    """A copied output matrix next to independent per-layer matrices: the copied role's
    own p is tiny, but a majority of roles must agree, so the pair is not related."""
    rng = np.random.default_rng(5)
    head = rng.normal(size=(32, HIDDEN))

    def roles() -> dict[str, dict[str, Any]]:
        out = {"lm_head.weight": _role("lm_head", None, head, [VOCAB, HIDDEN])}
        for i in range(2):
            for k in ("mlp_up", "mlp_gate"):
                a = rng.normal(size=(32, HIDDEN))
                out[f"L{i}.{k}.weight"] = _role(k, i, a, [4 * HIDDEN, HIDDEN])
        return out

    s, c = _fp("s", roles(), 2), _fp("c", roles(), 2)
    ev = parameter_test(s, c)
    by_role = {r["role"]: r["p"] for r in ev.details["roles"]}
    assert by_role["lm_head.weight"] < 1e-3
    assert ev.p_value is not None and ev.p_value > 1e-3
    assert compare(s, c).related is not True


def _curves(values: np.ndarray, name: str) -> Fingerprint:
    """A fingerprint whose per-layer roles have standard deviations ``values[layer]``."""
    roles = {}
    for i, v in enumerate(values):
        a = np.random.default_rng(i).normal(size=(8, 8))
        a *= v / a.std()
        roles[f"L{i}.mlp_up.weight"] = _role("mlp_up", i, a, [4 * HIDDEN, HIDDEN])
    return _fp(name, roles, len(values))


def test_depth_profile_is_descriptive_one_sided_and_counts_real_layers() -> None:
    """6 real layers against 28: the curve is read at 6 points, never the 28 interpolated
    ones; anti-correlated curves are no evidence of derivation (one-sided); and the test
    never enters the combination."""
    x = np.linspace(0, 1, 6)
    s = _curves(1.0 + x, "six")
    c = _curves(2.0 - np.linspace(0, 1, 28), "twenty-eight")
    ev = profile_test(s, c)
    assert ev.statistic is not None and ev.statistic < -0.9
    assert ev.details["real_layers_compared"] == 6
    assert ev.null["points"] == 6
    assert ev.details["naive_one_sided_p"] > 0.5
    assert ev.p_value is None and not ev.combine
    same = profile_test(s, _curves(1.0 + np.linspace(0, 1, 28), "same-shape"))
    assert same.statistic is not None and same.statistic > 0.99
    # even a perfect curve match never decides: it has no valid null
    assert same.p_value is None and not same.combine


def test_same_seed_shares_the_init_across_mlp_widths() -> None:
    """Why every model of the null study has its own seed: two synth llamas built with the
    same seed share their vocabulary matrices' initialisation even when their MLP widths
    differ (the seeded stream starts with those tensors), so they are related by
    construction: "independent twins of different width" built from one seed index
    (combined p = 3.8e-13 in a lost run) were a correct detection, not a false one."""
    from dataclasses import replace

    import torch

    from modelkin_dev.synth import models, specs

    spec = specs.LlamaSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1)
    a = dict(models.build(spec, 7).named_parameters())
    b = dict(models.build(replace(spec, intermediate_size=96), 7).named_parameters())
    c = dict(models.build(spec, 8).named_parameters())
    assert torch.equal(a["lm_head.weight"], b["lm_head.weight"])
    assert torch.equal(a["model.embed_tokens.weight"], b["model.embed_tokens.weight"])
    assert not torch.equal(a["lm_head.weight"], c["lm_head.weight"])
