"""Decoded views of fingerprint fields, shared by the tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack


def sample(fp: Fingerprint, key: str) -> np.ndarray:
    """The seeded sample of role ``key`` as float32."""
    return unpack(fp.roles[key]["sample"], f"{fp.name}: role {key}")


def comparable(role: dict[str, Any]) -> bool:
    """Roles whose values are centred enough for correlation tests.

    Norm weights sit near 1 (or 0 for zero-centred variants) for every model, so their
    correlation says nothing about lineage: they are excluded, as are 1-D biases."""
    return "norm" not in role["kind"] and len(role["shape"]) >= 2


def layer_kinds(fp: Fingerprint) -> dict[str, tuple[int, ...]]:
    """Comparable per-layer role (``kind.param``) -> shape, taken from layer 0."""
    out: dict[str, tuple[int, ...]] = {}
    for r in fp.roles.values():
        if r["layer"] == 0 and comparable(r):
            out[f"{r['kind']}.{r['param']}"] = tuple(r["shape"])
    return out


def num_layers(fp: Fingerprint) -> int:
    layers = [r["layer"] for r in fp.roles.values() if r["layer"] is not None]
    return max(layers) + 1 if layers else 0


def role_key(layer: int | None, kp: str) -> str:
    return f"L{layer}.{kp}" if layer is not None else kp
