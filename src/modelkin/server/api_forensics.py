"""Forensics endpoints: 1:N candidates for an uploaded fingerprint; compare two models.

Uploads are fingerprints (``modelkin fingerprint`` output), never weights: a few hundred
KiB, read through :meth:`Fingerprint.load`'s bounded, validating reader.

Both are CPU-heavy and open to anyone, so both go through the server's work budget
(:mod:`.budget`): admitted before their body is read, computed in a bounded number of
slots.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response

from modelkin.errors import ModelkinError
from modelkin.fingerprint import Fingerprint
from modelkin.forensics import render_html
from modelkin.server.candidates import compare_models, rank
from modelkin.server.deps import get_state
from modelkin.server.headers import document_headers
from modelkin.server.state import ServerState

router = APIRouter(prefix="/api/v1/forensics", tags=["forensics"])
State = Annotated[ServerState, Depends(get_state)]
MAX_UPLOAD = 32 << 20


def load_upload(upload: UploadFile, where: str) -> Fingerprint:
    """Spool an uploaded fingerprint to a temp file and load it (bounded)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.fp"
        size = 0
        with path.open("wb") as out:
            while chunk := upload.file.read(1 << 16):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise ModelkinError(where, "fingerprint upload is too large")
                out.write(chunk)
        try:
            return Fingerprint.load(path)
        except ModelkinError as exc:
            raise ModelkinError(upload.filename or where, exc.problem) from None


@router.post("/candidates", summary="1:N: which registered models is this fingerprint related to?")
def candidates(
    state: State,
    fingerprint: Annotated[UploadFile, File(description="a modelkin fingerprint file")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Compare the uploaded fingerprint with every fingerprinted registered model."""
    query = load_upload(fingerprint, "fingerprint")
    with state.work.slot():
        found = rank(state.registry, query, limit)
    return {"count": len(found), "candidates": [c.to_dict() for c in found]}


@router.get(
    "/compare",
    summary="Compare two registered models",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def compare(
    state: State,
    suspect: Annotated[str, Query(min_length=1, max_length=200)],
    candidate: Annotated[str, Query(min_length=1, max_length=200)],
    format: Annotated[str, Query(pattern="^(json|html)$")] = "json",
) -> Response:
    """The forensic evidence report for ``suspect`` against ``candidate``."""
    with state.work.slot():
        report = compare_models(state.registry, suspect, candidate)
    if format == "html":
        return HTMLResponse(render_html(report), headers=document_headers())
    return JSONResponse(report.to_dict())
