"""Works endpoints: a registered work's classification (tier) and protection term.

Importing :mod:`modelkin.works.register` registers the ``work`` statement kind with the
registry, so work statements can be submitted through ``POST /api/v1/statements``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from modelkin.registry import Registry
from modelkin.server.deps import get_state
from modelkin.server.state import ServerState
from modelkin.works import Classification, Work, builtin_pack_ids, classify, compute_term, load_pack
from modelkin.works import register as _register_kind  # noqa: F401  (registers "work")
from modelkin.works.record import work_from_dict

router = APIRouter(prefix="/api/v1/works", tags=["works"])
State = Annotated[ServerState, Depends(get_state)]
PACKS = "^(" + "|".join(builtin_pack_ids()) + ")$"


def work_of(registry: Registry, ref: str) -> tuple[str, Work]:
    """(record id, work) for a registered work."""
    rec = registry.record(ref, "work")
    return rec.id, work_from_dict(rec.predicate, f"work {rec.id[:12]}")


def classification_dict(c: Classification) -> dict[str, Any]:
    return c.to_dict()


@router.get("/{ref}/classification", summary="A work's tier: human, AI-assisted, AI-generated")
def classification(ref: str, state: State) -> dict[str, Any]:
    rid, work = work_of(state.registry, ref)
    return {"record_id": rid, **classification_dict(classify(work))}


@router.get("/{ref}/terms", summary="A work's protection term under a jurisdiction's rule pack")
def terms(
    ref: str,
    state: State,
    pack: Annotated[str, Query(pattern=PACKS)] = "uk-cdpa",
) -> dict[str, Any]:
    rid, work = work_of(state.registry, ref)
    c = classify(work)
    result = compute_term(work, c.tier, load_pack(pack), contribution=c.contribution)
    return {"record_id": rid, **result.to_dict()}
