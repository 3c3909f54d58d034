"""Independence needs power: a pair whose comparable cells could not reveal even a
noised copy is ``insufficient``, never ``unrelated``."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import pack
from modelkin.forensics import compare
from modelkin.forensics.control import control_copy


def _fp(name: str, samples: dict[str, np.ndarray], hidden: int) -> Fingerprint:
    """A fingerprint holding only per-layer MLP samples (two layers)."""
    roles: dict[str, Any] = {}
    for key, a in samples.items():
        layer, kind = int(key[1]), key.split(".")[1]
        roles[key] = {
            "kind": kind,
            "layer": layer,
            "param": "weight",
            "shape": [4 * hidden, hidden],
            "dtype": "F32",
            "quantized": False,
            "stats": {"std": float(a.std())},
            "sample": pack(a),
        }
    return Fingerprint.from_dict(
        {
            "version": 3,
            "mode": "fast",
            "seed": 0,
            "format": "safetensors",
            "name": name,
            "files": {},
            "structure": {"num_layers": 2, "hidden_size": hidden, "digest": name},
            "tokenizer": None,
            "roles": roles,
        }
    )


def _model(rng: np.random.Generator, hidden: int) -> dict[str, np.ndarray]:
    return {
        f"L{i}.{k}.weight": rng.normal(size=(32, hidden))
        for i in range(2)
        for k in ("mlp_up", "mlp_gate")
    }


def test_independent_with_power_is_unrelated() -> None:
    rng = np.random.default_rng(0)
    s, c = _fp("s", _model(rng, 64), 64), _fp("c", _model(rng, 64), 64)
    r = compare(s, c)
    assert r.verdict == "unrelated" and r.power is not None and r.power["passed"]
    assert "parameter_similarity" in r.power["powered_tests"]
    assert "powered-null" in r.reason


def test_too_few_hidden_units_abstain() -> None:
    """Eight hidden units per matrix: a permutation test cannot reach 1e-6 even on an
    exact copy, so neither 'related' nor 'unrelated' may be said."""
    rng = np.random.default_rng(1)
    sv, cv = _model(rng, 8), _model(rng, 8)
    s, c = _fp("s", sv, 8), _fp("c", cv, 8)
    r = compare(s, c)
    assert r.verdict == "insufficient" and r.related is None
    assert r.power is not None and not r.power["passed"] and r.decide
    # exact permutation p-values cannot go below 1/8! here: even a copy is undecidable
    copy = compare(_fp("copy", {k: v * 1.01 for k, v in cv.items()}, 8), c)
    assert copy.verdict == "insufficient"
    params = copy.get("parameter_similarity")
    assert params is not None and params.p_value is not None and params.p_value >= 1 / 40320


def test_control_copy_has_the_suspects_layout() -> None:
    rng = np.random.default_rng(2)
    s, c = _fp("s", _model(rng, 64), 64), _fp("c", _model(rng, 64), 64)
    ctrl = control_copy(s, c, 0.5)
    assert set(ctrl.roles) == set(s.roles) and ctrl.files == {}
    from modelkin.forensics.access import sample
    from modelkin.forensics.stats import pearson

    r = pearson(sample(ctrl, "L0.mlp_up.weight"), sample(c, "L0.mlp_up.weight"))
    assert 0.8 < r < 0.95  # 1 / sqrt(1 + 0.5^2) = 0.89
