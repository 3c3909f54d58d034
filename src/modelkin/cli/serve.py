"""``modelkin serve``: run the registry's HTTP API and web UI (uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command("serve")
    def serve(
        home: Annotated[
            Path | None, typer.Option(help="Data directory (default: MODELKIN_HOME).")
        ] = None,
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
        tokens: Annotated[
            Path | None,
            typer.Option(help="JSON file {token: organisation}; when given, writes need a token."),
        ] = None,
        max_body: Annotated[int, typer.Option(help="Largest request body in bytes.")] = 1 << 20,
        writes_per_minute: Annotated[int, typer.Option(help="Write rate limit per client.")] = 120,
        tiles: Annotated[
            Path | None,
            typer.Option(help="Also write C2SP tlog-tiles here (served under /tiles/)."),
        ] = None,
        ui_signer: Annotated[
            Path | None,
            typer.Option(help="Key file that signs works registered through the web form."),
        ] = None,
        witness: Annotated[
            list[str] | None,
            typer.Option(help="Verifier key of a trusted witness (cosignature/v1); repeatable."),
        ] = None,
        db_url: Annotated[
            str | None,
            typer.Option(
                "--db-url",
                envvar="MODELKIN_DB_URL",
                help="PostgreSQL for registry and ledger (postgresql+psycopg://user@host/db); "
                "several servers may share one database and one home. Default: SQLite files.",
            ),
        ] = None,
    ) -> None:
        """Serve the registry (API under /api/v1, docs at /docs, UI at /)."""
        import os

        import uvicorn

        from modelkin.config import DB_URL_ENV, Home
        from modelkin.server import ServerSettings, create_app
        from modelkin.server.tokens import load_tokens

        root = Home.resolve(home).ensure().root
        if db_url:  # Registry.open (in the app, the demo seeder) reads the database from here
            os.environ[DB_URL_ENV] = db_url
        settings = ServerSettings(
            tokens=load_tokens(tokens) if tokens else {},
            max_body_bytes=max_body,
            writes_per_minute=writes_per_minute,
            ui_signer=ui_signer,
            tiles_dir=tiles,
            witnesses=tuple(witness or ()),
        )
        typer.echo(f"modelkin registry at http://{host}:{port}/  (data: {root})")
        uvicorn.run(create_app(root, settings=settings), host=host, port=port, log_level="info")
