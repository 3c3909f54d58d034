"""The C2SP tlog-witness HTTP interface of ``modelkin serve --witness-dir``.

* ``POST /add-checkpoint``: body ``old <size>``, up to 63 base64 proof lines, a blank line
  and a signed checkpoint. Answers exactly as c2sp.org/tlog-witness says: 200 with the
  cosignature line(s) (``text/plain``); 400 malformed or old size above the checkpoint's;
  403 no signature by a trusted key of that origin; 404 unknown origin; 409 the old size
  is not the witness's (body: its size and a newline, ``Content-Type: text/x.tlog.size``),
  also for an equal size with another root; 422 the consistency proof does not verify.
  The witness persists its new state before replying (see :mod:`modelkin.ledger.witness`).
* ``GET /api/v1/witness``: the witness key, its record of each log, and the kept evidence
  of misbehaviour (validly signed checkpoints it refused).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from modelkin.errors import LedgerError, NotFoundError
from modelkin.ledger.witness import parse_request
from modelkin.server.deps import get_state
from modelkin.server.state import ServerState

router = APIRouter(tags=["federation"])
State = Annotated[ServerState, Depends(get_state)]
MAX_REQUEST = 64 * 1024  # 63 proof lines and a checkpoint with many cosignatures fit


def _witness(state: ServerState) -> Any:
    fed = state.federation
    if fed is None or fed.witness is None:
        raise NotFoundError("witness", "this server is not a witness (see --witness-dir)")
    return fed.witness


@router.post(
    "/add-checkpoint",
    summary="C2SP tlog-witness: cosign a checkpoint",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {}}, "description": "cosignature line(s)"},
        409: {"content": {"text/x.tlog.size": {}}, "description": "the witness's size"},
    },
)
async def add_checkpoint(request: Request, state: State) -> Response:
    """Verify the checkpoint is consistent with what this witness cosigned before, record
    it and return a timestamped cosignature (c2sp.org/tlog-cosignature)."""
    wit = _witness(state)
    raw = await request.body()
    if len(raw) > MAX_REQUEST:
        return PlainTextResponse("request too large\n", status_code=400)
    try:
        old, proof, note = parse_request(raw.decode("utf-8"))
    except (LedgerError, UnicodeDecodeError) as exc:
        msg = exc.problem if isinstance(exc, LedgerError) else "not UTF-8"
        return PlainTextResponse(f"{msg}\n", status_code=400)
    res = await run_in_threadpool(wit.add_checkpoint, old, proof, note)
    if res.status == 200:
        return PlainTextResponse(res.cosignature or "", media_type="text/plain; charset=utf-8")
    if res.status == 409:
        # exactly this media type (no charset parameter), as c2sp.org/tlog-witness says
        return Response(f"{res.size}\n".encode(), 409, headers={"Content-Type": "text/x.tlog.size"})
    return PlainTextResponse(f"{res.message}\n", status_code=res.status)


@router.get("/api/v1/witness", summary="This server's witness: key, logs, evidence")
def witness_status(state: State) -> dict[str, Any]:
    wit = _witness(state)
    return {"vkey": wit.vkey(), "logs": wit.logs(), "evidence": wit.evidence()}
