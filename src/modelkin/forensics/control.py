"""The positive control behind every independence verdict: did the tests have power?

Failing to reject "trained independently" says nothing unless the tests *could* have
rejected on this pair: a pair that shares only a handful of comparable cells, or only
tests whose p-values cannot reach the decision threshold, proves nothing either way. So
before ``unrelated`` is said, the same tests are run on a control pair built from the pair
itself: the candidate against a **copy of the candidate perturbed by Gaussian noise of
:data:`POWER_NOISE` times each stored array's standard deviation, laid out with the
suspect's structure** (the suspect's depth, role set, stored units and sampled tokens;
the candidate's values wherever the two overlap, read at the same relative depth when
depths differ). The tests had power on this pair when that control is called related
(combined p <= the related threshold). Otherwise the verdict is ``insufficient``.

What the control covers: derivatives that keep the candidate's weights up to noise at
least as strong as the control's (fine-tunes, drift, pruning, re-ordering), on the cells
this pair shares. It says nothing about transformations the tests are blind to (a rotated
hidden space defeats every test that assumes a shared basis): those need their own tests.
"""

from __future__ import annotations

import copy
import zlib
from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import pack, unpack
from modelkin.forensics.access import num_layers

#: Relative noise of the control copy: 0.5 leaves a correlation of 0.89 with the
#: candidate, i.e. more change than any fine-tune or drift of the calibration set.
POWER_NOISE = 0.5
#: Fingerprint fields that describe identity and provenance, not weights: never copied.
_OWN_FIELDS = frozenset(
    {"version", "mode", "seed", "format", "name", "files", "structure", "tokenizer", "notes"}
)


def _noised(d: Any, rng: np.random.Generator, noise: float) -> Any:
    """A copy of ``d`` with every packed float16 array perturbed (recursively)."""
    if isinstance(d, dict):
        if d.get("dtype") == "f16" and "b64" in d:
            a = unpack(d, "control").astype(np.float64)
            sd = float(a.std()) if a.size else 0.0
            return pack(a + noise * sd * rng.standard_normal(a.shape))
        return {k: _noised(v, rng, noise) for k, v in d.items()}
    if isinstance(d, list):
        return [_noised(v, rng, noise) for v in d]
    return copy.deepcopy(d)


def _depth_map(ns: int, nc: int) -> dict[int, int]:
    """Suspect layer -> candidate layer at the same relative depth."""
    if ns <= 0 or nc <= 0:
        return {}
    if ns == 1:
        return {0: 0}
    return {i: round(i * (nc - 1) / (ns - 1)) for i in range(ns)}


def _layer_of(key: str) -> tuple[int | None, str]:
    if key.startswith("L") and "." in key:
        head, rest = key.split(".", 1)
        if head[1:].isdigit():
            return int(head[1:]), rest
    return None, key


def control_copy(s: Fingerprint, c: Fingerprint, noise: float = POWER_NOISE) -> Fingerprint:
    """The candidate's values, perturbed, in the suspect's layout (see module doc)."""
    rng = np.random.default_rng([zlib.crc32(c.digest().encode()), int(noise * 1e6)])
    out = copy.deepcopy(s.to_dict())
    out["name"] = f"control: {c.name} + {noise:g} relative noise"
    out["files"] = {}
    out["tensors"] = {}
    depth = _depth_map(num_layers(s), num_layers(c))
    roles: dict[str, Any] = {}
    for key, role in s.roles.items():
        layer, rest = _layer_of(key)
        src_key = key if layer is None else f"L{depth.get(layer, layer)}.{rest}"
        src = c.roles.get(src_key)
        if src is None or src.get("shape") != role.get("shape"):
            roles[key] = copy.deepcopy(role)
            continue
        new = _noised(src, rng, noise)
        new["layer"] = role["layer"]
        new.pop("grid", None)  # noised values lie on no quantization lattice
        roles[key] = new
    out["roles"] = roles
    units: dict[str, Any] = {}
    for key, u in s.units.items():
        src_u = c.units.get(str(depth.get(int(key), int(key)))) if key.isdigit() else None
        units[key] = _noised(src_u, rng, noise) if src_u is not None else copy.deepcopy(u)
    out["units"] = units
    if s.tokens and c.tokens:
        out["tokens"] = _control_tokens(s.tokens, c.tokens, rng, noise)
    done = _OWN_FIELDS | {"roles", "units", "tokens", "tensors"}
    for key, value in c.to_dict().items():  # fields added by later fingerprint versions
        if key not in done and value is not None and out.get(key) is not None:
            out[key] = _noised(value, rng, noise)
    return Fingerprint.from_dict(out, "power control")


def _control_tokens(
    st: dict[str, Any], ct: dict[str, Any], rng: np.random.Generator, noise: float
) -> dict[str, Any]:
    """The suspect's sampled tokens, with the candidate's (noised) row for every token
    both stored."""
    try:
        rs = unpack(st.get("rows"), "suspect tokens")
        rc = unpack(ct.get("rows"), "candidate tokens")
    except Exception:  # malformed or absent rows: keep the suspect's
        return copy.deepcopy(st)
    if rs.ndim != 2 or rc.ndim != 2 or rs.shape[1] != rc.shape[1]:
        return copy.deepcopy(st)
    where = {h: i for i, h in enumerate(ct.get("hashes") or [])}
    rows = rs.astype(np.float64).copy()
    sd = float(rc.std()) if rc.size else 0.0
    for i, h in enumerate(st.get("hashes") or []):
        j = where.get(h)
        if j is not None and j < rc.shape[0] and i < rows.shape[0]:
            rows[i] = rc[j] + noise * sd * rng.standard_normal(rc.shape[1])
    return {**copy.deepcopy(st), "rows": pack(rows)}
