"""``modelkin witness ...``: a C2SP tlog-witness on the command line (the same witness
``modelkin serve --witness-dir`` runs over HTTP)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json
from modelkin.errors import LedgerError

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
WDir = Annotated[Path, typer.Argument(help="witness state directory")]


def register(app: typer.Typer) -> None:
    """Add the ``witness`` sub-app."""
    from modelkin.ledger.witness import Witness, parse_request

    w = typer.Typer(
        help="A C2SP tlog-witness that cosigns consistent checkpoints.", no_args_is_help=True
    )
    app.add_typer(w, name="witness")

    @w.command("init")
    def init(
        state_dir: WDir,
        name: Annotated[str, typer.Option(help="witness key name")],
        json_: JsonOpt = False,
    ) -> None:
        """Create a witness with a fresh Ed25519 key."""
        wit = Witness.init(state_dir, name)
        print_json({"vkey": wit.vkey()}) if json_ else typer.echo(wit.vkey())

    @w.command("add-log")
    def add_log(
        state_dir: WDir,
        vkey: Annotated[str, typer.Argument(help="log verifier key")],
        origin: Annotated[str | None, typer.Option(help="origin line")] = None,
    ) -> None:
        """Start witnessing the log with verifier key VKEY."""
        typer.echo(f"witnessing {Witness.load(state_dir).add_log(vkey, origin)}")

    @w.command("add-checkpoint")
    def add_checkpoint(
        state_dir: WDir,
        request: Annotated[str, typer.Argument(help="add-checkpoint request file, or -")],
        json_: JsonOpt = False,
    ) -> None:
        """Process an add-checkpoint request; prints the cosignature or the error code."""
        try:
            text = sys.stdin.read() if request == "-" else Path(request).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(request, f"cannot read request ({exc})") from exc
        old, proof, cp = parse_request(text)
        res = Witness.load(state_dir).add_checkpoint(old, proof, cp)
        if json_:
            print_json(
                {
                    "status": res.status,
                    "cosignature": res.cosignature,
                    "size": res.size,
                    "message": res.message,
                    "evidence": res.evidence,
                }
            )
        elif res.ok:
            typer.echo(res.cosignature or "", nl=False)
        else:
            typer.echo(f"{res.status}: {res.message}")
            if res.size is not None:
                typer.echo(f"witness size: {res.size}")
            if res.evidence:
                typer.echo("evidence (witnessed, offered):")
                for e in res.evidence:
                    typer.echo(e)
        if not res.ok:
            raise typer.Exit(1)

    @w.command("show")
    def show(state_dir: WDir, json_: JsonOpt = False) -> None:
        """The witness key and its record of each log."""
        wit = Witness.load(state_dir)
        logs = wit.logs()
        if json_:
            print_json({"vkey": wit.vkey(), "logs": logs})
            return
        typer.echo(f"witness {wit.vkey()}")
        for origin, rec in logs.items():
            typer.echo(f"{origin}: size {rec['size']} root {rec['root']}")
