"""``modelkin demo``: seed a data home with the real models and example records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def run_demo(home: Path | None) -> Path:
    """Seed and print what was done; returns the home used."""
    from modelkin.demo import seed_demo

    summary = seed_demo(home)
    for line in summary.created:
        typer.echo(f"registered {line}")
    if summary.existing:
        typer.echo(f"already present: {len(summary.existing)} records")
    for claim, verdict in summary.verdicts.items():
        typer.echo(f"claim '{claim}': {verdict}")
    for w in summary.warnings:
        typer.echo(f"warning: {w}")
    typer.echo(f"data home: {summary.home}")
    return summary.home


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command."""

    @app.command("demo")
    def demo(
        home: Annotated[
            Path | None, typer.Option(help="Data directory (default: MODELKIN_HOME).")
        ] = None,
        serve: Annotated[bool, typer.Option(help="Serve the registry afterwards.")] = False,
        host: Annotated[
            str, typer.Option(help="Interface to listen on with --serve.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port with --serve.")] = 8000,
    ) -> None:
        """Seed the demo registry (idempotent), then print the URL to open."""
        root = run_demo(home)
        typer.echo(f"open http://{host}:{port}/ after `modelkin serve --home {root}`")
        if serve:
            import uvicorn

            from modelkin.demo import demo_signer
            from modelkin.server import ServerSettings, create_app

            settings = ServerSettings(ui_signer=demo_signer(root))
            uvicorn.run(create_app(root, settings=settings), host=host, port=port)
