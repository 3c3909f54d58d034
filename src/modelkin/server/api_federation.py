"""Federation endpoints: the log as tiles, the trust policy, witnessed checkpoints,
self-proving lookups across peer registries, and mirrors.

* ``GET /tile/<L>/<N>[.p/<W>]``, ``GET /tile/entries/<N>[.p/<W>]``: this log's
  c2sp.org/tlog-tiles, built from the ledger on request (any width the tree covers), so
  ``<server>/`` is a tlog-tiles prefix (with ``GET /checkpoint``) that mirrors follow.
* ``GET /api/v1/federation``: policy (as JSON for the browser check), peers, witness and
  witnessing state, the witnessed checkpoint, mirrors.
* ``GET /api/v1/federation/policy``: the policy as JSON (``?format=text``: the file).
* ``GET /api/v1/federation/witnessed?min_size=&timeout=``: the newest checkpoint the
  policy's quorum cosigned, waiting up to ``timeout`` seconds for one of ``min_size``.
* ``GET /api/v1/federation/proof/{index}``: a ``.tlog-proof`` against the witnessed
  checkpoint, with the witnesses that vouched for it.
* ``GET /api/v1/federation/local?digest=``: this registry's self-proving answers.
* ``GET /api/v1/federation/records/{ref}``: one record's self-proving answer.
* ``GET /api/v1/federation/lookup?digest=``: this registry's and every peer's answers,
  each verified here under the policy (clients verify again: see
  :func:`modelkin.federation.verify_answer`).
* ``POST /api/v1/federation/candidates``: fingerprint nearest neighbours from every
  peer's search API, each candidate with its self-proving answer.
* ``GET /mirror/<sha256(origin)>/checkpoint`` and ``/mirror/<sha256(origin)>/tile/...``:
  mirrored logs, read-only (c2sp.org/tlog-mirror's layout); ``GET /api/v1/mirrors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from modelkin.errors import LedgerError, ModelkinError, NotFoundError
from modelkin.federation.lookup import (
    answer_for_record,
    federated_candidates,
    federated_lookup,
    local_answers,
)
from modelkin.ledger.mirror import Mirror
from modelkin.ledger.tiles import WIDTH, HashSource, parse_tile_path, read_tile
from modelkin.ledger.tlogproof import format_proof
from modelkin.server.deps import get_state
from modelkin.server.federation import Federation, mirror_status
from modelkin.server.state import ServerState

router = APIRouter(tags=["federation"])
State = Annotated[ServerState, Depends(get_state)]
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
MUTABLE = {"Cache-Control": "no-cache"}
MAX_WAIT = 30.0


def tile_response(src: HashSource, path: str) -> Response:
    """A tile or entry bundle of ``src`` (404 when malformed or not covered yet)."""
    try:
        level, n, width = parse_tile_path(path)
        data = read_tile(src, level, n, width)
    except (LedgerError, NotFoundError) as exc:
        return PlainTextResponse(f"{exc.problem}\n", status_code=404)
    headers = IMMUTABLE if width == WIDTH else MUTABLE
    return Response(data, media_type="application/octet-stream", headers=headers)


def _fed(state: ServerState) -> Federation:
    fed = state.federation
    if fed is None:  # pragma: no cover - created in every app's lifespan
        raise NotFoundError("federation", "not configured")
    return fed


def _policy(state: ServerState) -> Any:
    fed = _fed(state)
    if fed.policy is None:
        raise NotFoundError("policy", "this server has no trust policy (see --policy)")
    return fed.policy


@router.get("/tile/{path:path}", include_in_schema=False)
def tile(path: str, state: State) -> Response:
    """This log's tiles (c2sp.org/tlog-tiles), computed from the ledger."""
    return state.locked(lambda: tile_response(state.ledger, f"tile/{path}"))


@router.get("/api/v1/federation", summary="Federation state of this registry")
def federation(state: State) -> dict[str, Any]:
    return _fed(state).status()


@router.get(
    "/api/v1/federation/policy",
    summary="The trust policy (JSON for the browser check, or the file)",
    responses={200: {"content": {"application/json": {}, "text/plain": {}}}},
)
def policy(
    state: State, format: Annotated[str, Query(pattern="^(json|text)$")] = "json"
) -> Response:
    pol = _policy(state)
    if format == "text":
        return PlainTextResponse(pol.text())  # one file, or each file after a "# path" line
    return JSONResponse(pol.to_json())


@router.get("/api/v1/federation/witnessed", summary="Newest checkpoint the quorum cosigned")
def witnessed(
    state: State,
    min_size: Annotated[int, Query(ge=0)] = 0,
    timeout: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
) -> dict[str, Any]:
    fed = _fed(state)
    note = fed.submitter.wait_witnessed(min_size, timeout) if fed.submitter else None
    if note is None or fed.own_policy is None:
        return {"checkpoint": None, "size": None, "vouched_by": [], "satisfied": False}
    v = fed.own_policy.check(note)
    return {
        "checkpoint": note,
        "size": v.checkpoint.size,
        "vouched_by": sorted(v.vouched),
        "satisfied": v.satisfied,
    }


@router.get("/api/v1/federation/proof/{index}", summary="Proof against the witnessed checkpoint")
def witnessed_proof(
    index: int,
    state: State,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
) -> dict[str, Any]:
    fed = _fed(state)
    if index < 0:
        raise NotFoundError(f"ledger index {index}", "indexes start at 0")
    note, size = fed.proof_source(index + 1, wait)
    if index >= size:
        raise NotFoundError(f"ledger index {index}", f"not in the tree of size {size}")
    proof = state.locked(lambda: state.ledger.inclusion_proof(index, size))
    out: dict[str, Any] = {"index": index, "tree_size": size,
                           "tlog_proof": format_proof(index, proof, note)}  # fmt: skip
    if fed.own_policy is not None:  # the policy naming this log judges its checkpoints
        v = fed.own_policy.check(note)
        out.update(
            satisfied=v.satisfied, vouched_by=sorted(v.vouched), policy=fed.own_policy.digest
        )
    else:
        out.update(satisfied=False, vouched_by=[], policy=None)
    return out


def _proofs(state: ServerState, wait: float) -> Callable[[int], tuple[str, int]]:
    fed = _fed(state)
    return lambda n: fed.proof_source(n, wait)


@router.get("/api/v1/federation/local", summary="This registry's self-proving answers")
def local(
    state: State,
    digest: Annotated[str, Query(min_length=64, max_length=64)],
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
) -> dict[str, Any]:
    answers = local_answers(state.registry, digest, _proofs(state, wait))
    return {"origin": _fed(state).origin, "answers": answers}


@router.get("/api/v1/federation/records/{ref}", summary="One record's self-proving answer")
def record_answer(
    ref: str, state: State, wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0
) -> dict[str, Any]:
    rec = state.registry.record(ref)
    return answer_for_record(state.registry, rec, _proofs(state, wait))


def _self_url(request: Request, state: ServerState) -> str:
    return state.settings.public_url or str(request.base_url).rstrip("/")


@router.get(
    "/api/v1/federation/lookup", summary="Which registered model, anywhere, has this digest"
)
def lookup(
    request: Request,
    state: State,
    digest: Annotated[str, Query(min_length=64, max_length=64)],
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
) -> dict[str, Any]:
    pol = _policy(state)
    local = local_answers(state.registry, digest, _proofs(state, wait))
    return federated_lookup(local, _self_url(request, state), _fed(state).peers, digest, pol)


@router.post("/api/v1/federation/candidates", summary="Fingerprint neighbours across peers")
def candidates(
    state: State,
    fingerprint: Annotated[UploadFile, File(description="a modelkin fingerprint file")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> dict[str, Any]:
    pol = _policy(state)
    data = fingerprint.file.read((32 << 20) + 1)
    if len(data) > 32 << 20:
        raise ModelkinError("fingerprint", "fingerprint upload is too large")
    name = fingerprint.filename or "query.fp"
    return federated_candidates(data, name, _fed(state).peers, pol, limit)


# ---- mirrors ---------------------------------------------------------------------------
def mirror_router(find: Callable[[Request, str], Mirror | None],
                  listing: Callable[[Request], list[Mirror]]) -> APIRouter:  # fmt: skip
    """Read-only routes serving mirrored logs (shared by ``serve`` and ``modelkin mirror``)."""
    r = APIRouter(tags=["mirrors"])

    def get(request: Request, ohash: str) -> Mirror:
        m = find(request, ohash)
        if m is None:
            raise NotFoundError(f"mirror {ohash}", "no mirrored log with this origin hash")
        return m

    @r.get("/mirror/{ohash}/checkpoint", response_class=PlainTextResponse)
    def mirror_checkpoint(request: Request, ohash: str) -> PlainTextResponse:
        text = get(request, ohash).served_checkpoint()
        if text is None:
            return PlainTextResponse("nothing mirrored yet\n", status_code=404)
        return PlainTextResponse(text, headers=MUTABLE)

    @r.get("/mirror/{ohash}/tile/{path:path}", include_in_schema=False)
    def mirror_tile(request: Request, ohash: str, path: str) -> Response:
        return tile_response(get(request, ohash).reader, f"tile/{path}")

    @r.get("/api/v1/mirrors", summary="Mirrored logs and their state (long-poll: min_size)")
    def mirrors(
        request: Request,
        min_size: Annotated[int, Query(ge=0)] = 0,
        timeout: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
    ) -> dict[str, Any]:
        found = listing(request)
        if timeout:
            for m in found:
                m.wait_for(min_size, timeout)
        return {"mirrors": [mirror_status(m) for m in found]}

    @r.get("/api/v1/mirrors/{ohash}", summary="One mirror (long-poll until a size)")
    def mirror(
        request: Request,
        ohash: str,
        min_size: Annotated[int, Query(ge=0)] = 0,
        timeout: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0.0,
    ) -> dict[str, Any]:
        m = get(request, ohash)
        if timeout:
            m.wait_for(min_size, timeout)
        return mirror_status(m)

    return r


def _find(request: Request, ohash: str) -> Mirror | None:
    fed = request.app.state.modelkin.federation
    return None if fed is None else fed.mirror(ohash)


def _listing(request: Request) -> list[Mirror]:
    fed = request.app.state.modelkin.federation
    return [] if fed is None else list(fed.mirrors.values())


mirrors_router = mirror_router(_find, _listing)
