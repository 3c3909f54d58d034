"""Checking weights at hand against a registered model: ``modelkin verify MODEL_DIR --record R``.

Anyone holding a model's files can check that they are the ones a record describes: every
file the record's manifest lists is hashed again (a missing or altered file is named), and
the fingerprint is recomputed from the weights, with the registered fingerprint's mode, seed
and name, bound to the record's manifest digest, and compared with the registered one (by
digest, and part by part when they differ). Nothing is taken from the record on trust except
what it says it registered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.statements.manifest import manifest_digest, model_files, sha256_file


@dataclass
class WeightsCheck:
    """What ``verify`` found; ``passed`` is the answer."""

    record_id: str
    name: str | None
    organisation: str | None
    ledger_index: int
    manifest: str
    files_ok: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    files_missing: list[str] = field(default_factory=list)
    files_extra: list[str] = field(default_factory=list)
    fingerprint: str = "none"  # match | mismatch | unavailable | none
    fingerprint_registered: str | None = None
    fingerprint_computed: str | None = None
    fingerprint_bound: bool | None = None
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def files_match(self) -> bool:
        return not (self.files_changed or self.files_missing)

    @property
    def passed(self) -> bool:
        return self.files_match and self.fingerprint in ("match", "none")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"passed": self.passed, "files_match": self.files_match}


def verify_weights(registry: Any, model_dir: Path | str, ref: str) -> WeightsCheck:
    """Check the files at ``model_dir`` against the model record ``ref`` (see module doc)."""
    root = Path(model_dir)
    if not root.exists():
        raise ModelkinError(root, "no such file or directory")
    rec = registry.model(ref)
    listed = rec.predicate["manifest"]["files"]
    check = WeightsCheck(rec.id, rec.name, rec.organisation, rec.ledger_index, str(rec.digest))
    if manifest_digest(listed) != rec.digest:  # pragma: no cover - refused at submit
        raise ModelkinError(f"record {rec.id}", "the record's manifest does not match its digest")
    here = dict(model_files(root))
    for f in listed:
        name = str(f["name"])
        path = here.get(name) if root.is_dir() else (root if root.name == name else None)
        if path is None:
            check.files_missing.append(name)
        elif sha256_file(path) != f["sha256"]:
            check.files_changed.append(name)
        else:
            check.files_ok.append(name)
    names = {str(f["name"]) for f in listed}
    check.files_extra = sorted(n for n in here if n not in names)
    _check_fingerprint(registry, rec, root, check)
    return check


def _check_fingerprint(registry: Any, rec: Any, root: Path, check: WeightsCheck) -> None:
    ref = rec.predicate.get("fingerprint")
    if not isinstance(ref, dict):
        check.notes.append("the model was registered without a fingerprint: files checked only")
        return
    check.fingerprint_registered = str(ref.get("digest"))
    if not check.files_match:
        check.fingerprint = "unavailable"
        check.notes.append("fingerprint not recomputed: the files already differ")
        return
    from modelkin.fingerprint import Fingerprint, fingerprint_model

    registered: Fingerprint | None = None
    manifest: str | None = check.manifest
    mode, seed = "fast", 0
    blob = ref.get("blob")
    if isinstance(blob, str) and registry.blobs.has(blob):
        registered = Fingerprint.load(registry.blobs.path(blob))
    if registered is None:
        check.notes.append(
            "the registered fingerprint file is not in this registry's blob store: recomputed "
            "with the defaults (fast, seed 0) and this directory's name"
        )
    else:
        check.fingerprint_bound = registered.manifest == check.manifest
        if registered.manifest is None:
            check.notes.append("the registered fingerprint names no files (made before binding)")
        mode, seed, manifest = registered.mode, registered.seed, registered.manifest
    fresh = fingerprint_model(root, mode="full" if mode == "full" else "fast", seed=seed,
                              manifest=manifest)  # fmt: skip
    if registered is not None:  # the name is the directory's, not the weights'
        fresh = replace(fresh, name=registered.name)  # (replace recomputes the digest)
    check.fingerprint_computed = fresh.digest()
    if check.fingerprint_computed == check.fingerprint_registered:
        check.fingerprint = "match"
        return
    check.fingerprint = "mismatch"
    if registered is not None:
        a, b = registered.to_dict(), fresh.to_dict()
        check.differences = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def render(check: WeightsCheck) -> str:
    """The report as plain text lines (the CLI's default output)."""
    who = f"{check.name or '?'} ({check.organisation or 'no organisation'})"
    lines = [f"record {check.record_id[:16]}: {who}, ledger #{check.ledger_index}"]
    total = len(check.files_ok) + len(check.files_changed) + len(check.files_missing)
    lines.append(
        f"files: {len(check.files_ok)} of {total} match the registered manifest {check.manifest}"
    )
    lines += [f"  changed: {n}" for n in check.files_changed]
    lines += [f"  missing: {n}" for n in check.files_missing]
    if check.files_extra:
        lines.append(f"  not in the record (ignored): {', '.join(check.files_extra)}")
    if check.fingerprint == "match":
        bound = " (bound to this manifest)" if check.fingerprint_bound else ""
        lines.append(f"fingerprint: recomputed = registered {check.fingerprint_computed}{bound}")
    elif check.fingerprint == "mismatch":
        lines.append(
            f"fingerprint: recomputed {check.fingerprint_computed} != registered "
            f"{check.fingerprint_registered}"
            + (f" (differs in: {', '.join(check.differences)})" if check.differences else "")
        )
    lines += [f"note: {n}" for n in check.notes]
    if check.passed:
        lines.append("PASS: these are the registered weights")
    else:
        lines.append("FAIL: these are not the registered weights")
    return "\n".join(lines)
