"""Server-rendered pages (Jinja2): readable without JavaScript, on a phone, by keyboard.

Pages only gather what the library already computes (records, lineage with verdicts,
labels, proofs) and hand it to templates; autoescaping is on for every template.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from modelkin.errors import ModelkinError, NotFoundError
from modelkin.forensics import render_html
from modelkin.labels.outputs import EXPORT_FORMATS
from modelkin.registry import pages
from modelkin.registry.core import checkpoint_size
from modelkin.server.api_forensics import load_upload
from modelkin.server.candidates import compare_models
from modelkin.server.csrf import CsrfGuard
from modelkin.server.deps import get_state
from modelkin.server.headers import document_headers
from modelkin.server.state import ServerState
from modelkin.server.witnesses import witness_rows

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
State = Annotated[ServerState, Depends(get_state)]
RECENT = 10
PAGE = 50


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """Render one template with the common context: every page carries this browser's
    CSRF form token (``csrf_token``), setting the cookie it is bound to on first visit."""
    state: ServerState | None = getattr(request.app.state, "modelkin", None)
    cookie = None
    if state is not None:
        ctx["csrf_token"], cookie = state.csrf.issue(request)
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    if cookie is not None:
        CsrfGuard.set_cookie(request, response, cookie)
    return response


def _status(state: ServerState) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        checkpoint = str(state.ledger.checkpoint())
        size = checkpoint_size(checkpoint)
        return {"checkpoint": checkpoint, "size": size, "witnesses": witness_rows(state, size)}

    return state.locked(read)


#: home page numbers: (list path, record kind, noun)
NUMBERS = (
    ("/models", "model", "model"),
    ("/claims", "derivation", "lineage claim"),
    ("/datasets", "dataset", "dataset"),
    ("/runs", "training-run", "training run"),
    ("/products", "product", "product"),
    ("/works", "work", "work"),
)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: State) -> HTMLResponse:
    """The story on one screen: numbers (links), lineage claims with their verdicts, the
    models, the ledger and its witnesses, the newest records. Bounded queries only."""
    from modelkin.server.ui_records import claim_of

    reg = state.registry
    recent = pages.records_page(
        reg,
        newest_first=True,
        limit=RECENT,
        exclude_kinds=("identity", "verification"),  # shown with the claims they check
    ).items
    models = pages.records_page(reg, "model", newest_first=True, limit=RECENT).items
    claims = []
    for rec in pages.claims_page(reg, limit=RECENT).items:
        claim = claim_of(state, rec)
        claim.update(id=rec.id, signer=rec.signer_name or rec.signer_keyid[:12])
        claims.append(claim)
    return page(
        request, "home.html", ledger=_status(state), recent=recent, counts=state.kind_counts(),
        models=models, claims=claims, numbers=NUMBERS,
    )  # fmt: skip


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request,
    state: State,
    q: Annotated[str, Query(max_length=200)] = "",
    after: Annotated[int | None, Query(ge=0)] = None,
) -> HTMLResponse:
    found = pages.search_page(state.registry, q, after=after, limit=PAGE)
    return page(request, "search.html", q=q, results=found.items, next_after=found.next_after)


@router.get("/models/{ref}", response_class=HTMLResponse)
def model(request: Request, ref: str, state: State) -> HTMLResponse:
    rec = state.registry.model(ref)

    from modelkin.server.proofview import proof_view

    graph = state.locked(lambda: state.registry.lineage(str(rec.digest)))
    # The label and the SVG graph load as <iframe>/<img> from the API: user-supplied names
    # inside them can never run script in this page.
    return page(
        request, "model.html", rec=rec, graph=graph, pv=proof_view(state, rec.ledger_index),
        exports=list(EXPORT_FORMATS),
    )  # fmt: skip


@router.get("/ledger", response_class=HTMLResponse)
def ledger(
    request: Request,
    state: State,
    start: Annotated[int | None, Query(ge=0)] = None,
    verify: bool = False,
) -> HTMLResponse:
    def gather() -> dict[str, Any]:
        checkpoint = str(state.ledger.checkpoint())
        size = checkpoint_size(checkpoint)
        first = max(0, size - PAGE) if start is None else min(start, max(0, size - 1))
        stop = min(size, first + PAGE)
        newest = state.ledger.checkpoints_page(limit=20, newest_first=True)
        history = [note for _, note in newest]  # newest first, as the page lists them
        result: Any = None
        if verify:
            try:
                report = state.ledger.verify()
                problems = list(report.problems)
                result = {
                    "ok": bool(report.ok),
                    "detail": f"{report.size} entries, {report.checkpoints} checkpoints"
                    + (": " + "; ".join(problems[:10]) if problems else ""),
                }
            except ModelkinError as exc:
                result = {"ok": False, "detail": str(exc)}
        return {
            "checkpoint": checkpoint,
            "size": size,
            "first": first,
            "stop": stop,
            "history": history,
            "verification": result,
            "verifier_key": str(state.ledger.verifier_key()),
        }

    if verify:
        with state.work.slot():  # admitted by the work budget (a whole-log recomputation)
            ctx = state.locked(gather)
    else:
        ctx = state.locked(gather)
    by_index = pages.records_in_range(state.registry, ctx["first"], ctx["stop"])
    rows = [(i, by_index.get(i)) for i in range(ctx["first"], ctx["stop"])]
    return page(request, "ledger.html", rows=list(reversed(rows)), page_size=PAGE, **ctx)


def _default_pair(state: ServerState, recent: list[Any]) -> tuple[str | None, str | None]:
    """Two different models to start from: the newest lineage claim's child and parent
    (a question the registry has an answer to), else the two newest models."""
    for rec in pages.claims_page(state.registry, limit=5).items:
        child = rec.predicate.get("child")
        parents = rec.predicate.get("parents") or []
        if isinstance(child, dict) and parents and isinstance(parents[0], dict):
            a, b = child.get("name"), parents[0].get("name")
            if a and b and a != b:
                return str(a), str(b)
    names = [m.name for m in recent if m.name]
    return (names[0], names[1]) if len(names) >= 2 else (None, None)


@router.get("/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    state: State,
    suspect: Annotated[str | None, Query(max_length=200)] = None,
    candidate: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Name two registered models; the summary is rendered here and the forensics
    package's full report (plots) is framed below it, inside the site's layout.

    The pickers suggest the newest models only: a registry of 100k models does not fit in a
    page, and any name, id or digest may be typed."""
    recent = pages.records_page(state.registry, "model", newest_first=True, limit=PAGE).items
    report = None
    if suspect and candidate:
        with state.work.slot():
            report = compare_models(state.registry, suspect, candidate)
        report_url = (
            f"/api/v1/forensics/compare?suspect={quote(suspect)}&candidate={quote(candidate)}"
            "&format=html"
        )
    else:
        report_url = None
        suspect, candidate = _default_pair(state, recent)
    return page(
        request, "compare.html", models=recent, suspect=suspect, candidate=candidate,
        report=report, report_url=report_url,
    )  # fmt: skip


@router.post("/compare", response_class=HTMLResponse)
def compare_uploads(
    request: Request,
    state: State,
    suspect: Annotated[UploadFile, File()],
    candidate: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    """Two uploaded fingerprints -> the compare page with their report, named by the files
    uploaded; the full report is kept a while for the frame (:data:`UPLOADED`)."""
    from modelkin.forensics import compare as compare_fps

    state.csrf.check(request, csrf_token)
    a, b = load_upload(suspect, "suspect"), load_upload(candidate, "candidate")
    with state.work.slot():
        report = compare_fps(a, b)
    report.suspect["name"] = suspect.filename or report.suspect.get("name")
    report.candidate["name"] = candidate.filename or report.candidate.get("name")
    token = secrets.token_urlsafe(16)
    with _UPLOADED_LOCK:
        UPLOADED[token] = render_html(report)
        while len(UPLOADED) > 32:
            UPLOADED.popitem(last=False)
    recent = pages.records_page(state.registry, "model", newest_first=True, limit=PAGE).items
    return page(
        request, "compare.html", models=recent, suspect=None, candidate=None, report=report,
        report_url=f"/compare/uploaded/{token}", uploaded=True,
    )  # fmt: skip


#: Full reports of recent uploaded comparisons, by an unguessable token (bounded, in memory).
UPLOADED: OrderedDict[str, str] = OrderedDict()
_UPLOADED_LOCK = threading.Lock()


@router.get("/compare/uploaded/{token}", response_class=HTMLResponse)
def uploaded_report(token: str) -> HTMLResponse:
    with _UPLOADED_LOCK:
        body = UPLOADED.get(token)
    if body is None:
        raise NotFoundError("report", "no such report (reports of uploads are kept a while only)")
    return HTMLResponse(body, headers=document_headers())
