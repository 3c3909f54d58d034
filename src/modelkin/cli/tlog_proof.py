"""``modelkin tlog-proof verify``: check a C2SP ``.tlog-proof`` file offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelkin.cli._common import print_json
from modelkin.errors import LedgerError

if TYPE_CHECKING:
    from modelkin.ledger.policy import Trust

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def trust_policy(vkey: str | None, policy: list[Path] | None) -> Trust:
    """What to verify under: ``--policy FILE`` (repeatable: one per log) or a single
    ``--vkey`` (the log's key, no witness needed)."""
    from modelkin.ledger.policy import load_trust
    from modelkin.ledger.remote import policy_for_key

    if (vkey is None) == (not policy):
        raise LedgerError("options", "give either --vkey or --policy (repeatable)")
    return load_trust(list(policy)) if policy else policy_for_key(str(vkey))


def _read(path: str, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise LedgerError(path, f"cannot read the {what} ({exc.strerror})") from exc


def register(app: typer.Typer) -> None:
    """Add the ``tlog-proof`` sub-app."""
    tp = typer.Typer(help="Offline proof bundles (C2SP tlog-proof).", no_args_is_help=True)
    app.add_typer(tp, name="tlog-proof")

    @tp.command("verify")
    def verify(
        file: Annotated[str, typer.Argument(help=".tlog-proof file, or - for stdin")],
        entry: Annotated[str, typer.Option(help="the entry's bytes (a file)")],
        vkey: Annotated[str | None, typer.Option(help="the log's verifier key")] = None,
        policy: Annotated[
            list[Path] | None,
            typer.Option(help="trust policy (Sigsum format) with a witness quorum; repeatable"),
        ] = None,
        json_: JsonOpt = False,
    ) -> None:
        """Verify that ENTRY is in the log the bundle's checkpoint commits to, and that the
        checkpoint satisfies the policy; prints which witnesses vouched for it."""
        from modelkin.ledger.tlogproof import verify_proof_policy

        pol = trust_policy(vkey, policy)
        try:
            text = _read(file, "proof").decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LedgerError(file, "not UTF-8 text") from exc
        p, verdict = verify_proof_policy(text, _read(entry, "entry"), pol, file)
        cp = verdict.checkpoint
        if json_:
            print_json({"ok": True, "index": p.index, **verdict.to_dict()})
        else:
            typer.echo(
                f"ok: entry included at index {p.index} of {cp.origin} (size {cp.size}); "
                f"{verdict.describe()}"
            )
