"""``modelkin federation ...``: ask the federation, verify every answer yourself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.cli._common import print_json
from modelkin.errors import LedgerError

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
PolicyOpt = Annotated[
    list[Path], typer.Option(help="your trust policy (Sigsum format); repeatable, one per log")
]


def register(app: typer.Typer) -> None:
    """Add the ``federation`` sub-app."""
    fed = typer.Typer(
        help="Federated registries: lookups verified under your own policy.",
        no_args_is_help=True,
    )
    app.add_typer(fed, name="federation")

    @fed.command("lookup")
    def lookup(
        url: Annotated[str, typer.Argument(help="any registry of the federation")],
        digest: Annotated[str, typer.Argument(help="a model's SHA-256 (manifest) digest")],
        policy: PolicyOpt,
        wait: Annotated[float, typer.Option(help="seconds a registry may wait for witnesses")] = 0,
        json_: JsonOpt = False,
    ) -> None:
        """Which registered model, anywhere in the federation, has DIGEST. Every answer is
        checked here (checkpoint under the policy's quorum, inclusion, the logged
        statement's subject); the registries asked are not trusted."""
        import httpx

        from modelkin.federation import verify_answer
        from modelkin.ledger.policy import load_trust

        pol = load_trust(policy)
        endpoint = f"{url.rstrip('/')}/api/v1/federation/lookup"
        try:
            r = httpx.get(endpoint, params={"digest": digest, "wait": wait}, timeout=60)
        except httpx.HTTPError as exc:
            raise LedgerError(endpoint, f"cannot reach the registry ({exc})") from exc
        if r.status_code != 200:
            raise LedgerError(endpoint, f"HTTP {r.status_code}: {r.text[:300]}")
        got = r.json()
        answers: list[dict[str, Any]] = list(got.get("answers") or [])
        answers += [x["answer"] for x in got.get("refused") or [] if isinstance(x, dict)]
        ok: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for a in answers:
            try:
                ok.append(verify_answer(a, pol, digest=digest).to_dict())
            except LedgerError as exc:
                refused.append({"registry": a.get("registry"), "reason": exc.problem})
        if json_:
            print_json({"digest": digest, "verified": ok, "refused": refused,
                        "errors": got.get("errors", [])})  # fmt: skip
        else:
            for v in ok:
                typer.echo(
                    f"{v['registry']}: {v['kind']} {v['name']!r} ({v['organisation']}) "
                    f"record {v['record_id'][:16]} at index {v['ledger_index']} of "
                    f"{v['origin']} (size {v['tree_size']}); vouched by "
                    f"{', '.join(v['vouched_by']) or 'no witness'}"
                )
            for x in refused:
                typer.echo(f"REFUSED {x['registry']}: {x['reason']}")
            for e in got.get("errors", []):
                typer.echo(f"unreachable {e.get('registry')}: {e.get('error')}")
            if not ok and not refused:
                typer.echo("no registered model has this digest")
        if refused:
            raise typer.Exit(1)

    @fed.command("policy")
    def policy_cmd(
        file: Annotated[Path, typer.Argument(help="a trust policy (Sigsum format)")],
        json_: JsonOpt = False,
    ) -> None:
        """Check a policy file and print it (JSON: what the browser-side check reads)."""
        from modelkin.ledger.policy import Policy

        pol = Policy.load(file)
        if json_:
            print_json(pol.to_json())
        else:
            typer.echo(pol.text(), nl=False)
