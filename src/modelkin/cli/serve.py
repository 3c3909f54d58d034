"""``modelkin serve``: run the registry's HTTP API and web UI (uvicorn).

At startup it says, in words, who can write (open to anyone with a registered key,
token-gated, or closed), whether the web form signs with an operator key, whether a proxy's
``X-Forwarded-For`` is trusted, and how much forensic work one client may ask for.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.errors import ModelkinError


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def banner(settings: Any, host: str, forwarded: str | None) -> list[str]:
    """The lines ``serve`` prints about its security posture (see the module docstring)."""
    mode = settings.write_mode
    if mode == "closed":
        writes = "writes: closed (--read-only): every write is refused"
    elif mode == "token-gated":
        orgs = len(set(settings.tokens.values()))
        writes = (
            f"writes: token-gated: {len(settings.tokens)} API token(s) for {orgs} "
            "organisation(s); each write also needs a signature by a key of that organisation"
        )
    else:
        writes = (
            "writes: OPEN to anyone: any client may register a key and submit statements "
            "signed with it (--tokens FILE to admit organisations, --read-only to close)"
        )
    lines = [writes]
    if settings.ui_signer is not None:
        lines.append(
            f"web form: signs works with {settings.ui_signer} (CSRF-protected)"
            if settings.web_form_enabled
            else "web form: off (a signing key is set, but writes are not open)"
        )
    lines.append(
        f"proxy headers: X-Forwarded-For trusted from {forwarded}"
        if forwarded
        else "proxy headers: not trusted (clients are counted by their own address; "
        "--forwarded-allow-ips IP to trust a reverse proxy)"
    )
    w = settings.work
    lines.append(
        f"forensics: {w.slots} job(s) computing at once, {w.queue} admitted in all; per client "
        f"{w.per_client} at once and {w.per_minute} a minute"
    )
    hosts = "any host name" if "*" in settings.allowed_hosts else ", ".join(settings.allowed_hosts)
    lines.append(f"answers to: {hosts}")
    if mode == "open" and not _is_loopback(host):
        lines.append(
            f"warning: listening on {host} with writes open to anyone; "
            "consider --tokens or --read-only"
        )
    return lines


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command."""

    @app.command("serve")
    def serve(
        home: Annotated[
            Path | None, typer.Option(help="Data directory (default: MODELKIN_HOME).")
        ] = None,
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
        tokens: Annotated[
            Path | None,
            typer.Option(
                help="JSON file {token: organisation}, mode 0600; when given, writes need a token."
            ),
        ] = None,
        read_only: Annotated[
            bool, typer.Option("--read-only", help="Refuse every write (a public read mirror).")
        ] = False,
        max_body: Annotated[int, typer.Option(help="Largest request body in bytes.")] = 1 << 20,
        writes_per_minute: Annotated[int, typer.Option(help="Write rate limit per client.")] = 120,
        forwarded_allow_ips: Annotated[
            str | None,
            typer.Option(
                "--forwarded-allow-ips",
                help="Comma-separated addresses of reverse proxies whose X-Forwarded-For and "
                "X-Forwarded-Proto are believed (default: none; clients are their socket address).",
            ),
        ] = None,
        allowed_host: Annotated[
            list[str] | None,
            typer.Option(
                "--allowed-host",
                help="Host name this server answers to; repeatable, '*' for any (default: "
                "loopback names when listening on loopback, else any).",
            ),
        ] = None,
        forensic_slots: Annotated[
            int, typer.Option(help="Forensic jobs (search, compare) computing at once.")
        ] = 1,
        forensic_queue: Annotated[
            int, typer.Option(help="Forensic requests admitted at once (running or waiting).")
        ] = 4,
        forensic_per_client: Annotated[
            int, typer.Option(help="Forensic requests one client may have in progress.")
        ] = 1,
        forensic_per_minute: Annotated[
            int, typer.Option(help="Forensic requests one client may start a minute.")
        ] = 30,
        tiles: Annotated[
            Path | None,
            typer.Option(help="Also write C2SP tlog-tiles here (served under /tiles/)."),
        ] = None,
        ui_signer: Annotated[
            Path | None,
            typer.Option(help="Key file that signs works registered through the web form."),
        ] = None,
        witness: Annotated[
            list[str] | None,
            typer.Option(help="Verifier key of a trusted witness (cosignature/v1); repeatable."),
        ] = None,
        policy: Annotated[
            list[Path] | None,
            typer.Option(
                help="Trust policy (Sigsum format), one per log: its key and URL, witnesses "
                "with URLs, quorum; repeatable. This log's checkpoints go to the witnesses "
                "of the policy naming it; the quorum-cosigned one is served."
            ),
        ] = None,
        witness_dir: Annotated[
            Path | None,
            typer.Option(help="Act as a C2SP tlog-witness for the policy's logs (state here)."),
        ] = None,
        witness_name: Annotated[
            str | None, typer.Option(help="The witness's key name (created on first use).")
        ] = None,
        mirror: Annotated[
            list[str] | None,
            typer.Option(help="Follow and serve read-only the log at this URL; repeatable."),
        ] = None,
        mirror_interval: Annotated[float, typer.Option(help="Seconds between mirror steps.")] = 5.0,
        witness_interval: Annotated[
            float, typer.Option(help="Seconds between resubmissions to witnesses when idle.")
        ] = 30.0,
        public_url: Annotated[
            str | None, typer.Option(help="This server's URL as peers reach it (for answers).")
        ] = None,
        db_url: Annotated[
            str | None,
            typer.Option(
                "--db-url",
                envvar="MODELKIN_DB_URL",
                help="PostgreSQL for registry and ledger (postgresql+psycopg://user@host/db); "
                "several servers may share one database and one home. Default: SQLite files.",
            ),
        ] = None,
    ) -> None:
        """Serve the registry (API under /api/v1, docs at /docs, UI at /)."""
        import os

        import uvicorn

        from modelkin.config import DB_URL_ENV, Home
        from modelkin.server import ServerSettings, create_app
        from modelkin.server.settings import LOOPBACK_HOSTS, WorkBudget
        from modelkin.server.tokens import load_tokens

        limits = {
            "--forensic-slots": forensic_slots,
            "--forensic-queue": forensic_queue,
            "--forensic-per-client": forensic_per_client,
            "--forensic-per-minute": forensic_per_minute,
        }
        for flag, value in limits.items():
            if value < 1:
                raise ModelkinError(flag, "must be at least 1")
        root = Home.resolve(home).ensure().root
        if db_url:  # Registry.open (in the app, the demo seeder) reads the database from here
            os.environ[DB_URL_ENV] = db_url
        hosts = tuple(allowed_host or ()) or (LOOPBACK_HOSTS if _is_loopback(host) else ("*",))
        settings = ServerSettings(
            tokens=load_tokens(tokens) if tokens else {},
            max_body_bytes=max_body,
            writes_per_minute=writes_per_minute,
            ui_signer=ui_signer,
            tiles_dir=tiles,
            witnesses=tuple(witness or ()),
            read_only=read_only,
            allowed_hosts=hosts,
            work=WorkBudget(
                slots=forensic_slots,
                queue=max(forensic_queue, forensic_slots),
                per_client=forensic_per_client,
                per_minute=forensic_per_minute,
            ),
            policies=tuple(policy or ()),
            witness_dir=witness_dir,
            witness_name=witness_name,
            mirrors=tuple(u.rstrip("/") for u in mirror or ()),
            mirror_interval=mirror_interval,
            witness_interval=witness_interval,
            public_url=public_url.rstrip("/") if public_url else None,
        )
        app_ = create_app(root, settings=settings)
        typer.echo(f"modelkin registry at http://{host}:{port}/  (data: {root})")
        for line in banner(settings, host, forwarded_allow_ips):
            typer.echo(line)
        uvicorn.run(
            app_,
            host=host,
            port=port,
            log_level="info",
            # uvicorn trusts X-Forwarded-For from loopback unless told otherwise; a client
            # on this machine could then rotate the header to escape per-client limits.
            proxy_headers=bool(forwarded_allow_ips),
            forwarded_allow_ips=forwarded_allow_ips or "",
        )
