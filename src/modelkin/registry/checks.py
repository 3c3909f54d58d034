"""Per-kind checks run on every submitted statement, before anything is written.

Each check either raises :class:`StatementError` (the statement is refused, nothing
changes) or returns warnings that travel with the receipt (accepted, but worth knowing:
identical weights registered before, references to records not in the registry yet).
Digests are recomputed here, never trusted: a model's subject must equal the digest of its
own manifest, a dataset's subject the Merkle root of its files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from modelkin.errors import StatementError
from modelkin.registry.binding import check_submitted
from modelkin.registry.datasets import dataset_root
from modelkin.statements.kinds import SELF, get_kind
from modelkin.statements.manifest import manifest_digest
from modelkin.statements.statement import Statement


@dataclass(frozen=True)
class Hit:
    """An active record found by digest."""

    id: str
    kind: str
    name: str | None
    ledger_index: int


class Lookup(Protocol):
    """What checks may ask of the registry's current state."""

    def by_subject(self, sha256: str, kinds: tuple[str, ...]) -> list[Hit]: ...

    def by_fingerprint(self, digest: str) -> list[Hit]: ...

    def has_blob(self, sha256: str) -> bool: ...

    def blob(self, sha256: str) -> bytes | None: ...

    #: True when admitting a new statement, False when replaying the log (rules added
    #: since an entry was logged then warn instead of refusing, see :mod:`.binding`)
    admitting: bool


Check = Callable[[Statement, dict[str, Any], Lookup, str], list[str]]
ARTIFACT_KINDS = ("model", "dataset")


def _one_subject(st: Statement, where: str) -> str:
    if len(st.subjects) != 1:
        raise StatementError(where, "this kind takes exactly one subject")
    return st.subjects[0][1]


def _dangling(digests: list[str], role: str, lookup: Lookup, kinds: tuple[str, ...]) -> list[str]:
    return [
        f"dangling reference: {role} {d} is not a registered {'/'.join(kinds)}"
        for d in digests
        if not lookup.by_subject(d, kinds)
    ]


def check_model(st: Statement, p: dict[str, Any], lookup: Lookup, where: str) -> list[str]:
    subject = _one_subject(st, where)
    computed = manifest_digest(p["manifest"]["files"])
    if computed != subject:
        raise StatementError(
            where, f"subject digest {subject} does not match the manifest (computed {computed})"
        )
    warnings = [
        f"identical weights already registered as {h.name} (record {h.id[:16]}, "
        f"ledger index {h.ledger_index})"
        for h in lookup.by_subject(subject, ("model",))
    ]
    if p.get("oms"):
        # an OpenSSF model signing claim is re-verified from the stored bundle, never trusted
        from modelkin.oms import recheck

        recheck(p["oms"], p["manifest"]["files"], lookup.blob, where)
    fp = p.get("fingerprint")
    if fp:
        if not lookup.has_blob(fp["blob"]):
            warnings.append(f"fingerprint blob {fp['blob']} not in the blob store")
        else:
            warnings += check_submitted(
                fp, subject, lookup.blob(fp["blob"]), where, lookup.admitting
            )
        warnings += [
            f"identical fingerprint already registered as {h.name} (record {h.id[:16]}, "
            f"ledger index {h.ledger_index})"
            for h in lookup.by_fingerprint(fp["digest"])
            if not lookup.by_subject(subject, ("model",))
        ]
    return warnings


def check_dataset(st: Statement, p: dict[str, Any], lookup: Lookup, where: str) -> list[str]:
    subject = _one_subject(st, where)
    manifest = p["manifest"]
    root = dataset_root(manifest["files"])
    if root != manifest["merkle_root"]:
        raise StatementError(
            where, f"manifest merkle_root does not match its files (computed {root})"
        )
    if subject != root:
        raise StatementError(where, f"subject digest {subject} is not the manifest Merkle root")
    return [
        f"identical data already registered as {h.name} (record {h.id[:16]})"
        for h in lookup.by_subject(subject, ("dataset",))
    ]


def check_training_run(st: Statement, p: dict[str, Any], lookup: Lookup, where: str) -> list[str]:
    subject = _one_subject(st, where)
    if subject != p["output"]["sha256"]:
        raise StatementError(where, "subject must be the output checkpoint's digest")
    if p["ended_at"] < p["started_at"]:
        raise StatementError(where, "ended_at is before started_at")
    warnings = _dangling(
        [m["sha256"] for m in p["inputs"]["models"]], "input model", lookup, ("model",)
    )
    warnings += _dangling(
        [d["sha256"] for d in p["inputs"]["datasets"]], "dataset", lookup, ("dataset",)
    )
    warnings += _dangling([subject], "output model", lookup, ("model",))
    curve = p.get("loss_curve")
    if curve and not lookup.has_blob(curve["sha256"]):
        warnings.append(f"loss curve blob {curve['sha256']} not in the blob store")
    return warnings


def check_derivation(st: Statement, p: dict[str, Any], lookup: Lookup, where: str) -> list[str]:
    subject = _one_subject(st, where)
    child = p["child"]["sha256"]
    if subject != child:
        raise StatementError(where, "subject must be the child model's digest")
    parents = [x["sha256"] for x in p["parents"]]
    if child in parents:
        raise StatementError(where, "a model cannot be its own parent")
    if len(set(parents)) != len(parents):
        raise StatementError(where, "a parent is listed twice")
    return _dangling([child], "child model", lookup, ("model",)) + _dangling(
        parents, "parent model", lookup, ("model",)
    )


def check_product(st: Statement, p: dict[str, Any], lookup: Lookup, where: str) -> list[str]:
    models = [m["sha256"] for m in p["models"]]
    if sorted(models) != sorted(st.subject_digests):
        raise StatementError(where, "subjects must be exactly the shipped models' digests")
    return _dangling(models, "shipped model", lookup, ("model",))


CHECKS: dict[str, Check] = {
    "model": check_model,
    "dataset": check_dataset,
    "training-run": check_training_run,
    "derivation": check_derivation,
    "product": check_product,
}


def run_check(kind: str, st: Statement, p: dict[str, Any], lookup: Lookup, where: str) -> list[str]:
    """The check for ``kind``; kinds registered by other packages (``work``) get the generic
    one: every artifact their edges name should be a registered model or dataset."""
    check = CHECKS.get(kind)
    if check is not None:
        return check(st, p, lookup, where)
    ends = [
        end
        for e in get_kind(kind).edges(p, st.subject_digests)
        for end in (e.src, e.dst)
        if end != SELF
    ]
    return _dangling(sorted(set(ends)), "artifact", lookup, ARTIFACT_KINDS)
