"""Registry endpoints: submit a signed statement; read records, lineage, labels, exports.

Submission takes a DSSE envelope (JSON) exactly as :meth:`Registry.submit` does; the
registry verifies the signature against the signer's registered key and the predicate's
schema, logs it and answers with index + inclusion proof + signed checkpoint.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from modelkin.errors import ModelkinError
from modelkin.labels import build_label
from modelkin.labels.outputs import EXPORT_FORMATS, LABEL_FORMATS, MEDIA_TYPES, export, render
from modelkin.registry import pages
from modelkin.server import attachments
from modelkin.server.deps import get_state
from modelkin.server.guards import check_write, require_organisation
from modelkin.server.headers import document_headers
from modelkin.server.orgs import signer_organisation
from modelkin.server.paging import (
    DEFAULT_LIMIT,
    Cursor,
    Limit,
    decode_index,
    decode_name,
    encode_index,
    encode_name,
    page_response,
)
from modelkin.server.state import ServerState

router = APIRouter(prefix="/api/v1", tags=["registry"])
State = Annotated[ServerState, Depends(get_state)]
Ref = Annotated[str, "record id, id prefix (>= 8 hex), subject digest or name"]

ENVELOPE_EXAMPLE = {
    "payloadType": "application/vnd.in-toto+json",
    "payload": "<base64 in-toto Statement v1>",
    "signatures": [{"keyid": "<registered key id>", "sig": "<base64 Ed25519 over PAE>"}],
}


@router.post("/statements", status_code=201, summary="Submit a signed statement")
def submit(
    request: Request,
    state: State,
    envelope: Annotated[dict[str, Any], Body(examples=[ENVELOPE_EXAMPLE])],
) -> JSONResponse:
    """Verify, log and store one DSSE envelope; returns the ledger receipt."""
    org = check_write(request, state.settings, state.limiter)

    def append() -> Any:
        if org is not None:
            require_organisation(org, signer_organisation(state.registry, envelope))
        receipt = state.registry.submit(envelope)
        state.publish_tiles()
        return receipt

    receipt = state.locked(append)
    return JSONResponse(receipt.to_dict(), status_code=201)


@router.post(
    "/statements/with-blobs",
    status_code=201,
    summary="Submit a signed statement with the blobs it names (fingerprint, OMS bundle)",
)
def submit_with_blobs(
    request: Request,
    state: State,
    envelope: Annotated[UploadFile, File(description="the DSSE envelope, as a JSON file")],
    blob: Annotated[
        list[UploadFile] | None,
        File(description="a blob the statement names by sha256 (repeatable)"),
    ] = None,
) -> JSONResponse:
    """As ``POST /statements``, for statements that name blobs the server lacks: a model's
    fingerprint (so models registered over HTTP get the same lineage checks as local ones),
    its OpenSSF signing bundle, a training run's loss curve. Every blob must be one the
    signed statement names; a fingerprint must be the one whose digest it signs. Blobs are
    kept only when the statement is accepted."""
    org = check_write(request, state.settings, state.limiter)
    env = attachments.read_envelope(envelope, state.settings.max_body_bytes)
    with tempfile.TemporaryDirectory(prefix="modelkin-upload-") as tmp:
        found = attachments.prepare(env, list(blob or []), Path(tmp))

        def append() -> Any:
            if org is not None:
                require_organisation(org, signer_organisation(state.registry, env))
            with attachments.staged(state.registry.blobs, found):
                receipt = state.registry.submit(env)
            state.publish_tiles()
            return receipt

        receipt = state.locked(append)
    return JSONResponse(receipt.to_dict(), status_code=201)


def _records(request: Request, found: pages.RecordPage) -> JSONResponse:
    nxt = encode_index(found.next_after) if found.next_after is not None else None
    return page_response(request, [r.to_dict() for r in found.items], nxt)


def _kind_list(kind: str, summary: str) -> None:
    """Register ``GET /api/v1/<kind>s``: one cursor page of active records of ``kind``."""

    def listing(
        request: Request, state: State, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> JSONResponse:
        found = pages.records_page(state.registry, kind, after=decode_index(cursor), limit=limit)
        return _records(request, found)

    listing.__name__ = f"list_{kind.replace('-', '_')}s"
    router.add_api_route(f"/{kind}s", listing, methods=["GET"], summary=summary)


_kind_list("model", "Registered models (cursor pages, ledger order)")
_kind_list("dataset", "Registered datasets (cursor pages, ledger order)")
_kind_list("training-run", "Registered training runs (cursor pages, ledger order)")
_kind_list("product", "Registered products (cursor pages, ledger order)")
_kind_list("work", "Registered works (cursor pages, ledger order)")


@router.get("/identities", summary="Registered signing identities (cursor pages, by name)")
def identities(
    request: Request, state: State, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> JSONResponse:
    found = pages.identities_page(state.registry, after=decode_name(cursor), limit=limit)
    nxt = encode_name(found.next_after) if found.next_after is not None else None
    return page_response(request, found.items, nxt)


@router.get("/search", summary="Search by name, organisation or digest (cursor pages)")
def search(
    request: Request,
    state: State,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    kind: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> JSONResponse:
    """Text is matched literally (``%`` and ``_`` are ordinary characters); a hex string
    also matches record ids and subject digests that start with it."""
    found = pages.search_page(state.registry, q, kind, after=decode_index(cursor), limit=limit)
    return _records(request, found)


@router.get("/records/{ref}", summary="One record with its envelope")
def record(ref: Ref, state: State) -> dict[str, Any]:
    return state.registry.record(ref).to_dict(envelope=True)


@router.get("/records/{ref}/proof", summary="Inclusion proof of a record's ledger entry")
def record_proof(ref: Ref, state: State) -> dict[str, Any]:
    rec = state.registry.record(ref)
    return state.locked(lambda: state.registry.inclusion_proof(rec.ledger_index))


@router.get("/models/{ref}", summary="One model")
def model(ref: Ref, state: State) -> dict[str, Any]:
    return state.registry.model(ref).to_dict()


@router.get("/models/{ref}/derivations", summary="Lineage claims about a model (cursor pages)")
def derivations(
    request: Request, ref: Ref, state: State, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> JSONResponse:
    found = pages.derivations_page(state.registry, ref, after=decode_index(cursor), limit=limit)
    return _records(request, found)


def _digest(state: ServerState, ref: str) -> str:
    """The model's manifest digest: ``Registry.lineage`` reads any 64-hex string as a digest,
    so a record id must be resolved first."""
    return str(state.registry.model(ref).digest)


@router.get("/models/{ref}/lineage", summary="Lineage graph with evidence per edge")
def lineage(ref: Ref, state: State) -> dict[str, Any]:
    graph = state.locked(lambda: state.registry.lineage(_digest(state, ref)))
    return graph.to_dict()


@router.get(
    "/models/{ref}/lineage.svg",
    summary="Lineage graph as SVG",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def lineage_svg(ref: Ref, state: State) -> Response:
    graph = state.locked(lambda: state.registry.lineage(_digest(state, ref)))
    return Response(state.registry.lineage_svg(graph), media_type="image/svg+xml")


@router.get(
    "/models/{ref}/lineage.png",
    summary="Lineage graph as PNG",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def lineage_png(ref: Ref, state: State) -> Response:
    from modelkin.registry.svg import lineage_png as draw_png

    graph = state.locked(lambda: state.registry.lineage(_digest(state, ref)))
    return Response(draw_png(graph), media_type="image/png")


def _label(state: ServerState, ref: str) -> Any:
    return state.locked(lambda: build_label(state.registry, ref))


@router.get(
    "/models/{ref}/label",
    summary="Nutrition label",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES[f].split(";")[0]: {} for f in LABEL_FORMATS}}},
)
def label(
    ref: Ref,
    state: State,
    format: Annotated[str, Query(pattern="^(" + "|".join(LABEL_FORMATS) + ")$")] = "json",
) -> Response:
    """The model's label in html, svg, png, json or md."""
    body = render(_label(state, ref), format)
    headers = document_headers() if format == "html" else None  # framed by the model page
    return Response(body, media_type=MEDIA_TYPES[format], headers=headers)


@router.get(
    "/models/{ref}/export/{fmt}",
    summary="Standard export (CycloneDX, SPDX 3, HF card)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}},
)
def export_label(ref: Ref, fmt: str, state: State) -> Response:
    if fmt not in EXPORT_FORMATS:
        raise ModelkinError("fmt", f"unknown export format; use one of {', '.join(EXPORT_FORMATS)}")
    body = export(_label(state, ref), fmt)
    ext = "md" if fmt == "hf-card" else "json"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{fmt}.{ext}"'},
    )
