"""Registering a work as a signed statement, and loading works from files or the registry.

The content digest is always computed here from the file's bytes (never taken from the
caller); the record's predicate is the work's JSON form (``work-v1.schema.json``). AI systems
named by a registered model (record id, name or digest) are resolved to the model's sha256
so the lineage graph links model -> work (edge ``used_to_make``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.registry import Receipt, Registry, submit_predicate
from modelkin.statements import Identity, get_kind, sha256_file
from modelkin.statements.statement import is_sha256_hex
from modelkin.works.record import Work, work_from_dict

MAX_WORK_JSON = 4 << 20


WORK_KIND = get_kind("work")


def read_work_file(path: Path, today: dt.date | None = None) -> Work:
    """Parse a work JSON file (bounded size, validated)."""
    if not path.is_file():
        raise ModelkinError(path, "no such work file")
    if path.stat().st_size > MAX_WORK_JSON:
        raise ModelkinError(path, "work file larger than 4 MiB")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelkinError(path, f"not valid JSON: {exc}") from exc
    return work_from_dict(data, str(path), today)


def load_work(ref: str, home: Path | None = None) -> Work:
    """A work JSON file path, or a registered work (record id, name or content digest)."""
    path = Path(ref)
    if path.suffix.lower() == ".json" or path.is_file():
        return read_work_file(path)
    with Registry.open(home) as reg:
        try:
            rec = reg.record(ref, kind="work")
        except NotFoundError as exc:
            raise ModelkinError(ref, "neither a work JSON file nor a registered work") from exc
    return work_from_dict(rec.predicate, f"work record {rec.id}")


def _resolve_models(work: Work, reg: Registry) -> Work:
    systems = []
    for s in work.disclosure.systems:
        if s.model and not is_sha256_hex(s.model):
            rec = reg.record(s.model, kind="model")
            s = dataclasses.replace(s, model=rec.subjects[0][1])
        systems.append(s)
    return dataclasses.replace(
        work, disclosure=dataclasses.replace(work.disclosure, systems=tuple(systems))
    )


def register_work(reg: Registry, identity: Identity, work: Work, content: Path) -> Receipt:
    """Digest ``content``, check it against the work's stated digest, sign and submit."""
    if not content.is_file():
        raise ModelkinError(content, "no such content file")
    digest = sha256_file(content)
    if work.sha256 is not None and work.sha256 != digest:
        raise ModelkinError(
            content, f"sha256 {digest} differs from the work record's sha256 {work.sha256}"
        )
    work = _resolve_models(dataclasses.replace(work, sha256=digest), reg)
    return submit_predicate(reg, identity, "work", [(content.name, digest)], work.to_dict())
