"""CLI: ``modelkin fingerprint`` and ``modelkin compare`` (thin: parse, call, print)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelkin.cli._common import print_json

#: Exit codes of ``compare``.
EXIT_UNRELATED, EXIT_RELATED, EXIT_INSUFFICIENT = 0, 3, 4


def register(app: typer.Typer) -> None:
    @app.command("fingerprint")
    def fingerprint_cmd(
        model: Annotated[Path, typer.Argument(help="Model file or directory.")],
        output: Annotated[Path, typer.Option("-o", "--output", help="Fingerprint file.")],
        mode: Annotated[str, typer.Option(help="fast (samples) or full (hashes all).")] = "fast",
        seed: Annotated[int, typer.Option(help="Sampling seed (compare same seeds).")] = 0,
    ) -> None:
        """Write a compact, versioned fingerprint of MODEL to FILE."""
        from modelkin.errors import ModelkinError
        from modelkin.fingerprint import fingerprint_model

        if mode not in ("fast", "full"):
            raise ModelkinError("--mode", f"unknown mode {mode!r} (fast or full)")
        fp = fingerprint_model(model, mode="full" if mode == "full" else "fast", seed=seed)
        fp.save(output)
        typer.echo(f"{output}: {fp.digest()}")

    @app.command("compare")
    def compare_cmd(
        suspect: Annotated[Path, typer.Argument(help="Suspect model or fingerprint file.")],
        candidates: Annotated[
            list[Path],
            typer.Argument(
                help="Candidate model or fingerprint; two or more: the suspect is "
                "decomposed as a merge of them (as modelkin decompose)."
            ),
        ],
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
        report: Annotated[
            Path | None, typer.Option("--report", help="Write an HTML evidence report.")
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed for models fingerprinted here.")] = 0,
        activations: Annotated[
            bool,
            typer.Option(
                "--activations",
                help="Also run both models on modelkin's probe text and compare their "
                "hidden states (CKA) and outputs; done anyway when the weights cannot "
                "decide and both are runnable model files.",
            ),
        ] = False,
    ) -> None:
        """Test whether SUSPECT derives from CANDIDATE (or vice versa); with several
        candidates, whether SUSPECT is a merge of them (weights and each one's p-value).

        Exit codes: 0 = consistent with independent training (unrelated or
        same_tokenizer_only: a valid test with power on this pair did not reject),
        3 = related (identical, converted, derived, derived_surgery), 4 = insufficient
        evidence (with what would decide), 2 = user error.
        Activation evidence is descriptive: it adds findings (e.g. distillation
        suspected) but never changes the verdict or the exit code.
        """
        if len(candidates) > 1:
            from modelkin.cli.decompose import run_decompose
            from modelkin.errors import ModelkinError

            if activations or report is not None:
                raise ModelkinError(
                    "compare", "--activations and --report take one candidate, not a merge"
                )
            raise typer.Exit(run_decompose(suspect, candidates, None, as_json, seed))
        candidate = candidates[0]
        from modelkin.fingerprint import load_or_fingerprint
        from modelkin.forensics import compare, render_html
        from modelkin.forensics.activations import add_activation_evidence, runnable

        r = compare(
            load_or_fingerprint(suspect, seed=seed), load_or_fingerprint(candidate, seed=seed)
        )
        if activations:
            for p in (suspect, candidate):
                if not runnable(p):
                    from modelkin.errors import ModelkinError

                    raise ModelkinError(
                        p,
                        "--activations needs a model file of a supported family with its "
                        "tokenizer (not a fingerprint)",
                    )
        if activations or (
            r.verdict == "insufficient" and runnable(suspect) and runnable(candidate)
        ):
            r = add_activation_evidence(r, suspect, candidate)
        if report is not None:
            report.write_text(render_html(r), encoding="utf-8")
        if as_json:
            print_json(r.to_dict())
        else:
            typer.echo(f"verdict: {r.verdict}")
            typer.echo(r.summary)
            if r.reason:
                typer.echo(f"reason: {r.reason}")
            for d in r.decide:
                typer.echo(f"to decide: {d}")
            for e in r.evidence:
                skip = e.details.get("skipped")
                stat = "" if e.combine or e.statistic is None else f", statistic {e.statistic:.3g}"
                typer.echo(
                    f"  {e.name}: {e.p_text}{stat}" + (f" (skipped: {skip})" if skip else "")
                )
            for f in r.findings:
                typer.echo(f"finding: {f['kind']}: {f['statement']}")
        code = {True: EXIT_RELATED, False: EXIT_UNRELATED, None: EXIT_INSUFFICIENT}[r.related]
        raise typer.Exit(code)
