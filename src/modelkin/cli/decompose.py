"""CLI: ``modelkin decompose CHILD PARENT1 PARENT2 ...`` (also reached as ``modelkin
compare CHILD PARENT1 PARENT2 ...``): merge decomposition with each parent's weight and
p-value (thin: parse, call, print)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json

#: Exit codes, as ``compare``: 0 no candidate is a parent (each pairwise comparison an
#: independence verdict with power), 3 related (a merge, or derived from one parent),
#: 4 insufficient evidence, 2 user error.
EXIT_NO_PARENT, EXIT_RELATED, EXIT_INSUFFICIENT = 0, 3, 4


def run_decompose(
    child: Path, parents: list[Path], base: Path | None, as_json: bool, seed: int
) -> int:
    """Fingerprint (or load) every model, decompose, print; return the exit code."""
    from modelkin.errors import ModelkinError
    from modelkin.fingerprint import load_or_fingerprint
    from modelkin.forensics import compare
    from modelkin.forensics.merge import decompose

    if len(parents) < 2:
        raise ModelkinError("PARENTS", "a merge decomposition needs at least two parents")
    c = load_or_fingerprint(child, seed=seed)
    ps = [load_or_fingerprint(p, seed=seed) for p in parents]
    b = load_or_fingerprint(base, seed=seed) if base is not None else None
    pairwise = []
    for p in ps:
        r = compare(c, p)
        pairwise.append(
            {
                "verdict": str(r.verdict),
                "related": r.related,
                "p_value": r.p_value,
                "p_text": r.p_text,
            }
        )
    rep = decompose(c, ps, base=b, pairwise=pairwise, names=[str(p) for p in parents])
    rep.child = str(child)
    if as_json:
        print_json(rep.to_dict())
    else:
        typer.echo(f"verdict: {rep.verdict}" + (f" ({rep.method})" if rep.method else ""))
        typer.echo(rep.summary)
        if rep.reason:
            typer.echo(f"reason: {rep.reason}")
        for pr in rep.parents:
            w = f"{pr.weight:.3g}" if pr.weight is not None else "n/a"
            pw = pr.pairwise or {}
            typer.echo(
                f"  parent {pr.name}: weight {w}, {pr.p_text}"
                + (" (in the merge)" if pr.in_merge else "")
                + (f"; pairwise: {pw.get('verdict')}, {pw.get('p_text')}" if pw else "")
            )
        for k, v in rep.fit.items():
            typer.echo(f"  fit {k}: {v:.3g}" if isinstance(v, float) else f"  fit {k}: {v}")
    return {True: EXIT_RELATED, False: EXIT_NO_PARENT, None: EXIT_INSUFFICIENT}[rep.related]


def register(app: typer.Typer) -> None:
    @app.command("decompose")
    def decompose_cmd(
        child: Annotated[Path, typer.Argument(help="The suspected merge (model or fingerprint).")],
        parents: Annotated[
            list[Path],
            typer.Argument(help="Two or more candidate parents (models or fingerprints)."),
        ],
        base: Annotated[
            Path | None,
            typer.Option(
                "--base",
                help="Common base of the parents (task-arithmetic, TIES and DARE merges "
                "combine parent-minus-base task vectors).",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        seed: Annotated[int, typer.Option(help="Seed for models fingerprinted here.")] = 0,
    ) -> None:
        """Estimate the mixing weights of a merge of PARENTS into CHILD, with each
        parent's p-value under H0 'trained independently of the child and the other
        parents'.

        Exit codes: 3 = a merge or derived from one parent, 0 = no candidate is a parent
        (each pairwise comparison an independence verdict with power), 4 = insufficient
        evidence, 2 = user error."""
        raise typer.Exit(run_decompose(child, parents, base, as_json, seed))
