"""``modelkin ledger ...`` and ``modelkin witness ...``: thin wrappers over modelkin.ledger."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json
from modelkin.config import Home
from modelkin.errors import LedgerError
from modelkin.ledger import _store

DirOpt = Annotated[Path | None, typer.Option("--dir", help="log directory (default: home's)")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="data directory")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
WDir = Annotated[Path, typer.Argument(help="witness state directory")]
DbUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        envvar="MODELKIN_DB_URL",
        help="keep the log's rows in this PostgreSQL database (postgresql+psycopg://...); "
        "key and signed.state stay in the directory (default: SQLite log.db there)",
    ),
]


def _dir(d: Path | None, home: Path | None) -> Path:
    return d if d is not None else Home.resolve(home).ledger_dir


def _hex(hs: list[bytes]) -> list[str]:
    return [h.hex() for h in hs]


def _ledger(app: typer.Typer) -> None:
    from modelkin.ledger import Ledger

    lg = typer.Typer(
        help="The transparency log (RFC 6962, C2SP checkpoints).", no_args_is_help=True
    )
    app.add_typer(lg, name="ledger")

    @lg.command("init")
    def init(
        origin: Annotated[str, typer.Option(help="log origin / key name")] = "modelkin.local/log",
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Create a log (generates its Ed25519 signed-note key)."""
        d = _dir(dir, home)
        if _store.exists(d, db_url):
            raise LedgerError(d, "a log already exists here")
        with Ledger.open(d, origin=origin, db_url=db_url) as log:
            out = {"dir": str(d), "origin": log.origin, "vkey": log.verifier_key()}
        print_json(out) if json_ else typer.echo(f"created log {origin} in {d}\n{out['vkey']}")

    @lg.command("append")
    def append(
        file: Annotated[str, typer.Argument(help="entry file, or - for stdin")],
        require_json: Annotated[
            bool, typer.Option(help="refuse entries that are not JSON")
        ] = False,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Append one entry; prints its index, inclusion proof and checkpoint."""
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as exc:
            raise LedgerError(file, f"cannot read ({exc.strerror})") from exc
        if require_json:
            try:
                json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise LedgerError(file, f"not valid JSON ({exc})") from exc
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            r = log.append(data)
        if json_:
            print_json(
                {
                    "index": r.index,
                    "leaf_hash": r.leaf_hash.hex(),
                    "duplicate": r.duplicate,
                    "tree_size": r.tree_size,
                    "inclusion_proof": _hex(r.inclusion_proof),
                    "checkpoint": r.checkpoint,
                    "tlog_proof": r.tlog_proof(),
                }
            )
        else:
            word = "already logged at" if r.duplicate else "appended at"
            typer.echo(f"{word} index {r.index} (tree size {r.tree_size})")

    @lg.command("get")
    def get(
        index: int,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Print entry INDEX (raw bytes, or JSON with hex)."""
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            data = log.entry(index)
        if json_:
            print_json({"index": index, "entry_hex": data.hex(), "size": len(data)})
        else:
            sys.stdout.buffer.write(data)

    @lg.command("prove")
    def prove(
        index: int,
        size: Annotated[int | None, typer.Option(help="tree size (default: latest)")] = None,
        tlog_proof: Annotated[bool, typer.Option(help="print a C2SP .tlog-proof")] = False,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Inclusion proof of entry INDEX."""
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            if tlog_proof:
                typer.echo(log.tlog_proof(index), nl=False)
                return
            n = log.size() if size is None else size
            proof = log.inclusion_proof(index, n)
            out = {"index": index, "tree_size": n, "root": log.root(n).hex(), "proof": _hex(proof)}
        print_json(out) if json_ else typer.echo("\n".join(_hex(proof)))

    @lg.command("consistency")
    def consistency(
        old: int,
        new: int,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Consistency proof from tree size OLD to NEW."""
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            proof = log.consistency_proof(old, new)
            out = {
                "old": old,
                "new": new,
                "old_root": log.root(old).hex(),
                "new_root": log.root(new).hex(),
                "proof": _hex(proof),
            }
        print_json(out) if json_ else typer.echo("\n".join(_hex(proof)))

    @lg.command("checkpoint")
    def checkpoint(
        old: Annotated[
            int | None, typer.Option(help="print a witness add-checkpoint request from OLD")
        ] = None,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """The latest signed checkpoint (or a tlog-witness request with --old)."""
        from modelkin.ledger.witness import format_request

        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            text = log.checkpoint()
            if old is not None:
                text = format_request(old, log.consistency_proof(old, log.size()), text)
            vkey = log.verifier_key()
        if json_:
            print_json({"checkpoint": text, "vkey": vkey})
        else:
            typer.echo(text, nl=False)

    @lg.command("verify")
    def verify(
        dir: DirOpt = None, home: HomeOpt = None, db_url: DbUrlOpt = None, json_: JsonOpt = False
    ) -> None:
        """Recompute the whole tree; check every stored hash and checkpoint."""
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            rep = log.verify()
        if json_:
            print_json(
                {
                    "ok": rep.ok,
                    "size": rep.size,
                    "checkpoints": rep.checkpoints,
                    "problems": rep.problems,
                }
            )
        else:
            for p in rep.problems:
                typer.echo(f"problem: {p}")
            typer.echo(
                f"{'ok' if rep.ok else 'FAILED'}: {rep.size} entries, {rep.checkpoints} checkpoints"
            )
        if not rep.ok:
            raise typer.Exit(1)

    @lg.command("monitor")
    def monitor(
        log_dir: Annotated[Path, typer.Argument(help="log directory to follow")],
        state: Annotated[Path, typer.Option(help="monitor state file")] = Path("monitor.json"),
        vkey: Annotated[str | None, typer.Option(help="log verifier key to pin")] = None,
        follow: Annotated[bool, typer.Option(help="keep checking")] = False,
        interval: Annotated[float, typer.Option(help="seconds between checks")] = 5.0,
        json_: JsonOpt = False,
        db_url: DbUrlOpt = None,
    ) -> None:
        """Check the log's newest checkpoint is consistent with the last one seen."""
        from modelkin.ledger.monitor import check

        while True:
            rep = check(log_dir, state, vkey, db_url)
            if json_:
                print_json(
                    {
                        "ok": rep.ok,
                        "size": rep.size,
                        "previous_size": rep.previous_size,
                        "problem": rep.problem,
                        "evidence": rep.evidence,
                    }
                )
            elif rep.ok:
                typer.echo(f"ok: size {rep.previous_size} -> {rep.size} consistent")
            else:
                typer.echo(f"ALARM: {rep.problem}\nevidence (previous, current):")
                for e in rep.evidence:
                    typer.echo(e)
            if not rep.ok:
                raise typer.Exit(1)
            if not follow:
                return
            time.sleep(interval)

    @lg.command("tiles")
    def tiles(
        log_dir: Annotated[Path, typer.Argument(help="log directory")],
        out_dir: Annotated[Path, typer.Argument(help="where to write tile/ and checkpoint")],
        json_: JsonOpt = False,
        db_url: DbUrlOpt = None,
    ) -> None:
        """Write static C2SP tlog-tiles for the log."""
        from modelkin.ledger.tiles import write_tiles

        with Ledger.open(log_dir, create=False, db_url=db_url) as log:
            n = write_tiles(log, out_dir)
            size = log.size()
        print_json({"files": n, "size": size}) if json_ else typer.echo(
            f"wrote {n} files for size {size} to {out_dir}"
        )


def _witness(app: typer.Typer) -> None:
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


def register(app: typer.Typer) -> None:
    """Add ``ledger`` and ``witness`` sub-apps."""
    _ledger(app)
    _witness(app)
