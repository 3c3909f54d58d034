"""``modelkin verify MODEL_DIR --record R``: are these the registered weights?

Rehashes every file the record lists and recomputes the fingerprint from the weights
(:mod:`modelkin.registry.weights`). Exit codes: 0 = the files and the fingerprint match the
record; 1 = they do not (what differs is named); 2 = bad input (unknown record, unreadable
directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXIT_MISMATCH = 1


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        model_dir: Annotated[Path, typer.Argument(help="Model directory (or single file).")],
        record: Annotated[
            str, typer.Option("--record", "-r", help="Model record: id, manifest digest or name.")
        ],
        home: Annotated[
            Path | None, typer.Option("--home", help="data directory (default: $MODELKIN_HOME)")
        ] = None,
        db_url: Annotated[
            str | None,
            typer.Option("--db-url", envvar="MODELKIN_DB_URL", help="registry database URL"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    ) -> None:
        """Check MODEL_DIR against a registered model: every listed file rehashed, the
        fingerprint recomputed from the weights and compared with the registered one.
        Exit 0 when they match, 1 when they do not, 2 on bad input."""
        from modelkin.cli._common import print_json
        from modelkin.registry import Registry
        from modelkin.registry.weights import render, verify_weights

        with Registry.open(home, db_url) as reg:
            check = verify_weights(reg, model_dir, record)
        if as_json:
            print_json(check.to_dict())
        else:
            typer.echo(render(check))
        if not check.passed:
            raise typer.Exit(EXIT_MISMATCH)
