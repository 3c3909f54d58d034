"""Test 2: direct parameter similarity of aligned samples.

The seeded samples of the same role (same kind, same shape, same positions) are
correlated. Under H0 the cells of two independently trained models are unrelated, so the
correlation of ``n`` cell pairs has Fisher z ~ N(0, 1); the z is deflated by the
misaligned-pair background (:mod:`modelkin.forensics.background`). Global roles are always
compared; per-layer roles only when both models have the same depth (otherwise layer
alignment, test 4, pairs the layers). Bonferroni over the roles compared.
"""

from __future__ import annotations

from typing import Any

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import comparable, num_layers, sample
from modelkin.forensics.background import inflation, misaligned_correlations
from modelkin.forensics.evidence import Evidence
from modelkin.forensics.stats import bonferroni, fisher_z, pearson, two_sided


def role_pairs(s: Fingerprint, c: Fingerprint) -> list[str]:
    """Role keys comparable in both fingerprints at the same position."""
    same_depth = num_layers(s) == num_layers(c)
    out = []
    for key, r in s.roles.items():
        o = c.roles.get(key)
        if o is None or not comparable(r) or r["shape"] != o["shape"]:
            continue
        if r["layer"] is not None and not same_depth:
            continue
        out.append(key)
    return sorted(out)


def parameter_test(s: Fingerprint, c: Fingerprint) -> Evidence:
    keys = role_pairs(s, c) if s.seed == c.seed else []
    if not keys:
        why = (
            "no role with the same shape at the same position"
            if s.seed == c.seed
            else f"fingerprints use different seeds ({s.seed} vs {c.seed}): samples differ"
        )
        return Evidence(
            name="parameter_similarity",
            statistic=None,
            p_value=None,
            null={"description": "Fisher z of aligned-sample correlation"},
            details={"skipped": why},
            meaning="Correlation of weights at the same positions.",
            limits="Needs equal shapes; unit permutations hide it (see unit_matching).",
        )
    rows: list[dict[str, Any]] = []
    bg: list[float] = []
    n_cells = 0
    for key in keys:
        a, b = sample(s, key), sample(c, key)
        bg.extend(misaligned_correlations(a, b))
        n_cells = max(n_cells, a.size)
        rows.append({"role": key, "r": pearson(a, b), "n": int(a.size)})
    infl = inflation(bg, n_cells)
    ps = []
    for row in rows:
        row["z"] = fisher_z(row["r"], row["n"], infl)
        row["p"] = two_sided(row["z"])
        ps.append(row["p"])
    best = max(rows, key=lambda x: abs(x["z"]))
    return Evidence(
        name="parameter_similarity",
        statistic=best["z"],
        p_value=bonferroni(ps),
        null={
            "description": "Fisher z of the Pearson correlation of n aligned cells, "
            "rescaled by the variance inflation of misaligned (unrelated) pairs; "
            "Bonferroni over roles",
            "inflation": infl,
            "background_mean_r": float(sum(bg) / len(bg)) if bg else None,
            "background_samples": [round(x, 4) for x in bg[:200]],
            "tests": len(ps),
        },
        details={"roles": rows},
        plot={"bars": [[r["role"], r["r"]] for r in rows]},
        meaning="Derived models keep their parent's weights at the same positions: the "
        "correlation stays far above what unrelated models show.",
        limits="Permuting units or re-initialising layers hides it; roles of different "
        "shapes cannot be compared.",
    )
