"""``modelkin label``, ``modelkin export`` and ``modelkin import-card``: thin wrappers."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from modelkin.cli._common import print_json
from modelkin.errors import ModelkinError


class LabelFormat(StrEnum):
    html = "html"
    png = "png"
    svg = "svg"
    json = "json"
    md = "md"


class ExportFormat(StrEnum):
    cyclonedx = "cyclonedx"
    spdx3 = "spdx3"
    hf_card = "hf-card"


MODEL_HELP = "Registered model (record id, manifest digest or name) or a label JSON file."


def _write(data: str | bytes, out: Path | None) -> None:
    """Write to ``out`` or stdout; binary output needs ``-o`` when stdout is a terminal."""
    if out is not None:
        try:
            if isinstance(data, bytes):
                out.write_bytes(data)
            else:
                out.write_text(data, encoding="utf-8")
        except OSError as exc:
            raise ModelkinError(out, f"cannot write: {exc.strerror or exc}") from None
        return
    if isinstance(data, bytes):
        if sys.stdout.isatty():
            raise ModelkinError("--output", "PNG is binary: give -o FILE or redirect stdout")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        typer.echo(data, nl=False)


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

        _write(render(load_label(model, home), format.value), output)

    @app.command()
    def export(
        model: str = typer.Argument(..., help=MODEL_HELP),
        format: ExportFormat = typer.Option(..., "--format", "-f"),
        output: Path | None = typer.Option(None, "--output", "-o", help="File to write."),
        home: Path | None = typer.Option(None, "--home", help="modelkin data directory."),
    ) -> None:
        """Export a model as CycloneDX 1.6 ML-BOM, SPDX 3.0.1 or a Hugging Face model card."""
        from modelkin.labels.outputs import export as do_export
        from modelkin.labels.outputs import load_label

        _write(do_export(load_label(model, home), format.value), output)

    @app.command("import-card")
    def import_card(
        card: Path = typer.Argument(..., help="Hugging Face model card (README.md)."),
    ) -> None:
        """Print the registration fields a Hugging Face model card's metadata declares."""
        from modelkin.labels.hf_card import read_card_fields

        print_json(read_card_fields(card).to_registration())
