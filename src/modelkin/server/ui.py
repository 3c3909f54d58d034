"""Server-rendered pages (Jinja2): readable without JavaScript, on a phone, by keyboard.

Pages only gather what the library already computes (records, lineage with verdicts,
labels, proofs) and hand it to templates; autoescaping is on for every template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from modelkin.errors import ModelkinError
from modelkin.forensics import render_html
from modelkin.labels.outputs import EXPORT_FORMATS
from modelkin.registry.core import checkpoint_size
from modelkin.server.api_forensics import load_upload
from modelkin.server.candidates import compare_models
from modelkin.server.deps import get_state
from modelkin.server.state import ServerState
from modelkin.server.witnesses import witness_rows

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
State = Annotated[ServerState, Depends(get_state)]
RECENT = 10
PAGE = 50


def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    """Render one template with the common context."""
    return templates.TemplateResponse(request, name, ctx, status_code=status)


def _status(state: ServerState) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        checkpoint = str(state.ledger.checkpoint())
        size = checkpoint_size(checkpoint)
        return {"checkpoint": checkpoint, "size": size, "witnesses": witness_rows(state, size)}

    return state.locked(read)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: State) -> HTMLResponse:
    records = state.registry.records()
    recent = [r for r in reversed(records) if r.kind != "identity"][:RECENT]
    counts: dict[str, int] = {}
    for r in records:
        counts[r.kind] = counts.get(r.kind, 0) + 1
    return page(request, "home.html", ledger=_status(state), recent=recent, counts=counts)


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request, state: State, q: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    results = state.registry.search(q) if q.strip() else []
    return page(request, "search.html", q=q, results=results)


@router.get("/models/{ref}", response_class=HTMLResponse)
def model(request: Request, ref: str, state: State) -> HTMLResponse:
    rec = state.registry.model(ref)

    def gather() -> tuple[Any, dict[str, Any]]:
        return state.registry.lineage(str(rec.digest)), state.registry.inclusion_proof(
            rec.ledger_index
        )

    graph, proof = state.locked(gather)
    # The label and the SVG graph load as <iframe>/<img> from the API: user-supplied names
    # inside them can never run script in this page.
    return page(
        request, "model.html", rec=rec, graph=graph, proof=proof, exports=list(EXPORT_FORMATS)
    )


@router.get("/records/{ref}", response_class=HTMLResponse)
def record(request: Request, ref: str, state: State) -> HTMLResponse:
    rec = state.registry.record(ref)
    return page(request, "record.html", rec=rec)


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
        history = [str(c) for c in state.ledger.checkpoints()][-20:]
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
            "history": list(reversed(history)),
            "verification": result,
            "verifier_key": str(state.ledger.verifier_key()),
        }

    ctx = state.locked(gather)
    by_index = {r.ledger_index: r for r in state.registry.records(include_inactive=True)}
    rows = [(i, by_index.get(i)) for i in range(ctx["first"], ctx["stop"])]
    return page(request, "ledger.html", rows=list(reversed(rows)), page_size=PAGE, **ctx)


@router.get("/compare", response_class=HTMLResponse)
def compare(
    request: Request,
    state: State,
    suspect: Annotated[str | None, Query(max_length=200)] = None,
    candidate: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """Pick two registered models; the report is the forensics package's own HTML."""
    models = state.registry.models()
    report = None
    if suspect and candidate:
        report = compare_models(state.registry, suspect, candidate)
    return page(
        request, "compare.html", models=models, suspect=suspect, candidate=candidate,
        report=report,
    )  # fmt: skip


@router.post("/compare", response_class=HTMLResponse)
def compare_uploads(
    suspect: Annotated[UploadFile, File()],
    candidate: Annotated[UploadFile, File()],
) -> HTMLResponse:
    """Two uploaded fingerprints -> the evidence report page."""
    from modelkin.forensics import compare as compare_fps

    report = compare_fps(load_upload(suspect, "suspect"), load_upload(candidate, "candidate"))
    return HTMLResponse(render_html(report))
