"""CLI: ``modelkin fingerprint`` and ``modelkin compare`` (thin: parse, call, print)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.cli._common import open_remote, print_json, remote_server

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

        With ``modelkin --server URL``, SUSPECT and CANDIDATE are models registered on that
        server (name, record id or digest) and the server compares them.
        """
        if remote_server() is not None:
            if len(candidates) > 1:
                from modelkin.errors import ModelkinError

                raise ModelkinError(
                    "--server", "compares one candidate; merges are decomposed locally"
                )
            _remote_compare(str(suspect), str(candidates[0]), as_json, report, activations)
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
            print_report(r.to_dict())
        code = {True: EXIT_RELATED, False: EXIT_UNRELATED, None: EXIT_INSUFFICIENT}[r.related]
        raise typer.Exit(code)


def print_report(r: dict[str, Any]) -> None:
    """A forensic report (``Report.to_dict``, computed here or by a server) as text."""
    typer.echo(f"verdict: {r['verdict']}")
    typer.echo(r["summary"])
    if r.get("reason"):
        typer.echo(f"reason: {r['reason']}")
    for d in r.get("decide") or []:
        typer.echo(f"to decide: {d}")
    for e in r.get("evidence") or []:
        skip = (e.get("details") or {}).get("skipped")
        stat = "" if e.get("combine") or e.get("statistic") is None else (
            f", statistic {e['statistic']:.3g}"
        )  # fmt: skip
        typer.echo(f"  {e['name']}: {e['p_text']}{stat}" + (f" (skipped: {skip})" if skip else ""))
    for f in r.get("findings") or []:
        typer.echo(f"finding: {f['kind']}: {f['statement']}")


def _remote_compare(
    suspect: str, candidate: str, as_json: bool, report: Path | None, activations: bool
) -> None:
    """``compare`` on the server named by ``--server``: two registered models."""
    from modelkin.errors import ModelkinError

    if activations:
        raise ModelkinError(
            "--activations", "runs the models here; it cannot be used with --server"
        )
    with open_remote() as remote:
        r = remote.compare(suspect, candidate)
        if report is not None:
            html = remote.compare_html(suspect, candidate)
            try:
                report.write_text(html, encoding="utf-8")
            except OSError as exc:
                raise ModelkinError(report, f"cannot write: {exc.strerror or exc}") from None
    if as_json:
        print_json(r)
    else:
        print_report(r)
    code = {True: EXIT_RELATED, False: EXIT_UNRELATED, None: EXIT_INSUFFICIENT}[r.get("related")]
    raise typer.Exit(code)
