"""Check lineage claims against the weights, and say so in a signed, logged statement.

A derivation claim is only as good as its evidence. When fingerprints of both models are in
the blob store, :func:`modelkin.forensics.compare` classifies the pair, and
:func:`assess` decides whether that class supports the relation *claimed*:

* ``verified``: the verdict class is the one the relation leaves (a finetune leaves
  ``derived``, a quantization ``converted`` with the ``quantization-grid`` rule, a pruning
  ``derived_surgery``, a format conversion ``converted`` or ``identical``, ...);
* ``partly_supported``: the weights are related, but not in the way claimed (a "finetune"
  whose weights are a lossless copy, a "quantization" with no lattice), or a "trained from
  scratch" check that could compare only some of the registered models;
* ``contradicted``: the weights show independent training (or, for "trained from
  scratch", a relation to a registered model);
* ``unverifiable``: no fingerprint, the forensic test abstained, or no engine.

The outcome is not stored by the registry on its own authority: :func:`verification_predicate`
builds a ``verification`` statement (engine name and version, the inputs' manifest and
fingerprint digests, the relation claimed, verdict class, combined p, the digest of the full
evidence report kept in the blob store) that the verifier signs and the ledger logs. Replay
stores those statements as they are and never runs this module again.

The forensic engine is imported lazily, only here: the registry replays, answers queries and
admits statements without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from modelkin.errors import ModelkinError
from modelkin.registry import tables as t
from modelkin.registry.binding import bound_fingerprint
from modelkin.registry.blobs import BlobStore

#: sha256 -> path of its stored fingerprint, or None
FingerprintFor = Callable[[str], Path | None]
MAX_SCRATCH_COMPARISONS = 200
ENGINE_NAME = "modelkin.forensics"

#: verdict classes that support each claimed relation (see the module docstring)
SUPPORTS: dict[str, frozenset[str]] = {
    "finetune": frozenset({"derived"}),
    "continued_pretraining": frozenset({"derived"}),
    "adapter": frozenset({"derived"}),
    "merge": frozenset({"derived", "derived_surgery"}),
    "distilled": frozenset({"derived", "derived_surgery"}),
    "pruned": frozenset({"derived_surgery"}),
    "quantized": frozenset({"converted"}),
    "converted": frozenset({"converted", "identical"}),
}
#: what each relation needs, in words (for the reason of a claim that is only partly supported)
NEEDS: dict[str, str] = {
    "finetune": "weights changed by training (verdict derived)",
    "continued_pretraining": "weights changed by training (verdict derived)",
    "adapter": "weights changed by a merged adapter (verdict derived)",
    "merge": "weights derived from each parent",
    "distilled": "a student initialised from the teacher's weights",
    "pruned": "the parent's weights with units, heads or layers removed (verdict derived_surgery)",
    "quantized": "the parent's weights rounded onto a quantization lattice (verdict converted, "
    "rule quantization-grid)",
    "converted": "the parent's weights in another format or precision (verdict converted or "
    "identical)",
}
OUTCOMES = ("verified", "partly_supported", "contradicted", "unverifiable")


def engine_version() -> str:
    """The version of the engine that decides (the package version: the forensic rules
    ship with it)."""
    from modelkin import __version__

    return __version__


def _engine() -> tuple[Callable[[Path], Any], Callable[[Any, Any], Any]] | str:
    """(load_fingerprint, compare) or the reason the engine is unavailable."""
    try:
        from modelkin.fingerprint import Fingerprint
        from modelkin.forensics.verdict import compare
    except ImportError as exc:
        return f"forensics unavailable ({exc})"
    return Fingerprint.load, compare


@dataclass
class Result:
    """The check of one (child, parent) pair of a claim; ``parent`` None for "from scratch"."""

    child: str
    parent: str | None
    outcome: str
    reason: str
    verdict_class: str | None = None
    p_value: float | None = None
    report: dict[str, Any] | None = field(default=None, repr=False)


def _rules(report: dict[str, Any]) -> set[str]:
    for ev in report.get("evidence") or []:
        if isinstance(ev, dict) and ev.get("name") == "identity":
            return set((ev.get("details") or {}).get("rules") or {})
    return set()


def assess(
    relation: str, verdict_class: str, related: bool | None, report: dict[str, Any]
) -> tuple[str, str]:
    """(outcome, reason) for a claim of ``relation`` given the forensic verdict."""
    supported = SUPPORTS.get(relation, frozenset())
    if verdict_class in supported:
        if relation == "quantized" and "quantization-grid" not in _rules(report):
            return (
                "partly_supported",
                "the weights are a conversion of the parent, but none of the differences lies "
                f"on a quantization lattice: the claim needs {NEEDS[relation]}",
            )
        return "verified", f"the weights show {verdict_class}, as a {relation} leaves them"
    if related is True:
        return (
            "partly_supported",
            f"the weights are related ({verdict_class}), but not as claimed: a {relation} "
            f"needs {NEEDS.get(relation, 'another verdict')}",
        )
    if related is False:
        if relation == "distilled":
            return (
                "unverifiable",
                "the weights share nothing, which a student distilled from scratch also "
                "shows: weight tests cannot confirm or refute distillation (compare "
                "activations instead)",
            )
        return (
            "contradicted",
            f"the weights show independent training ({verdict_class}): a {relation} of this "
            "parent would have kept its weights",
        )
    why = str(report.get("reason") or "no test with a valid null and power decided")
    return "unverifiable", f"the forensic test abstained ({verdict_class}): {why}"[:2000]


def _compare(
    engine: tuple[Callable[[Path], Any], Callable[[Any, Any], Any]], child: Path, parent: Path
) -> tuple[str | None, bool | None, float | None, dict[str, Any] | str]:
    """(verdict class, related, p, report dict) or, when the comparison fails, the reason."""
    load, compare = engine
    try:
        report = compare(load(child), load(parent))
    except ModelkinError as exc:
        return None, None, None, f"comparison failed: {exc}"
    to_dict = getattr(report, "to_dict", None)
    data: dict[str, Any] = to_dict() if callable(to_dict) else {}
    p = getattr(report, "p_value", None)
    p = float(p) if isinstance(p, int | float) else None
    return str(getattr(report, "verdict", "")), getattr(report, "related", None), p, data


def _distance(report: dict[str, Any]) -> float | None:
    """How far apart two models' weights are (the identity test's worst relative RMSE over
    the shared roles), or None when the report has no such measure."""
    for ev in report.get("evidence") or []:
        if isinstance(ev, dict) and ev.get("name") == "identity":
            d = ev.get("statistic")
            return float(d) if isinstance(d, int | float) else None
    return None


def _sibling(
    engine: tuple[Callable[[Path], Any], Callable[[Any, Any], Any]],
    child_fp: Path,
    parent_name: str,
    pair: dict[str, Any],
    ancestors: Sequence[tuple[str, str | None]],
    fingerprint_for: FingerprintFor,
) -> str | None:
    """Why the claimed parent looks like a sibling, or None.

    A parent is between its own ancestor C and the child only if the child is at least as
    far from C as from the parent; when the child is related to C and closer to C than to
    the claimed parent, both were made from C: siblings, not parent and child."""
    to_parent = _distance(pair)
    if to_parent is None:
        return None
    for digest, name in ancestors:
        fp = fingerprint_for(digest)
        if fp is None:
            continue
        _, related, _, report = _compare(engine, child_fp, fp)
        if related is not True or isinstance(report, str):
            continue
        to_ancestor = _distance(report)
        if to_ancestor is not None and to_ancestor < to_parent:
            who = name or digest[:16]
            return (
                f"the weights are related to {parent_name}, but both share the registered "
                f"ancestor {who} and this model is closer to {who} (relative RMSE "
                f"{to_ancestor:.3g}) than to {parent_name} ({to_parent:.3g}): siblings made "
                f"from {who}, not parent and child"
            )
    return None


def check_claim(
    predicate: dict[str, Any],
    fingerprint_for: FingerprintFor,
    candidates: Sequence[tuple[str, str | None]],
    ancestors_of: Callable[[str], list[tuple[str, str | None]]] | None = None,
) -> tuple[list[Result], dict[str, int] | None]:
    """Results for a derivation predicate, and for "trained from scratch" claims how many
    registered models were compared (``{"compared": K, "registered": N}``).

    ``candidates`` lists (sha256, name) of the registered models with fingerprints, oldest
    first; a "trained from scratch" claim is compared against the first
    :data:`MAX_SCRATCH_COMPARISONS` of them, and says so. ``ancestors_of(parent)`` lists
    the parent's own claimed ancestors, to tell a parent from a sibling."""
    child = predicate["child"]["sha256"]
    relation = predicate["relation"]
    engine = _engine()
    child_fp = fingerprint_for(child)
    if relation != "none":
        out = []
        for parent in (p["sha256"] for p in predicate["parents"]):
            parent_fp = fingerprint_for(parent)
            if isinstance(engine, str):
                out.append(Result(child, parent, "unverifiable", engine))
            elif child_fp is None or parent_fp is None:
                missing = "child" if child_fp is None else "parent"
                reason = f"no fingerprint of the {missing} model in the registry"
                out.append(Result(child, parent, "unverifiable", reason))
            else:
                cls, related, p, report = _compare(engine, child_fp, parent_fp)
                if isinstance(report, str):
                    out.append(Result(child, parent, "unverifiable", report))
                    continue
                outcome, reason = assess(relation, cls or "", related, report)
                if related is True and relation != "merge" and ancestors_of is not None:
                    name = dict(candidates).get(parent) or parent[:16]
                    others = [(d, n) for d, n in ancestors_of(parent) if d != child]
                    why = _sibling(engine, child_fp, name, report, others, fingerprint_for)
                    if why is not None:
                        outcome, reason = "partly_supported", why
                out.append(Result(child, parent, outcome, reason, cls, p, report))
        return out, None
    others = [(d, n) for d, n in candidates if d != child]
    checked = others[:MAX_SCRATCH_COMPARISONS]
    counts = {"compared": 0, "registered": len(others)}
    if isinstance(engine, str):
        return [Result(child, None, "unverifiable", engine)], counts
    if child_fp is None:
        return [Result(child, None, "unverifiable", "no fingerprint of the model")], counts
    inconclusive = 0
    for digest, name in checked:
        other_fp = fingerprint_for(digest)
        if other_fp is None:
            continue
        counts["compared"] += 1
        cls, related, p, report = _compare(engine, child_fp, other_fp)
        if related is True and not isinstance(report, str):
            reason = f"weights say derived from {name or digest}"
            return [Result(child, digest, "contradicted", reason, cls, p, report)], counts
        if related is not True and related is not False:
            inconclusive += 1
    k, n = counts["compared"], counts["registered"]
    if inconclusive:
        reason = f"{inconclusive} of {k} comparisons inconclusive ({n} registered models)"
        return [Result(child, None, "unverifiable", reason)], counts
    if k < n:
        reason = (
            f"unrelated to the {k} registered models compared; {n - k} of the {n} registered "
            "models were not compared"
        )
        return [Result(child, None, "partly_supported", reason)], counts
    return [Result(child, None, "verified", f"unrelated to all {k} registered models")], counts


def overall(results: Sequence[Result]) -> str:
    """One outcome for a claim: the weakest of its pairs' (a merge is verified only when
    every parent is)."""
    if not results:
        return "unverifiable"
    order = {o: i for i, o in enumerate(OUTCOMES)}
    return max((r.outcome for r in results), key=lambda o: order[o])


def verification_predicate(
    claim: dict[str, Any],
    results: Sequence[Result],
    blobs: BlobStore,
    fingerprint_digests: dict[str, str],
    counts: dict[str, int] | None,
) -> dict[str, Any]:
    """The ``verification`` predicate for ``claim`` (``{"record", "ledger_index",
    "relation"}``); each report is stored in ``blobs`` and named by its digest."""

    def party(sha: str | None) -> dict[str, Any] | None:
        if sha is None:
            return None
        return {"sha256": sha, "fingerprint": fingerprint_digests.get(sha)}

    items = []
    for r in results:
        evidence = None
        if r.report is not None:
            evidence = blobs.put_bytes(
                json.dumps(r.report, sort_keys=True, default=str).encode("utf-8")
            )
        items.append(
            {
                "child": party(r.child),
                "parent": party(r.parent),
                "outcome": r.outcome,
                "verdict_class": r.verdict_class or None,
                "p_value": r.p_value,
                "reason": r.reason[:2000],
                "evidence": evidence,
            }
        )
    pred: dict[str, Any] = {
        "claim": {"record": claim["record"], "ledger_index": claim["ledger_index"]},
        "relation": claim["relation"],
        "engine": {"name": ENGINE_NAME, "version": engine_version()},
        "verified_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "outcome": overall(results),
        "results": items,
    }
    if counts is not None:
        pred["scope"] = dict(counts)
    return pred


def fingerprints(conn: Connection, blobs: BlobStore) -> dict[str, tuple[str | None, Path, str]]:
    """digest -> (name, fingerprint path, fingerprint digest) for active models whose
    fingerprint is stored, oldest first."""
    out: dict[str, tuple[str | None, Path, str]] = {}
    rows = conn.execute(
        select(t.records.c.name, t.records.c.predicate_json, t.subjects.c.sha256)
        .join(t.subjects, t.subjects.c.record_id == t.records.c.id)
        .where(t.records.c.kind == "model", t.records.c.status == "active")
        .order_by(t.records.c.ledger_index)
    ).all()
    for r in rows:
        fp = json.loads(r.predicate_json).get("fingerprint")
        if fp and blobs.has(fp["blob"]) and r.sha256 not in out:
            out[r.sha256] = (r.name, blobs.path(fp["blob"]), str(fp.get("digest") or ""))
    return out


def _bound(fps: dict[str, tuple[str | None, Path, str]], digest: str) -> Path | None:
    """The stored fingerprint of ``digest`` only if it names that model's own files
    (:mod:`.binding`): a borrowed or unbound fingerprint never decides a claim."""
    found = fps.get(digest)
    if found is None or bound_fingerprint(found[1], {"digest": found[2]}, digest) is None:
        return None
    return found[1]


def verify_claim(
    conn: Connection, blobs: BlobStore, claim: dict[str, Any], predicate: dict[str, Any]
) -> dict[str, Any]:
    """Run the forensic check of one derivation claim and return the verification predicate
    (to be signed by the verifier and submitted)."""
    fps = fingerprints(conn, blobs)
    names = {d: name for d, (name, _, _) in fps.items()}
    results, counts = check_claim(
        predicate,
        lambda d: _bound(fps, d),
        list(names.items()),
        lambda d: [(a, names.get(a)) for a in claimed_ancestors(conn, d)],
    )
    digests = {d: fp for d, (_, _, fp) in fps.items() if fp}
    return verification_predicate(
        dict(claim, relation=predicate["relation"]), results, blobs, digests, counts
    )


def claimed_ancestors(conn: Connection, digest: str, limit: int = 8) -> list[str]:
    """Digests of the models ``digest`` claims to descend from (active derivation claims,
    nearest first, at most ``limit``)."""
    from modelkin.registry.lineage import UNDECLARED

    out: list[str] = []
    frontier = [digest]
    while frontier and len(out) < limit:
        rows = conn.execute(
            select(t.edges.c.src)
            .join(t.records, t.records.c.id == t.edges.c.record_id)
            .where(
                t.edges.c.dst.in_([f"sha256:{d}" for d in frontier]),
                t.edges.c.relation != UNDECLARED,
                t.records.c.kind == "derivation",
                t.records.c.status == "active",
            )
        ).scalars()
        found = [r[7:] for r in rows if r.startswith("sha256:")]
        frontier = [d for d in dict.fromkeys(found) if d not in out and d != digest]
        out += frontier
    return out[:limit]
