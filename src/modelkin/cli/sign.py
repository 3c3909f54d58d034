"""``modelkin sign``: write an OpenSSF model signing bundle (thin wrapper over modelkin.oms).

Verifying a bundle is part of ``modelkin register model --oms-bundle``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json


def register(app: typer.Typer) -> None:
    @app.command("sign")
    def sign_cmd(
        model_dir: Annotated[Path, typer.Argument(help="model directory to sign")],
        key: Annotated[Path, typer.Option("--key", help="PEM ECDSA private key (P-256/384/521)")],
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="bundle file (default DIR/model.sig)")
        ] = None,
        certificate: Annotated[
            Path | None, typer.Option("--certificate", help="PEM signing certificate")
        ] = None,
        chain: Annotated[
            list[Path] | None,
            typer.Option("--chain", help="PEM intermediate/root certificates (repeatable)"),
        ] = None,
    ) -> None:
        """Sign a model directory as OpenSSF model signing v1.0 (model_signing verifies it)."""
        from modelkin.oms import sign_model

        out = output if output is not None else model_dir / "model.sig"
        print_json(
            sign_model(model_dir, key, out, certificate=certificate, chain=tuple(chain or ()))
        )
