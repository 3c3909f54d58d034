"""Descriptive evidence: per-head attention spectra of aligned layers.

The sorted per-head singular values of W_q W_k^T and W_o W_v survive head permutations
and any change of basis inside a head. Derived models keep them nearly unchanged; but
models of the same architecture and recipe have similar spectra too, so there is no valid
null for "independent training": this evidence is shown, not counted.
"""

from __future__ import annotations

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.evidence import Evidence


def _vec(block: dict[str, list[list[float]]]) -> np.ndarray:
    return np.log(np.maximum(np.asarray(block["qk"] + block["ov"], dtype=np.float64), 1e-12))


def spectra_test(s: Fingerprint, c: Fingerprint, pairs: list[tuple[int, int]]) -> Evidence:
    tested = [
        (i, j)
        for i, j in pairs
        if "heads" in s.units.get(str(i), {}) and "heads" in c.units.get(str(j), {})
    ]
    if not tested:
        tested = [
            (int(i), int(i))
            for i in s.units
            if "heads" in s.units[i] and "heads" in c.units.get(i, {})
        ]
    rows = []
    for i, j in tested:
        a, b = _vec(s.units[str(i)]["heads"]), _vec(c.units[str(j)]["heads"])
        if a.shape != b.shape:
            continue
        rows.append(
            {
                "suspect_layer": i,
                "candidate_layer": j,
                "max_abs_log_ratio": float(np.abs(a - b).max()),
            }
        )
    if not rows:
        return Evidence(
            name="attention_spectra",
            statistic=None,
            p_value=None,
            null={"description": "none valid (descriptive)"},
            details={"skipped": "no layer with head spectra of equal shape in both"},
            meaning="Per-head attention spectra, invariant to head order.",
            limits="Descriptive only.",
            combine=False,
        )
    stat = float(np.median([r["max_abs_log_ratio"] for r in rows]))
    return Evidence(
        name="attention_spectra",
        statistic=stat,
        p_value=None,
        null={"description": "none valid: same-recipe models have similar spectra"},
        details={"layers": rows},
        plot={
            "bars": [
                [
                    f"L{r['suspect_layer']}~L{r['candidate_layer']}",
                    float(np.exp(-r["max_abs_log_ratio"])),
                ]
                for r in rows
            ]
        },
        meaning="The singular values of each attention head's query-key and output-value "
        "circuits, heads sorted: equal (ratio near 1) for copies, permuted or not.",
        limits="Descriptive, not counted: a shared architecture and recipe give similar "
        "spectra; fine-tuning changes them a little.",
        combine=False,
    )
