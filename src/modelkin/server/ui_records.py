"""Pages for every record kind and the lists a newcomer browses (HTML, never raw JSON).

* ``/models``, ``/datasets``, ``/claims``, ``/runs``, ``/products``: one bounded page of
  records, newest first, with a text filter (``q``: name, organisation, statement text or a
  digest prefix) and, for claims, a verdict filter; ``before`` continues to older records.
* ``/records/{ref}``: any record (a model or work redirects to its own page), its fields as
  definition lists, a lineage claim as "child ← parent" with what the weights say, and the
  ledger inclusion proof checked here and again in the browser (:mod:`.proofview`).
* ``/ledger/{index}``: one ledger entry with its proof, whatever kind of statement it is.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.registry import pages
from modelkin.registry.results import Record
from modelkin.server.deps import get_state
from modelkin.server.proofview import proof_view
from modelkin.server.state import ServerState
from modelkin.server.ui import PAGE, page

router = APIRouter(include_in_schema=False)
State = Annotated[ServerState, Depends(get_state)]

#: list path -> (record kind, heading, what one row is called)
LISTS: dict[str, tuple[str, str, str]] = {
    "models": ("model", "Models", "model"),
    "datasets": ("dataset", "Datasets", "dataset"),
    "claims": ("derivation", "Lineage claims", "claim"),
    "runs": ("training-run", "Training runs", "training run"),
    "products": ("product", "Products", "product"),
}
VERDICTS = ("verified", "contradicted", "unverifiable", "unchecked")


def _name_of(ref: dict[str, Any] | None) -> str:
    if not isinstance(ref, dict):
        return "?"
    return str(ref.get("name") or str(ref.get("sha256", "?"))[:12])


def claim_of(state: ServerState, rec: Record) -> dict[str, Any]:
    """A derivation as "child ← relation ← parents", with record ids for links where the
    registry knows the models (looked up by digest: an index read each)."""

    def model_id(ref: Any) -> str | None:
        if not isinstance(ref, dict) or not ref.get("sha256"):
            return None
        try:
            return state.registry.model(str(ref["sha256"])).id
        except (NotFoundError, ModelkinError):
            return None

    p = rec.predicate
    raw = p.get("parents")
    parents: list[Any] = raw if isinstance(raw, list) else []
    return {
        "child": _name_of(p.get("child")),
        "child_id": model_id(p.get("child")),
        "relation": str(p.get("relation", "?")),
        "parents": [{"name": _name_of(x), "id": model_id(x)} for x in parents],
        "verdict": rec.verifications[0].verdict if rec.verifications else None,
    }


def listing_page(
    request: Request,
    state: State,
    listing: str,
    q: str,
    verdict: str | None,
    before: int | None,
) -> HTMLResponse:
    kind, heading, noun = LISTS[listing]
    if q.strip():
        found = pages.search_page(state.registry, q, kind, after=before, limit=PAGE)
    elif kind == "derivation":
        found = pages.claims_page(state.registry, verdict, after=before, limit=PAGE)
    else:
        found = pages.records_page(
            state.registry, kind, after=before, limit=PAGE, newest_first=True
        )
    claims = [claim_of(state, r) for r in found.items] if kind == "derivation" else []
    return page(
        request, "listing.html", listing=listing, kind=kind, heading=heading, noun=noun,
        records=found.items, claims=claims, q=q, verdict=verdict, verdicts=VERDICTS,
        older=found.next_after, total=state.kind_counts().get(kind, 0),
    )  # fmt: skip


def _list_route(listing: str) -> None:
    """``GET /<listing>``: one explicit route per list (a ``/{listing}`` pattern would
    shadow routes added after this router)."""

    def route(
        request: Request,
        state: State,
        q: Annotated[str, Query(max_length=200)] = "",
        verdict: Annotated[str | None, Query(pattern="^(" + "|".join(VERDICTS) + ")$")] = None,
        before: Annotated[int | None, Query(ge=0)] = None,
    ) -> HTMLResponse:
        return listing_page(request, state, listing, q, verdict, before)

    router.add_api_route(
        f"/{listing}", route, methods=["GET"], response_class=HTMLResponse, name=f"{listing}_list"
    )


for _listing in LISTS:
    _list_route(_listing)


@router.get("/records/{ref}", response_class=HTMLResponse, response_model=None)
def record(request: Request, ref: str, state: State) -> Response:
    rec = state.registry.record(ref)
    if rec.kind == "model":
        return RedirectResponse(f"/models/{rec.id}", status_code=303)
    if rec.kind == "work":
        return RedirectResponse(f"/works/{rec.id}", status_code=303)
    pv = proof_view(state, rec.ledger_index)
    shown = dict(rec.predicate)
    claim = None
    if rec.kind == "derivation":
        claim = claim_of(state, rec)
        for key in ("child", "parents", "relation", "notes"):
            shown.pop(key, None)
    listing = next((path for path, spec in LISTS.items() if spec[0] == rec.kind), None)
    title = (
        f"{claim['child']} ← {', '.join(x['name'] for x in claim['parents']) or 'scratch'}"
        if claim
        else rec.name or rec.id[:12]
    )
    return page(
        request, "record.html", rec=rec, pv=pv, shown=shown, claim=claim, title=title,
        list_url=f"/{listing}" if listing else None,
        list_name=LISTS[listing][1] if listing else None,
    )  # fmt: skip


@router.get("/ledger/{index}", response_class=HTMLResponse)
def ledger_entry(request: Request, index: int, state: State) -> HTMLResponse:
    """One entry: the record it holds (a link), its statement's fields, and its proof."""
    pv = proof_view(state, index)
    by_index = pages.records_in_range(state.registry, index, index + 1)
    rec = by_index.get(index)
    statement: Any = None
    if pv.entry_b64 is not None:
        statement = _statement_of(base64.b64decode(pv.entry_b64))
    return page(request, "entry.html", pv=pv, rec=rec, statement=statement)


def _statement_of(entry: bytes) -> Any:
    """What an entry says: the in-toto statement of a registry leaf's DSSE envelope, else
    the entry's own JSON fields (a bounded leaf, a control entry), else None."""
    try:
        obj = json.loads(entry)
    except ValueError:
        return None
    env = obj.get("envelope") if isinstance(obj, dict) else None
    if isinstance(env, dict) and isinstance(env.get("payload"), str):
        try:
            return json.loads(base64.b64decode(env["payload"], validate=True))
        except (ValueError, TypeError):
            return obj
    return obj
