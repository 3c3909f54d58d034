"""``modelkin ledger ...``: thin wrappers over modelkin.ledger.

Imports stay light (no rich, no registry): ``modelkin ledger append`` is run once per
entry by scripts, so its start-up time is most of its cost."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json
from modelkin.config import Home
from modelkin.errors import LedgerError

DirOpt = Annotated[Path | None, typer.Option("--dir", help="log directory (default: home's)")]
HomeOpt = Annotated[Path | None, typer.Option("--home", help="data directory")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
NUMERIC = {"ignore_unknown_options": True}
"""Commands whose arguments are numbers: ``get -1`` is a (refused) index, not an option."""
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


def _nonnegative(value: int, what: str) -> int:
    if value < 0:
        raise LedgerError(f"{what} {value}", f"{what} must be 0 or more")
    return value


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
        from modelkin.ledger import _store

        if _store.exists(d, db_url):
            raise LedgerError(d, "a log already exists here")
        with Ledger.open(d, origin=origin, db_url=db_url) as log:
            out = {"dir": str(d), "origin": log.origin, "vkey": log.verifier_key()}
        print_json(out) if json_ else typer.echo(f"created log {origin} in {d}\n{out['vkey']}")

    @lg.command("append")
    def append(
        file: Annotated[str, typer.Argument(help="entry file, or - for stdin")],
        require_json: Annotated[
            bool,
            typer.Option(help="refuse entries that are not RFC 8785 canonical JSON"),
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
        if not data:
            raise LedgerError(file, "empty entry (there is nothing to attest)")
        if require_json:
            from modelkin.ledger.entries import require_canonical_json

            require_canonical_json(data, file)
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

    @lg.command("get", context_settings=NUMERIC)
    def get(
        index: int,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Print entry INDEX (raw bytes, or JSON with hex)."""
        _nonnegative(index, "index")
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            data = log.entry(index)
        if json_:
            print_json({"index": index, "entry_hex": data.hex(), "size": len(data)})
        else:
            sys.stdout.buffer.write(data)

    @lg.command("prove", context_settings=NUMERIC)
    def prove(
        index: int,
        size: Annotated[int | None, typer.Option(help="tree size (default: latest)")] = None,
        tlog_proof: Annotated[
            bool,
            typer.Option(
                help="print a C2SP .tlog-proof (against the witnessed checkpoint when it "
                "covers INDEX)"
            ),
        ] = False,
        policy: Annotated[
            list[Path] | None,
            typer.Option(help="with --tlog-proof: say which witnesses of this policy vouched"),
        ] = None,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Inclusion proof of entry INDEX."""
        _nonnegative(index, "index")
        with Ledger.open(_dir(dir, home), create=False, db_url=db_url) as log:
            if tlog_proof:
                from modelkin.ledger.witnessing import witnessed_tlog_proof

                text, verdict = witnessed_tlog_proof(log, index, policy)
                if verdict is not None:  # the proof goes to stdout, who vouched to stderr
                    typer.echo(f"checkpoint {verdict.checkpoint.size}: {verdict.describe()}",
                               err=True)  # fmt: skip
                typer.echo(text, nl=False)
                return
            n = log.size() if size is None else size
            proof = log.inclusion_proof(index, n)
            out = {"index": index, "tree_size": n, "root": log.root(n).hex(), "proof": _hex(proof)}
        print_json(out) if json_ else typer.echo("\n".join(_hex(proof)))

    @lg.command("consistency", context_settings=NUMERIC)
    def consistency(
        old: int,
        new: int,
        dir: DirOpt = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        json_: JsonOpt = False,
    ) -> None:
        """Consistency proof from tree size OLD to NEW (1 <= OLD <= NEW: from size 0 there
        is nothing to prove, and no empty "proof" is printed as if there were)."""
        _nonnegative(old, "size")
        _nonnegative(new, "size")
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
                size = log.size()
                _nonnegative(old, "size")
                # c2sp.org/tlog-witness: a request from old size 0 carries no proof
                proof = [] if old in (0, size) else log.consistency_proof(old, size)
                text = format_request(old, proof, text)
            vkey = log.verifier_key()
        if json_:
            print_json({"checkpoint": text, "vkey": vkey})
        else:
            typer.echo(text, nl=False)

    @lg.command("verify")
    def verify(
        dir: DirOpt = None, home: HomeOpt = None, db_url: DbUrlOpt = None, json_: JsonOpt = False
    ) -> None:
        """Recompute the whole tree; check every stored hash and checkpoint, the database's
        integrity and the record of the last signed tree (exit 1 naming each problem)."""
        from modelkin.ledger.verify import verify_directory

        rep = verify_directory(_dir(dir, home), db_url)
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

    _remote(lg)

    @lg.command("tiles")
    def tiles(
        log_dir: Annotated[Path, typer.Argument(help="log directory")],
        out_dir: Annotated[Path, typer.Argument(help="where to write tile/ and checkpoint")],
        json_: JsonOpt = False,
        db_url: DbUrlOpt = None,
    ) -> None:
        """Write static C2SP tlog-tiles for the log."""
        from modelkin.ledger.tiles import write_tiles

        if out_dir.exists() and not out_dir.is_dir():
            raise LedgerError(out_dir, "not a directory (tiles are written into a directory)")
        with Ledger.open(log_dir, create=False, db_url=db_url) as log:
            n = write_tiles(log, out_dir)
            size = log.size()
        print_json({"files": n, "size": size}) if json_ else typer.echo(
            f"wrote {n} files for size {size} to {out_dir}"
        )


def _remote(lg: typer.Typer) -> None:
    @lg.command("verify-remote")
    def verify_remote(
        location: Annotated[str, typer.Argument(help="tlog-tiles URL prefix or directory")],
        vkey: Annotated[str | None, typer.Option(help="the log's verifier key")] = None,
        policy: Annotated[
            list[Path] | None,
            typer.Option(help="trust policy (Sigsum format) with a witness quorum; repeatable"),
        ] = None,
        full: Annotated[
            bool, typer.Option(help="recompute the whole tree from the entry bundles")
        ] = False,
        index: Annotated[
            int | None,
            typer.Option(help="also prove entry INDEX from tiles (prints a .tlog-proof)"),
        ] = None,
        since: Annotated[
            Path | None,
            typer.Option(help="an older checkpoint of this log you kept: prove consistency"),
        ] = None,
        json_: JsonOpt = False,
    ) -> None:
        """Check another log from the outside: its checkpoint (signature, witness quorum),
        that its tiles imply the signed root, and optionally every entry and proofs."""
        from modelkin.cli.tlog_proof import trust_policy
        from modelkin.ledger.remote import verify_remote as run

        pol = trust_policy(vkey, policy)
        old = None
        if since is not None:
            try:
                old = since.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise LedgerError(since, f"cannot read the older checkpoint ({exc})") from exc
        rep = run(location, pol, full=full, index=index, since=old)
        if json_:
            print_json(rep.to_dict())
        else:
            for c in rep.checked:
                typer.echo(f"ok: {c}")
            for p in rep.problems:
                typer.echo(f"problem: {p}")
            if rep.tlog_proof and index is not None:
                typer.echo(rep.tlog_proof, nl=False)
            typer.echo("verified" if rep.ok else "FAILED")
        if not rep.ok:
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``ledger`` sub-app."""
    _ledger(app)
