"""The small read-only app ``modelkin mirror`` serves: mirrored logs, nothing else."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from modelkin.errors import ModelkinError
from modelkin.ledger.mirror import Mirror, origin_hash
from modelkin.server import problems
from modelkin.server.api_federation import mirror_router


def mirror_app(mirrors: list[Mirror]) -> FastAPI:
    """An app serving ``mirrors`` under ``/mirror/<sha256(origin)>/`` and their state."""
    app = FastAPI(title="modelkin mirror", version="1")

    def find(request: Request, ohash: str) -> Mirror | None:
        for m in mirrors:
            origin = m.reader.origin()
            if origin is not None and origin_hash(origin) == ohash:
                return m
        return None

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ModelkinError)
        status, slug = problems.status_for(exc)
        return problems.problem(status, exc.problem, request, slug=slug, where=exc.where)

    app.add_exception_handler(ModelkinError, on_error)
    app.include_router(mirror_router(find, lambda request: list(mirrors)))

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    return app
