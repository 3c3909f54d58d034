"""CLI: ``modelkin scan-collection`` (thin: parse, pick a runner, show progress, print)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.cli import _common
from modelkin.cli._common import print_json
from modelkin.config import Home
from modelkin.errors import ModelkinError

#: Exit codes besides 0 (all done) and 2 (user error).
EXIT_SOME_FAILED, EXIT_INTERRUPTED = 1, 130


def _runner(workers: int, ray: bool, ray_address: str | None, mode: str, seed: int) -> Any:
    from modelkin.scan import PoolRunner, RayRunner, SerialRunner

    if ray or ray_address:
        return RayRunner(
            workers=workers if ray_address is None else None,
            address=ray_address,
            mode=mode,
            seed=seed,
        )
    if workers > 1:
        return PoolRunner(workers, mode=mode, seed=seed)
    return SerialRunner(mode=mode, seed=seed)


@contextlib.contextmanager
def _registrar(
    key: str | None, org: str | None, license: str, version: str | None, home: Path | None
) -> Iterator[Any]:
    if key is None:
        if org is not None:
            raise ModelkinError("--org", "registration needs --key as well")
        yield None
        return
    if not org:
        raise ModelkinError("--key", "registration needs --org (the registrant organisation)")
    from modelkin.registry import Registry
    from modelkin.scan.register import Registrar
    from modelkin.statements import Identity

    path = Path(key)
    if not path.is_file():
        path = Home.resolve(home).keys_dir / f"{key}.key"
    identity = Identity.load(path)
    with Registry.open(home) as reg:
        yield Registrar(reg, identity, organisation=org, license=license, version=version)


def register(app: typer.Typer) -> None:
    @app.command("scan-collection")
    def scan_collection_cmd(
        collection: Annotated[
            Path,
            typer.Argument(
                help="A directory tree of models, or a text file with one model path per "
                "line (# comments; relative paths are relative to the file)."
            ),
        ],
        out: Annotated[
            Path,
            typer.Option("-o", "--out", help="Output directory: fingerprints/ and journal.jsonl."),
        ],
        workers: Annotated[
            int,
            typer.Option(
                help="Parallel workers: a spawned process pool, or the CPUs of the local "
                "Ray cluster started with --ray. 1 without --ray runs in this process."
            ),
        ] = 1,
        ray: Annotated[
            bool,
            typer.Option(
                "--ray",
                help="Run on Ray: a local cluster with --workers CPUs, started for this run. "
                "(An option cannot take an optional value, so an existing cluster is "
                "named with --ray-address.)",
            ),
        ] = False,
        ray_address: Annotated[
            str | None,
            typer.Option(
                help="Join an existing Ray cluster (implies --ray): 'auto', 'HOST:6379' or "
                "'ray://HOST:10001'. Every node must have modelkin installed and see the "
                "model paths.",
            ),
        ] = None,
        mode: Annotated[str, typer.Option(help="Fingerprint mode: fast or full.")] = "fast",
        seed: Annotated[int, typer.Option(help="Fingerprint sampling seed.")] = 0,
        limit: Annotated[
            int | None, typer.Option(help="Attempt at most this many models in this run.")
        ] = None,
        retries: Annotated[int, typer.Option(help="Extra attempts for a failed model.")] = 1,
        rescan: Annotated[
            bool, typer.Option(help="Fingerprint again even what the journal says is done.")
        ] = False,
        key: Annotated[
            str | None,
            typer.Option("--key", "-k", help="Register every model, signed with this identity."),
        ] = None,
        organisation: Annotated[
            str | None, typer.Option("--org", help="Registrant organisation (with --key).")
        ] = None,
        license: Annotated[
            str, typer.Option("--license", help="Licence declared in registrations.")
        ] = "NOASSERTION",
        model_version: Annotated[
            str | None,
            typer.Option(help="Version declared in registrations (default: sha256:<manifest>)."),
        ] = None,
        home: Annotated[
            Path | None, typer.Option("--home", help="data directory (default: $MODELKIN_HOME)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    ) -> None:
        """Fingerprint (and with --key, register) every model of a collection, in
        parallel, resumably: a rerun skips models already done and unchanged.

        Exit codes: 0 = all done, 1 = some models failed (listed), 2 = user error,
        130 = interrupted (rerun to resume).
        """
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from modelkin.scan import ScanEvent, ScanOptions, collect, scan_collection

        if mode not in ("fast", "full"):
            raise ModelkinError("--mode", f"unknown mode {mode!r} (fast or full)")
        if retries < 0 or (limit is not None and limit < 0):
            raise ModelkinError("--retries/--limit", "must not be negative")
        entries = collect(collection)
        runner = _runner(workers, ray, ray_address, mode, seed)
        options = ScanOptions(out_dir=out, limit=limit, retries=retries, rescan=rescan)
        progress = Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_common.err_console,
            disable=as_json,
        )
        bar = progress.add_task("scanning", total=len(entries))

        def on_event(ev: ScanEvent) -> None:
            progress.update(bar, completed=ev.completed, description=f"{ev.kind} {ev.name}"[:60])
            if ev.kind in ("failed", "register_failed") and not as_json:
                progress.console.print(f"[red]{ev.kind}[/red] {ev.name}: {ev.detail}")

        with _registrar(key, organisation, license, model_version, home) as registrar, progress:
            summary = scan_collection(entries, runner, options, registrar, on_event)
        if as_json:
            print_json(summary.to_dict())
        else:
            typer.echo(
                f"{summary.total} models: {summary.done} fingerprinted, {summary.skipped} "
                f"already done, {len(summary.failed)} failed, {summary.not_attempted} left "
                f"for a later run ({summary.seconds:.1f} s, {summary.runner.get('runner')}); "
                f"output in {out}"
            )
            if key:
                typer.echo(
                    f"registered {summary.registered} (already registered "
                    f"{summary.already_registered}, failed {len(summary.register_failed)})"
                )
            for f in summary.failed:
                typer.echo(f"failed: {f['error']}", err=True)
        if summary.interrupted:
            typer.echo("interrupted: rerun the same command to resume", err=True)
            raise typer.Exit(EXIT_INTERRUPTED)
        if summary.failed or summary.register_failed:
            raise typer.Exit(EXIT_SOME_FAILED)
