"""Check lineage claims against the weights with the forensic engine.

A derivation claim is only as good as its evidence. When fingerprints of both models are in
the blob store, :func:`modelkin.forensics.compare` decides whether they are related, and the
verdict is stored next to the claim: ``verified`` (weights agree), ``contradicted`` (weights
disagree) or ``unverifiable`` (no fingerprint, inconclusive test, or forensics unavailable).
A "trained from scratch" claim (relation ``none``) is compared against every registered
model: one related model contradicts it.

The forensic engine is imported lazily: the registry works (and says "unverifiable") where
it is not installed or fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from modelkin.errors import ModelkinError
from modelkin.registry import tables as t
from modelkin.registry.blobs import BlobStore
from modelkin.registry.results import Verification
from modelkin.registry.submission import LineageCheck, Prepared

#: (sha256, name) -> path of its stored fingerprint, or None
FingerprintFor = Callable[[str], Path | None]
MAX_SCRATCH_COMPARISONS = 200


def _engine() -> tuple[Callable[[Path], Any], Callable[[Any, Any], Any]] | str:
    """(load_fingerprint, compare) or the reason the engine is unavailable."""
    try:
        from modelkin.fingerprint import Fingerprint
    except ImportError as exc:
        return f"forensics unavailable ({exc})"
    try:
        from modelkin.forensics import compare  # type: ignore[attr-defined]
    except ImportError:
        try:
            from modelkin.forensics.verdict import compare
        except ImportError as exc:
            return f"forensics unavailable ({exc})"
    load = getattr(Fingerprint, "load", None)
    if load is None:
        return "forensics unavailable (Fingerprint.load missing)"
    return load, compare


def _compare(
    engine: tuple[Callable[[Path], Any], Callable[[Any, Any], Any]], child: Path, parent: Path
) -> tuple[str, dict[str, Any]]:
    load, compare = engine
    try:
        report = compare(load(child), load(parent))
    except ModelkinError as exc:
        return "unverifiable", {"reason": f"comparison failed: {exc}"}
    related = getattr(report, "related", None)
    detail: dict[str, Any] = {
        "forensic_verdict": str(getattr(report, "verdict", "")),
        "p_value": getattr(report, "p_value", None),
    }
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        detail["report"] = to_dict()
    if related is True:
        return "verified", detail
    if related is False:
        return "contradicted", detail
    return "unverifiable", dict(detail, reason="forensic test inconclusive")


def verify_derivation(
    predicate: dict[str, Any],
    fingerprint_for: FingerprintFor,
    candidates: list[tuple[str, str | None]],
) -> list[Verification]:
    """Verdicts for a derivation predicate.

    ``candidates`` lists (sha256, name) of registered models with fingerprints, used for
    "trained from scratch" claims."""
    child = predicate["child"]["sha256"]
    engine = _engine()
    child_fp = fingerprint_for(child)
    if predicate["relation"] != "none":
        out = []
        for parent in (p["sha256"] for p in predicate["parents"]):
            parent_fp = fingerprint_for(parent)
            if isinstance(engine, str):
                out.append(Verification(child, parent, "unverifiable", {"reason": engine}))
            elif child_fp is None or parent_fp is None:
                missing = "child" if child_fp is None else "parent"
                reason = f"no fingerprint of the {missing} model in the registry"
                out.append(Verification(child, parent, "unverifiable", {"reason": reason}))
            else:
                verdict, detail = _compare(engine, child_fp, parent_fp)
                out.append(Verification(child, parent, verdict, detail))
        return out
    # "trained from scratch": any related registered model contradicts the claim.
    if isinstance(engine, str):
        return [Verification(child, None, "unverifiable", {"reason": engine})]
    if child_fp is None:
        reason = "no fingerprint of the model in the registry"
        return [Verification(child, None, "unverifiable", {"reason": reason})]
    inconclusive = 0
    others = [(d, n) for d, n in candidates if d != child][:MAX_SCRATCH_COMPARISONS]
    for digest, name in others:
        other_fp = fingerprint_for(digest)
        if other_fp is None:
            continue
        verdict, detail = _compare(engine, child_fp, other_fp)
        if verdict == "verified":  # related to another model: not from scratch
            detail["reason"] = f"weights say derived from {name or digest}"
            return [Verification(child, digest, "contradicted", detail)]
        if verdict == "unverifiable":
            inconclusive += 1
    if inconclusive:
        reason = f"{inconclusive} of {len(others)} comparisons inconclusive"
        return [Verification(child, None, "unverifiable", {"reason": reason})]
    return [
        Verification(
            child, None, "verified", {"reason": f"unrelated to all {len(others)} registered models"}
        )
    ]


def lineage_check(blobs: BlobStore) -> LineageCheck:
    """The :data:`~.submission.LineageCheck` that verifies derivation claims against the
    fingerprints in ``blobs``."""

    def check(conn: Connection, prepared: Prepared) -> None:
        if prepared.kind.name != "derivation":
            return
        fps = fingerprints(conn, blobs)
        prepared.verifications = verify_derivation(
            prepared.predicate,
            lambda d: fps[d][1] if d in fps else None,
            [(d, name) for d, (name, _) in fps.items()],
        )

    return check


def fingerprints(conn: Connection, blobs: BlobStore) -> dict[str, tuple[str | None, Path]]:
    """digest -> (name, fingerprint path) for active models whose fingerprint is stored."""
    out: dict[str, tuple[str | None, Path]] = {}
    rows = conn.execute(
        select(t.records.c.name, t.records.c.predicate_json, t.subjects.c.sha256)
        .join(t.subjects, t.subjects.c.record_id == t.records.c.id)
        .where(t.records.c.kind == "model", t.records.c.status == "active")
        .order_by(t.records.c.ledger_index)
    ).all()
    for r in rows:
        fp = json.loads(r.predicate_json).get("fingerprint")
        if fp and blobs.has(fp["blob"]) and r.sha256 not in out:
            out[r.sha256] = (r.name, blobs.path(fp["blob"]))
    return out
