"""Merge decomposition: which of several candidate parents a model was merged from, with
what weights, and each parent's p-value.

A merge of same-shape parents (model soups, SLERP, task arithmetic, TIES, DARE; the
recipes mergekit applies) is, tensor by tensor, a combination of the parents' values:
``C = sum_i w_i P_i`` for linear merges, ``C = a A + b B`` with ``a + b > 1`` for SLERP
(``a = sin((1-t) theta) / sin theta``), and ``C = B + sum_i w_i tau_i`` (task vectors
``tau_i = P_i - B``, sparsified per cell by TIES/DARE) when the parents share a base ``B``.
So the seeded samples of every role (same positions in every fingerprint of one seed) are
regressed on the parents' samples by least squares, per role: the coefficients are the
mixing weights (their median over roles is reported, with the per-role table).

**Each parent's p-value** tests H0 "parent ``i`` was trained independently of the child
and of the other parents". Its statistic is the partial correlation of the child and
parent ``i`` given the *other* parents: both samples projected off the others' span, then
correlated. Under H0 the law of ``P_i`` is unchanged by permuting its hidden
(residual-stream) units while the child and the other parents stay fixed, so recomputing
the statistic with ``pi P_i`` over random permutations ``pi`` gives an exact Monte Carlo
p-value (Zhu et al. 2025; the same exchangeability as ``parameter_similarity``), with the
normal tail of the draws beyond their reach, combined over roles by Rüger's rule with a
majority of roles required to agree. Projecting each permuted copy afresh keeps the power
for parents that are nearly parallel (a model and its fine-tune in one merge). A parent that only
shares what every model shares, or whose contribution the other parents already explain,
gets a large p; the fine-tune of one parent is therefore never called a merge of an
unrelated second one. With a base (task-vector merges of siblings) the permuted sample is
the task vector ``P_i - B``: siblings fine-tuned from one base are not independent, so
that null is approximate and the report says so.

**The method** is read off the fit, descriptively: ``ties/dare`` when many more sampled
cells of the child equal the base exactly than any parent's do (sparsified task vectors);
``slerp`` when two parents' coefficients sum to what SLERP predicts for their angle and
not to 1; otherwise ``linear`` (task arithmetic with a base).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelkin.fingerprint import Fingerprint
from modelkin.forensics.access import comparable, num_layers, sample
from modelkin.forensics.numerics import norm_sf
from modelkin.forensics.params import residual_axis
from modelkin.forensics.stats import (
    METHOD_ASYMPTOTIC,
    METHOD_MC,
    PERMUTATIONS,
    PValue,
    agreement_rank,
    p_text,
    permutation_floor,
    ruger,
)

#: A parent is part of the merge when its p-value is at most this (the engine's related
#: threshold, :data:`modelkin.forensics.verdict.RELATED_P`).
MERGE_P = 1e-6
#: Child cells equal to the base beyond the parents' own share that mark sparsified task
#: vectors (TIES trims, DARE drops most task-vector cells: the child keeps the base there).
SPARSE_EXCESS = 0.1
#: SLERP is told from linear only when its predicted coefficient sum exceeds 1 by this
#: much (nearly parallel parents make the two the same merge).
SLERP_MIN_EXCESS = 0.02

MERGE_VERDICTS = ("merge", "derived", "no_parent", "insufficient")

_NULL = (
    "per parent and role: partial correlation of child and parent given the other parents, "
    "against the same with the parent's hidden (residual-stream) units randomly permuted "
    "(exact under independent training of that parent; 999 seeded Monte Carlo "
    "permutations, normal tail of their distribution beyond them); roles combined by "
    "Rüger's rule (a majority must agree)"
)
_NULL_BASE = (
    "per parent and role: partial correlation of the child's and the parent's task vectors "
    "(minus the base) given the other parents' task vectors, against the same with the "
    "task vector's hidden units permuted; approximate: siblings fine-tuned from one base "
    "are not independent; roles combined by Rüger's rule (a majority must agree)"
)


@dataclass
class ParentResult:
    """One candidate parent: its estimated weight, p-value and whether it is in the merge."""

    name: str
    weight: float | None
    p_value: float | None
    p_floor: float | None
    p_method: str | None
    z: float | None
    in_merge: bool
    roles: int
    pairwise: dict[str, Any] | None = None

    @property
    def p_text(self) -> str:
        return p_text(self.p_value, self.p_floor, self.p_method)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "p_value": self.p_value,
            "p_floor": self.p_floor,
            "p_method": self.p_method,
            "p_text": self.p_text,
            "median_z": self.z,
            "in_merge": self.in_merge,
            "roles_tested": self.roles,
            "pairwise": self.pairwise,
        }


@dataclass
class MergeReport:
    """The decomposition of ``child`` over candidate ``parents`` (JSON: :meth:`to_dict`).

    ``verdict``: ``merge`` (two or more parents significant), ``derived`` (exactly one:
    not a merge of the others), ``no_parent`` (none significant, each pairwise comparison
    an independence verdict with power), ``insufficient`` (otherwise)."""

    verdict: str
    method: str | None
    child: str
    parents: list[ParentResult]
    base: str | None
    summary: str
    reason: str = ""
    roles: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)
    null: str = ""

    @property
    def related(self) -> bool | None:
        if self.verdict in ("merge", "derived"):
            return True
        return False if self.verdict == "no_parent" else None

    def to_dict(self) -> dict[str, Any]:
        from modelkin import __version__
        from modelkin.forensics.evidence import ENGINE_VERSION, TOOL

        return {
            "tool": TOOL,
            "tool_version": __version__,
            "engine_version": ENGINE_VERSION,
            "kind": "merge_decomposition",
            "verdict": self.verdict,
            "related": self.related,
            "summary": self.summary,
            "reason": self.reason,
            "child": self.child,
            "base": self.base,
            "merge": {
                "method": self.method,
                "parents": [p.to_dict() for p in self.parents],
                "fit": self.fit,
                "null": self.null,
                "threshold": MERGE_P,
            },
            "roles": self.roles,
        }


def shared_roles(fps: Sequence[Fingerprint]) -> list[str]:
    """Role keys with the same shape in every fingerprint, a known exchangeable axis and
    comparable values; per-layer roles only when every model has the same depth."""
    first = fps[0]
    same_depth = len({num_layers(f) for f in fps}) == 1
    keys = []
    for key, r in first.roles.items():
        if not comparable(r) or residual_axis(str(r["kind"])) is None:
            continue
        if r["layer"] is not None and not same_depth:
            continue
        if all(key in f.roles and f.roles[key]["shape"] == r["shape"] for f in fps[1:]):
            keys.append(key)
    return sorted(keys)


def _lstsq(y: np.ndarray, xs: list[np.ndarray]) -> np.ndarray:
    """Least-squares coefficients of ``y`` on the columns ``xs`` (flattened)."""
    if not xs:
        return np.zeros(0)
    a = np.stack([x.ravel() for x in xs], axis=1)
    coef, *_ = np.linalg.lstsq(a, y.ravel(), rcond=None)
    return np.asarray(coef)


def _basis(xs: list[np.ndarray]) -> np.ndarray:
    """Orthonormal basis (columns) of the span of the flattened ``xs``."""
    if not xs:
        return np.zeros((0, 0))
    q, rr = np.linalg.qr(np.stack([x.ravel() for x in xs], axis=1))
    keep = np.abs(np.diag(rr)) > 1e-12 * max(1.0, float(np.abs(rr).max()))
    return np.asarray(q[:, keep])


def _project_out(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rows of ``v`` (flattened samples) minus their projection on the columns of ``q``."""
    return v if q.size == 0 else v - (v @ q) @ q.T


def partial_test(
    y: np.ndarray, x: np.ndarray, others: list[np.ndarray], axis: int, seed: int
) -> tuple[float, float, PValue]:
    """(partial correlation, z, p) of ``x`` with ``y`` given ``others``, against ``x``
    with its units along ``axis`` permuted (see the module doc).

    The statistic is the correlation of ``y`` and ``x`` after both are projected off the
    span of ``others``; each permutation is projected afresh, so a parent nearly parallel
    to another (a fine-tune and its base) keeps its power: its own part is what is
    correlated, and a permuted copy has none. The p-value is Monte Carlo down to
    ``1/(draws+1)``; beyond, the normal tail of the draws' mean and spread, floored at
    ``1/n!`` and :data:`ASYMPTOTIC_FLOOR`, named as asymptotic."""
    q = _basis(others)
    r = _project_out(y.reshape(1, -1), q)[0]
    n = x.shape[axis]
    if n < 3 or float(r @ r) == 0.0:
        return 0.0, 0.0, PValue(1.0, 1.0 / (PERMUTATIONS + 1), METHOD_MC)
    perms = np.argsort(np.random.default_rng([seed, n]).random((PERMUTATIONS, n)), axis=1)
    perms = np.concatenate([np.arange(n)[None, :], perms])  # the identity first: observed
    cols = np.arange(n)[None, :]

    def moved_dot(t: np.ndarray) -> np.ndarray:
        """``<pi x, t>`` for every permutation ``pi``: with ``C[k, j]`` the inner product
        of unit ``k`` of ``x`` and unit ``j`` of ``t``, it is ``sum_j C[pi(j), j]``."""
        tt = t.reshape(x.shape)
        c = x.T @ tt if axis == 1 else x @ tt.T
        return np.asarray(c[perms, cols].sum(axis=1))

    # r is orthogonal to span(others), so <res(pi x), r> = <pi x, r>; and
    # |res(pi x)|^2 = |x|^2 - sum_m <pi x, q_m>^2 (a permutation keeps |x|)
    along = moved_dot(r)
    sq = float((x * x).sum()) - sum(moved_dot(q[:, m]) ** 2 for m in range(q.shape[1]))
    norms = np.sqrt(np.maximum(sq, 0.0)) * float(np.linalg.norm(r))
    corr = np.where(norms > 0, along / np.where(norms > 0, norms, 1.0), 0.0)
    obs, null = float(corr[0]), corr[1:]
    sd = float(null.std())
    z = (obs - float(null.mean())) / sd if sd > 0 else 0.0
    hits = int(np.count_nonzero(null >= obs - 1e-12))
    mc_floor = 1.0 / (PERMUTATIONS + 1)
    if hits > 0:
        return obs, z, PValue((1 + hits) / (PERMUTATIONS + 1), mc_floor, METHOD_MC)
    floor = permutation_floor(n)
    if floor >= mc_floor:
        return obs, z, PValue(mc_floor, mc_floor, METHOD_MC)
    tail = max(floor, norm_sf(z))
    method = f"{METHOD_ASYMPTOTIC} of the Monte Carlo permutation distribution"
    return obs, z, PValue(min(tail, mc_floor), floor, method)


def slerp_t(a: float, b: float, theta: float) -> float | None:
    """SLERP's interpolation point for coefficients ``a`` (first parent) and ``b`` at angle
    ``theta``: the ``t`` in [0, 1] with ``sin(t theta) / sin((1-t) theta) = b / a``
    (bisection; the ratio is increasing in ``t``). None when no such ``t`` exists."""
    if theta <= 1e-6 or a < 0 or b < 0 or a + b == 0:
        return None
    target = math.atan2(b, a)  # compare angles, not ratios (a may be 0)
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        got = math.atan2(math.sin(mid * theta), math.sin((1 - mid) * theta))
        lo, hi = (mid, hi) if got < target else (lo, mid)
    return (lo + hi) / 2


def _slerp_sum(t: float, theta: float) -> float:
    return (math.sin((1 - t) * theta) + math.sin(t * theta)) / math.sin(theta)


def decompose(
    child: Fingerprint,
    parents: Sequence[Fingerprint],
    *,
    base: Fingerprint | None = None,
    threshold: float = MERGE_P,
    pairwise: Sequence[dict[str, Any]] | None = None,
    names: Sequence[str] | None = None,
) -> MergeReport:
    """Decompose ``child`` over the candidate ``parents`` (optionally sharing ``base``).

    ``pairwise``: each parent's ordinary two-model comparison with the child (verdict,
    related, p), used to say why no parent was found (see :class:`MergeReport`);
    ``names``: how to call the parents in the report (default: their fingerprints' names,
    which for model directories are often all ``model``)."""
    names = list(names) if names is not None else [p.name for p in parents]
    null = _NULL_BASE if base is not None else _NULL
    everyone = [child, *parents, *([base] if base is not None else [])]
    seeds = {f.seed for f in everyone}
    keys = shared_roles(everyone) if len(seeds) == 1 else []
    if len(seeds) != 1:
        why = f"fingerprints use different seeds ({sorted(seeds)}): their samples differ"
    else:
        why = "fewer than two roles with the same shape at the same position in every model"
    if len(keys) < 2:
        results = [
            ParentResult(n, None, None, None, None, None, False, 0, _pw(pairwise, i))
            for i, n in enumerate(names)
        ]
        return MergeReport(
            verdict="insufficient",
            method=None,
            child=child.name,
            parents=results,
            base=base.name if base is not None else None,
            summary=f"Insufficient evidence for a merge decomposition: {why}.",
            reason=why,
            null=null,
        )
    rows: list[dict[str, Any]] = []
    per_parent: list[list[dict[str, Any]]] = [[] for _ in parents]
    for key in keys:
        kind = str(child.roles[key]["kind"])
        axis = residual_axis(kind)
        assert axis is not None
        c = sample(child, key).astype(np.float64)
        ps = [sample(p, key).astype(np.float64) for p in parents]
        if c.ndim != 2 or c.shape[axis] < 8:
            continue
        b = sample(base, key).astype(np.float64) if base is not None else None
        y = c - b if b is not None else c
        xs = [p - b for p in ps] if b is not None else ps
        coef = _lstsq(y, xs)
        fitted = sum(w * x for w, x in zip(coef, xs, strict=True))
        denom = float((y * y).sum())
        r2 = 1.0 - float(((y - fitted) ** 2).sum()) / denom if denom > 0 else 0.0
        row: dict[str, Any] = {"role": key, "weights": [float(w) for w in coef], "r2": r2}
        if b is not None:
            row["child_equals_base"] = float(np.mean(c == b))
            row["parents_equal_base"] = [float(np.mean(p == b)) for p in ps]
        if len(ps) == 2:
            na, nb = float(np.linalg.norm(ps[0])), float(np.linalg.norm(ps[1]))
            if na > 0 and nb > 0:
                cos = float(np.clip((ps[0] * ps[1]).sum() / (na * nb), -1.0, 1.0))
                row["angle"] = math.acos(cos)
        for i in range(len(parents)):
            rho, z, p = partial_test(
                y,
                xs[i],
                [x for j, x in enumerate(xs) if j != i],
                axis,
                zlib.crc32(f"{key}|{i}".encode()),
            )
            per_parent[i].append(
                {"role": key, "r": rho, "z": z, "p": p.value, "floor": p.floor, "method": p.method}
            )
        row["p"] = [pp[-1]["p"] for pp in per_parent]
        row["partial_r"] = [pp[-1]["r"] for pp in per_parent]
        rows.append(row)
    results = []
    for i, n in enumerate(names):
        tests = per_parent[i]
        if len(tests) < 2:
            results.append(ParentResult(n, None, None, None, None, None, False, len(tests)))
            continue
        need = agreement_rank(len(tests))
        pv = ruger([t["p"] for t in tests], need)
        floors = sorted(t["floor"] for t in tests)
        floor = min(1.0, floors[need - 1] * len(tests) / need)
        pv = max(pv, floor)
        method = f"Rüger combination ({need} of {len(tests)} roles) of per-role permutation tests"
        weight = float(np.median([r["weights"][i] for r in rows]))
        results.append(
            ParentResult(
                n,
                weight,
                pv,
                floor,
                method,
                float(np.median([t["z"] for t in tests])),
                pv <= threshold,
                len(tests),
                _pw(pairwise, i),
            )
        )
    method, fit = _method(rows, results, base is not None)
    verdict, reason = _verdict(results, base is not None)
    return MergeReport(
        verdict=verdict,
        method=method if verdict == "merge" else None,
        child=child.name,
        parents=results,
        base=base.name if base is not None else None,
        summary=_summary(verdict, method, results, threshold),
        reason=reason,
        roles=rows,
        fit=fit,
        null=null,
    )


def _pw(pairwise: Sequence[dict[str, Any]] | None, i: int) -> dict[str, Any] | None:
    return dict(pairwise[i]) if pairwise is not None and i < len(pairwise) else None


def _method(
    rows: list[dict[str, Any]], results: list[ParentResult], has_base: bool
) -> tuple[str, dict[str, Any]]:
    """The merge method read off the fit (descriptive; see the module doc)."""
    fit: dict[str, Any] = {"median_r2": float(np.median([r["r2"] for r in rows]))}
    if has_base:
        excess = [r["child_equals_base"] - max(r["parents_equal_base"]) for r in rows]
        fit["child_cells_equal_to_base_excess"] = float(np.median(excess))
        if fit["child_cells_equal_to_base_excess"] > SPARSE_EXCESS:
            return "ties/dare", fit
        return "task_arithmetic", fit
    sums = [sum(r["weights"]) for r in rows]
    fit["median_weight_sum"] = float(np.median(sums))
    if len(results) == 2 and all(x.weight is not None for x in results):
        lin_err, sl_err, ts, predicted = [], [], [], []
        for r in rows:
            a, b = r["weights"]
            theta = r.get("angle")
            t = slerp_t(a, b, theta) if theta is not None else None
            if t is None or theta is None:
                continue
            s = _slerp_sum(t, theta)
            predicted.append(s)
            ts.append(t)
            lin_err.append(abs(a + b - 1.0))
            sl_err.append(abs(a + b - s))
        if ts:
            fit["slerp_t"] = float(np.median(ts))
            fit["slerp_predicted_sum"] = float(np.median(predicted))
            if float(np.median(predicted)) - 1.0 > SLERP_MIN_EXCESS and np.median(
                sl_err
            ) < np.median(lin_err):
                return "slerp", fit
    return "linear", fit


def _verdict(results: list[ParentResult], has_base: bool) -> tuple[str, str]:
    found = [r for r in results if r.in_merge]
    if len(found) >= 2:
        return "merge", "parents with p at or below the threshold: " + ", ".join(
            r.name for r in found
        )
    if len(found) == 1:
        others = [r.name for r in results if not r.in_merge]
        return (
            "derived",
            f"only {found[0].name} contributes beyond the others; not a merge of "
            + ", ".join(others),
        )
    pw = [r.pairwise for r in results]
    if any(p is not None and p.get("related") is True for p in pw):
        rel = [r.name for r in results if r.pairwise and r.pairwise.get("related") is True]
        return (
            "derived",
            "no parent adds evidence beyond the others (the parents are too alike to "
            "separate), but pairwise comparison relates the child to " + ", ".join(rel),
        )
    if pw and all(p is not None and p.get("related") is False for p in pw):
        return "no_parent", "no parent contributes, and each pairwise comparison is an " + (
            "independence verdict with power"
        )
    return "insufficient", "no parent contributes at the threshold, and not every pairwise " + (
        "comparison had the power to call the pair independent"
    )


def _summary(verdict: str, method: str, results: list[ParentResult], threshold: float) -> str:
    def part(r: ParentResult) -> str:
        w = f"weight {r.weight:.3g}, " if r.weight is not None else ""
        return f"{r.name} ({w}{r.p_text})"

    if verdict == "merge":
        inside = [part(r) for r in results if r.in_merge]
        out = [part(r) for r in results if not r.in_merge]
        text = f"Merge ({method}) of " + " and ".join(inside)
        text += f"; not a parent: {', '.join(out)}" if out else ""
        return text + f" (threshold {threshold:g})."
    if verdict == "derived":
        return "Not a merge of these parents: " + "; ".join(part(r) for r in results) + "."
    if verdict == "no_parent":
        return "No candidate is a parent: " + "; ".join(part(r) for r in results) + "."
    return "Insufficient evidence: " + "; ".join(part(r) for r in results) + "."
