"""The FastAPI application factory.

``create_app(home)`` opens the registry in ``home`` (created on first run, via
:meth:`Registry.open`) when the app starts and closes it at shutdown. API errors are
RFC 9457 problem+json (:mod:`.problems`); page errors are an HTML page with the same words.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelkin.config import Home
from modelkin.errors import ModelkinError
from modelkin.ledger.cosigs import parse_witness_keys
from modelkin.registry import Registry
from modelkin.server import (
    api_federation,
    api_forensics,
    api_ledger,
    api_registry,
    api_witness,
    api_works,
    docs,
    problems,
    ui,
    ui_records,
    ui_works,
)
from modelkin.server.budget import HeavyAdmission, WorkGate
from modelkin.server.guards import BodyLimit, RateLimiter
from modelkin.server.headers import AllowedHosts, SecurityHeaders
from modelkin.server.jsonbody import JsonBodyBounds
from modelkin.server.settings import ServerSettings
from modelkin.server.state import ServerState

STATIC = Path(__file__).parent / "static"


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (
        path.startswith(("/api/", "/tiles", "/tile/", "/mirror/"))
        or path in ("/checkpoint", "/add-checkpoint")
    )


def create_app(
    home: Path | str | None = None, *, settings: ServerSettings | None = None
) -> FastAPI:
    """A ready-to-serve app over the registry in ``home`` (default: :meth:`Home.resolve`)."""
    cfg = settings or ServerSettings()
    parse_witness_keys(cfg.witnesses)  # refuse a bad --witness key before serving
    data = Home.resolve(home)
    gate = WorkGate(cfg.work)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from modelkin.statements.kinds import warm_validators

        # heavy imports the request handlers need, paid before the first request is accepted
        # (the CLI no longer pays them at import, so the server has to ask for them)
        warm_validators()
        import modelkin.labels.export_cyclonedx
        import modelkin.labels.export_spdx  # noqa: F401

        registry = Registry.open(data.root)
        app.state.modelkin = state = ServerState(
            registry, cfg, RateLimiter(cfg.writes_per_minute), gate
        )
        from modelkin.server.federation import Federation

        state.federation = Federation(cfg, data.root, registry, state.ledger_lock)
        state.publish_tiles()
        state.federation.start()
        try:
            yield
        finally:
            state.federation.stop()
            registry.close()

    app = FastAPI(
        title="modelkin registry",
        version="1",
        summary="Signed records of AI models, datasets, compute, lineage and works, "
        "logged in a transparency ledger.",
        lifespan=lifespan,
        docs_url=None,  # served by .docs from this package, no CDN: works offline, under CSP
        redoc_url=None,
    )
    problems.install(app)

    async def on_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ModelkinError):
            status, slug = problems.status_for(exc)
            detail, where, headers = exc.problem, exc.where, None
        elif isinstance(exc, StarletteHTTPException):
            status, detail, where, slug = exc.status_code, str(exc.detail), None, None
            headers = dict(exc.headers) if exc.headers else None
        else:  # pragma: no cover - registered for the two types above only
            raise exc
        if not _wants_html(request):
            return problems.problem(
                status, detail, request, slug=slug, where=where, headers=headers
            )
        return ui.page(
            request, "error.html", status=status, code=status, detail=detail, where=where
        )

    app.add_exception_handler(ModelkinError, on_error)
    app.add_exception_handler(StarletteHTTPException, on_error)

    app.include_router(api_ledger.router)
    app.include_router(api_witness.router)
    app.include_router(api_federation.router)
    app.include_router(api_federation.mirrors_router)
    app.include_router(api_registry.router)
    app.include_router(api_forensics.router)
    app.include_router(api_works.router)
    app.include_router(ui_works.router)
    app.include_router(ui.router)
    app.include_router(ui_records.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if cfg.tiles_dir is not None:
        # C2SP tlog-tiles are immutable static files: any web server can serve them.
        cfg.tiles_dir.mkdir(parents=True, exist_ok=True)
        app.mount("/tiles", StaticFiles(directory=cfg.tiles_dir), name="tiles")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    # Outermost last: headers on every answer (refusals included), then the Host check,
    # then the body limit, then admission of heavy work before its body is read, then the
    # depth and node bounds of JSON bodies (read whole, within the body limit).
    app.add_middleware(JsonBodyBounds)  # type: ignore[arg-type]
    app.add_middleware(HeavyAdmission, gate=gate, settings=cfg)  # type: ignore[arg-type]
    app.add_middleware(
        BodyLimit,  # type: ignore[arg-type]
        limit=cfg.max_body_bytes,
        upload_limit=cfg.max_upload_bytes,
        upload_prefixes=(
            "/api/v1/forensics/",
            "/api/v1/statements/with-blobs",
            "/compare",
            "/works",
        ),
    )
    app.add_middleware(AllowedHosts, hosts=cfg.allowed_hosts)  # type: ignore[arg-type]
    app.add_middleware(SecurityHeaders)  # type: ignore[arg-type]
    return app
