"""The Works pages: list works with tier and term; one page per work; register through a form.

A work's page shows what a reader needs without reading JSON: the tier and the human
contribution, the reasons, every inference (with source and citation) and conflict, the term
in every jurisdiction with the rule that decided and why an open end is open, the disclosure
label, and the C2PA validation state (an unverified disclosure says so).

The form needs a signer: the operator names one key file (``ServerSettings.ui_signer``,
e.g. the demo identity). Without it, when the operator requires API tokens for writes, or
on a read-only registry, the page says how to submit a signed statement instead and the
form is not shown. Because the form signs with the operator's key, a post must come from
this server's own page: it carries a CSRF token and its origin is checked (:mod:`.csrf`).
The list shows one page of works, newest first (``before`` continues to older ones).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from modelkin.errors import ModelkinError
from modelkin.registry import pages
from modelkin.server.api_works import work_of
from modelkin.server.deps import get_state
from modelkin.server.guards import check_write, require_organisation
from modelkin.server.orgs import identity_organisation
from modelkin.server.state import ServerState
from modelkin.server.ui import PAGE, page
from modelkin.statements import Identity
from modelkin.works import AI_ROLES, WORK_KINDS, builtin_pack_ids, classify, compute_term, load_pack
from modelkin.works.disclosure import disclosure_rows
from modelkin.works.record import work_from_dict
from modelkin.works.register import register_work
from modelkin.works.terms import compare_terms

router = APIRouter(include_in_schema=False)
State = Annotated[ServerState, Depends(get_state)]
MAX_CONTENT = 32 << 20


def _rows(records: list[Any], pack: str) -> list[dict[str, Any]]:
    rules = load_pack(pack)
    rows = []
    for rec in records:
        work = work_from_dict(rec.predicate, f"work {rec.id[:12]}")
        c = classify(work)
        rows.append(
            {
                "rec": rec,
                "work": work,
                "tier": c,
                "term": compute_term(work, c.tier, rules, contribution=c.contribution),
            }
        )
    return rows


@router.get("/works", response_class=HTMLResponse)
def works(
    request: Request,
    state: State,
    pack: Annotated[str, Query(pattern="^(" + "|".join(builtin_pack_ids()) + ")$")] = "uk-cdpa",
    registered: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    found = pages.records_page(state.registry, "work", after=before, limit=PAGE, newest_first=True)
    return page(
        request, "works.html", rows=_rows(found.items, pack), pack=pack,
        packs=builtin_pack_ids(), kinds=WORK_KINDS, roles=AI_ROLES,
        can_register=state.settings.web_form_enabled, registered=registered,
        older=found.next_after,
    )  # fmt: skip


@router.get("/works/{ref}", response_class=HTMLResponse)
def work_page(request: Request, state: State, ref: str) -> HTMLResponse:
    """One work: tier, reasons, inferences, conflicts, terms everywhere, disclosure, C2PA."""
    rid, work = work_of(state.registry, ref)
    rec = state.registry.record(rid, "work")
    c = classify(work)
    return page(
        request, "work.html", rec=rec, work=work, c=c, terms=compare_terms(work, c),
        disclosure=disclosure_rows(work, c), c2pa=work.disclosure.c2pa,
    )  # fmt: skip


@router.post("/works", response_class=HTMLResponse)
def register(
    request: Request,
    state: State,
    title: Annotated[str, Form(min_length=1, max_length=500)],
    kind: Annotated[str, Form()],
    created: Annotated[str, Form()],
    author: Annotated[str, Form(min_length=1, max_length=200)],
    content: Annotated[UploadFile, File()],
    ai_system: Annotated[str, Form(max_length=200)] = "",
    ai_role: Annotated[str, Form()] = "none",
    ai_share: Annotated[str, Form(max_length=10)] = "",
    human_contribution: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Build the work from the form, sign it with the operator's UI key, submit it."""
    state.csrf.check(request, csrf_token)  # first: a forged post learns nothing more
    org = check_write(request, state.settings, state.limiter)  # read-only, tokens, rate
    if state.settings.ui_signer is None or not state.settings.web_form_enabled:
        raise ModelkinError("works form", "this server does not sign works from the web form")
    systems = [{"name": ai_system, "role": ai_role}] if ai_system.strip() else []
    data: dict[str, Any] = {
        "title": title,
        "kind": kind,
        "created": created,
        "authors": [{"name": author, "human": True}],
        "ai_use": {
            "systems": systems,
            "ai_share": float(ai_share) if _is_number(ai_share) else None,
            "human_contribution": human_contribution or None,
        },
    }
    if ai_share.strip() and not _is_number(ai_share):
        raise ModelkinError("AI share", "give a number between 0 and 1, or leave it empty")
    work = work_from_dict(data, "works form")
    identity = Identity.load(state.settings.ui_signer)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(content.filename or "content").name or "content")
        size = 0
        with path.open("wb") as out:
            while chunk := content.file.read(1 << 16):
                size += len(chunk)
                if size > MAX_CONTENT:
                    raise ModelkinError("content", "file is larger than the form accepts")
                out.write(chunk)

        def append() -> Any:
            if org is not None:
                require_organisation(org, identity_organisation(state.registry, identity.keyid))
            return register_work(state.registry, identity, work, path)

        receipt = state.locked(append)
    return RedirectResponse(f"/works?registered={receipt.record_id}", status_code=303)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
