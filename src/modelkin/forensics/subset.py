"""Subset matching: a width-pruned model keeps a *subset* of its parent's hidden
dimensions, MLP units and heads (Minitron, Sheared-LLaMA, LLM-Pruner).

Width pruning removes residual-stream (hidden) dimensions, MLP units and attention heads
ranked by importance, often with depth pruning and a healing fine-tune after it. The
surviving rows and columns are the parent's own, so whole-matrix comparisons fail (the
shapes differ) while a subset comparison does not:

1. **Hidden dimensions** are matched from the embeddings only: the token-keyed embedding
   rows both fingerprints store are full-width vectors of the same tokens, so column
   ``j`` of the narrower model's rows is column ``sigma(j)`` of the wider model's rows.
   A rectangular linear assignment on the column correlations recovers the injective map
   ``sigma`` (the parent dimensions that survived).
2. **MLP units** are matched as in :mod:`.units` (Zhu et al. 2025): the wider model's
   full-width unit features (``a_full``/``b_full``) are read at ``sigma`` of the narrower
   model's stored hidden dimensions; its units are matched into *all* of the narrower
   model's units twice, by two different descriptions (up row, and gate row or down
   column). Under H0 (independent training) the narrower model's units are exchangeable,
   and permuting them leaves its embeddings (hence ``sigma``) unchanged, so the agreement
   of the two matchings is ~ Poisson(m / n) whatever ``sigma`` is; a pruned child's
   surviving units agree with their parent units.
3. **Depth**: every stored layer of one model is tried against every stored layer of the
   other (pruned layers leave gaps), Bonferroni over the pairs tried; the pairs that
   agree are the layer map.

Heads are not matched here (their stored circuits sit on hidden dimensions chosen per
width); a changed head count is named from the structure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.fingerprint.arrays import unpack
from modelkin.fingerprint.sampling import hidden_subset
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.hidden import MAX_HIDDEN, shared_token_rows, zcols
from modelkin.forensics.numerics import linear_sum_assignment
from modelkin.forensics.stats import METHOD_POISSON, P_FLOOR, PValue, bonferroni, poisson_tail
from modelkin.forensics.units import MATCHED_UNITS, agreement

#: Mean correlation of the matched hidden columns below which no dimension has a clear
#: partner (independent embeddings give ~0.3 over 128 tokens): the unit matching is then
#: not run. The decision reads the embeddings only, so it costs the unit test nothing.
MIN_MAP_QUALITY = 0.5
#: Layer pairs tried at most (every stored layer against every stored layer).
MAX_LAYER_PAIRS = 64
#: A layer pair's own p-value at or below which it enters the reported layer map.
MAP_P = 1e-3

_NAME = "subset_matching"
_MEANING = (
    "The narrower model's hidden dimensions and MLP neurons are a subset of the wider "
    "model's: what width pruning (Minitron, Sheared-LLaMA, LLM-Pruner) leaves behind."
)
_LIMITS = (
    "Needs shared tokens (hidden dimensions are matched through the embedding rows) and "
    "full-width unit features in the wider model's fingerprint; a rotated residual "
    "stream or heavy retraining after pruning removes the signal."
)
_NULL = (
    "agreement of two matchings (up rows; gate rows or down columns) of the wider "
    "model's units into the narrower model's exchangeable units, read on the hidden "
    "dimensions the embeddings map between them: Poisson(m/n) per layer pair; "
    "Bonferroni over the layer pairs tried"
)


def hidden_subset_map(narrow: Fingerprint, wide: Fingerprint) -> tuple[np.ndarray, float] | None:
    """``(sigma, quality)``: narrow hidden dim ``j`` is wide dim ``sigma[j]``; quality is
    the mean correlation of the matched columns over the shared tokens (1 for a pruned
    copy). None when the models share too few tokens or the narrower is not narrower."""
    rows = shared_token_rows(narrow, wide)
    if rows is None:
        return None
    a, b = zcols(rows[0]), zcols(rows[1])
    if a.shape[1] >= b.shape[1] or b.shape[1] > MAX_HIDDEN:
        return None
    corr = a.T @ b
    r, cols = linear_sum_assignment(corr, maximize=True)
    sigma = np.empty(a.shape[1], dtype=np.int64)
    sigma[r] = cols
    return sigma, float(corr[r, cols].mean())


def _skip(why: str, details: dict[str, Any] | None = None) -> Evidence:
    return Evidence(
        name=_NAME,
        statistic=None,
        p_value=None,
        null={"description": _NULL},
        details={"skipped": why, **(details or {})},
        meaning=_MEANING,
        limits=_LIMITS,
    )


def _layer_pairs(wide: Fingerprint, narrow: Fingerprint) -> list[tuple[int, int]]:
    """(wide layer, narrow layer) pairs with comparable unit features, spread evenly when
    there are more than :data:`MAX_LAYER_PAIRS`."""
    pairs = []
    for i, wu in sorted(wide.units.items(), key=lambda kv: int(kv[0])):
        if "a_full" not in wu or "b_full" not in wu:
            continue
        for j, nu in sorted(narrow.units.items(), key=lambda kv: int(kv[0])):
            if nu.get("pair") == wu.get("pair"):
                pairs.append((int(i), int(j)))
    if len(pairs) > MAX_LAYER_PAIRS:
        pairs = [pairs[round(x)] for x in np.linspace(0, len(pairs) - 1, MAX_LAYER_PAIRS)]
    return pairs


def subset_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    """Run the subset matching on a pair whose hidden sizes differ (see module doc)."""
    hs, hc = s.structure.get("hidden_size"), c.structure.get("hidden_size")
    if not isinstance(hs, int) or not isinstance(hc, int) or hs == hc:
        return _skip("same hidden size: unit_matching compares the units directly")
    if not (s.units and c.units) or s.seed != c.seed:
        return _skip("no unit features in one fingerprint, or different seeds")
    wide, narrow = (s, c) if hs > hc else (c, s)
    found = hidden_subset_map(narrow, wide)
    if found is None:
        return _skip("too few shared tokens to map hidden dimensions between the widths")
    sigma, quality = found
    base = {
        "wider": "suspect" if wide is s else "candidate",
        "hidden": {
            "narrow": int(narrow.structure["hidden_size"]),
            "wide": int(wide.structure["hidden_size"]),
        },
        "map_quality": round(quality, 4),
    }
    if quality < MIN_MAP_QUALITY:
        return _skip(
            f"the narrower model's hidden dimensions have no clear partners in the wider "
            f"model's embeddings (mean matched correlation {quality:.2f} < {MIN_MAP_QUALITY})",
            base,
        )
    rows = []
    for i, j in _layer_pairs(wide, narrow):
        wu, nu = wide.units[str(i)], narrow.units[str(j)]
        na, nb = unpack(nu["a"], "narrow units"), unpack(nu["b"], "narrow units")
        fa, fb = unpack(wu["a_full"], "wide units"), unpack(wu["b_full"], "wide units")
        if na.ndim != 2 or na.shape != nb.shape or fa.ndim != 2 or fa.shape != fb.shape:
            continue
        if fa.shape[1] != wide.structure["hidden_size"]:
            continue
        dims = hidden_subset(narrow.seed, sigma.shape[0], na.shape[1])
        if dims.shape[0] != na.shape[1]:
            continue
        wa, wb = fa[:, sigma[dims]], fb[:, sigma[dims]]
        k, m, _moved = agreement(wa, wb, na, nb)
        used, units_n = min(wa.shape[0], MATCHED_UNITS), na.shape[0]
        mu = used / units_n if used <= units_n else units_n / used
        rows.append(
            {
                "wide_layer": i,
                "narrow_layer": j,
                "fixed_points": k,
                "units": m,
                "p": poisson_tail(k, mu),
            }
        )
    if not rows:
        return _skip("no layer pair with comparable unit features", base)
    best = max(rows, key=lambda r: r["fixed_points"])
    layer_map = sorted(
        ((r["wide_layer"], r["narrow_layer"]) for r in rows if r["p"] <= MAP_P),
        key=lambda t: t[1],
    )
    details = base | {
        "pairs": rows,
        "layer_map": [list(t) for t in layer_map],
        "kept_dims": int(sigma.shape[0]),
    }
    return Evidence(
        name=_NAME,
        statistic=float(best["fixed_points"]),
        p_value=None,
        null={"description": _NULL, "tests": len(rows)},
        details=details,
        plot={
            "bars": [
                [f"W{r['wide_layer']}~N{r['narrow_layer']}", r["fixed_points"] / max(1, r["units"])]
                for r in rows
            ]
        },
        meaning=_MEANING,
        limits=_LIMITS,
    ).set_p(PValue(bonferroni([r["p"] for r in rows]), P_FLOOR, METHOD_POISSON))


def pruned_text(ev: Evidence, s: Fingerprint, c: Fingerprint) -> str:
    """What was pruned, for the verdict's reason (the wider model is the parent)."""
    d = ev.details
    wide, narrow = (s, c) if d.get("wider") == "suspect" else (c, s)
    parts = [
        f"hidden size {wide.structure.get('hidden_size')} -> {narrow.structure.get('hidden_size')}"
    ]
    for key, label in (
        ("intermediate_size", "MLP units"),
        ("num_heads", "attention heads"),
        ("num_layers", "layers"),
    ):
        a, b = wide.structure.get(key), narrow.structure.get(key)
        if a is not None and b is not None and a != b:
            parts.append(f"{label} {a} -> {b}")
    who = "suspect" if narrow is s else "candidate"
    return f"width-pruned ({who} keeps a subset of the other's hidden dimensions and MLP units: {', '.join(parts)})"
