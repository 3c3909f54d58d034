"""``modelkin export``: CycloneDX 1.6, SPDX 3.0.1, Hugging Face card or Croissant export.

One module per command so that ``modelkin export`` imports only this module at start-up
(see :mod:`modelkin.cli`); each exporter's dependencies load when it runs."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from modelkin.cli._common import MODEL_HELP, write_output


class ExportFormat(StrEnum):
    cyclonedx = "cyclonedx"
    spdx3 = "spdx3"
    hf_card = "hf-card"
    croissant = "croissant"


def register(app: typer.Typer) -> None:
    @app.command()
    def export(
        model: str = typer.Argument(..., help=MODEL_HELP),
        format: ExportFormat = typer.Option(..., "--format", "-f"),
        output: Path | None = typer.Option(None, "--output", "-o", help="File to write."),
        home: Path | None = typer.Option(None, "--home", help="modelkin data directory."),
    ) -> None:
        """Export a model as CycloneDX 1.6 ML-BOM, SPDX 3.0.1 or a Hugging Face model card,
        or a registered dataset as Croissant 1.1 (MODEL names the dataset then)."""
        from modelkin.labels.outputs import DATASET_FORMATS, export_dataset, load_label
        from modelkin.labels.outputs import export as do_export

        if format.value in DATASET_FORMATS:
            write_output(export_dataset(model, format.value, home), output)
            return
        write_output(do_export(load_label(model, home), format.value), output)
