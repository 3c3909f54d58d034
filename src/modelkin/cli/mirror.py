"""``modelkin mirror URL``: follow another registry's log, verify it, serve it read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json


def register(app: typer.Typer) -> None:
    """Add the ``mirror`` command."""

    @app.command("mirror")
    def mirror(
        url: Annotated[str, typer.Argument(help="the log's tlog-tiles prefix (a registry URL)")],
        dir: Annotated[Path, typer.Option("--dir", help="where the verified copy is kept")],
        vkey: Annotated[str | None, typer.Option(help="the log's verifier key")] = None,
        policy: Annotated[
            list[Path] | None,
            typer.Option(help="trust policy (Sigsum format) with a witness quorum; repeatable"),
        ] = None,
        name: Annotated[
            str | None, typer.Option(help="cosign what is mirrored with a key of this name")
        ] = None,
        once: Annotated[bool, typer.Option(help="one verified step, then exit")] = False,
        interval: Annotated[float, typer.Option(help="seconds between steps")] = 5.0,
        host: Annotated[str, typer.Option(help="interface to serve on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port to serve the copy on")] = 8100,
        json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    ) -> None:
        """Follow the log at URL through its checkpoint and tiles, verifying every step
        (signature, witness quorum, consistency, every entry), keep a verified copy in DIR
        and serve it read-only under /mirror/<sha256(origin)>/. A split view raises an
        alarm with both checkpoints as evidence and stops following (exit 1)."""
        from modelkin.cli.tlog_proof import trust_policy
        from modelkin.ledger.mirror import Mirror

        m = Mirror(dir, url, trust_policy(vkey, policy), name)
        if once:
            rep = m.sync_once()
            m.stop()
            if json_:
                print_json(rep.to_dict())
            else:
                typer.echo(f"{rep.status}: size {rep.size} {rep.message}".rstrip())
                if rep.evidence:
                    typer.echo("evidence (adopted, offered):")
                    for e in rep.evidence:
                        typer.echo(e)
            if rep.status in ("alarm", "error"):
                raise typer.Exit(1)
            return
        import uvicorn

        from modelkin.server.mirror_app import mirror_app

        typer.echo(f"mirroring {url} into {dir}; serving on http://{host}:{port}/")
        m.start(interval)
        try:
            uvicorn.run(mirror_app([m]), host=host, port=port, log_level="warning")
        finally:
            m.stop()
