"""``modelkin label``: render a model's nutrition label (thin wrapper over modelkin.labels).

One module per command so that ``modelkin label`` imports only this module at start-up
(see :mod:`modelkin.cli`); the renderer's own dependencies load when it runs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from modelkin.cli._common import MODEL_HELP, write_output


class LabelFormat(StrEnum):
    html = "html"
    png = "png"
    svg = "svg"
    json = "json"
    md = "md"


def register(app: typer.Typer) -> None:
    @app.command()
    def label(
        model: str = typer.Argument(..., help=MODEL_HELP),
        format: LabelFormat = typer.Option(LabelFormat.html, "--format", "-f"),
        output: Path | None = typer.Option(None, "--output", "-o", help="File to write."),
        home: Path | None = typer.Option(None, "--home", help="modelkin data directory."),
    ) -> None:
        """Render a model's nutrition label (html, png, svg, json or md)."""
        from modelkin.labels.outputs import load_label, render

        write_output(render(load_label(model, home), format.value), output)
