"""``modelkin import-card``: the registration fields a Hugging Face model card declares."""

from __future__ import annotations

from pathlib import Path

import typer

from modelkin.cli._common import print_json


def register(app: typer.Typer) -> None:
    @app.command("import-card")
    def import_card(
        card: Path = typer.Argument(..., help="Hugging Face model card (README.md)."),
    ) -> None:
        """Print the registration fields a Hugging Face model card's metadata declares."""
        from modelkin.labels.hf_card import read_card_fields

        print_json(read_card_fields(card).to_registration())
