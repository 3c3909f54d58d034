"""``modelkin version``."""

from __future__ import annotations

import typer

import modelkin


def register(app: typer.Typer) -> None:
    @app.command()
    def version() -> None:
        """Print the modelkin version."""
        typer.echo(modelkin.__version__)
