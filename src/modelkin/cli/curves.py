"""``modelkin compare-curves A B``: do two training-loss logs share their history?"""

from __future__ import annotations

from pathlib import Path

import typer

from modelkin.cli import _common
from modelkin.cli._common import print_json

#: Same convention as ``modelkin compare``: p <= this is a "related" finding.
EXIT_UNRELATED, EXIT_RELATED, EXIT_INSUFFICIENT = 0, 3, 4


def register(app: typer.Typer) -> None:
    @app.command("compare-curves")
    def compare_curves(
        a: Path = typer.Argument(..., help="Loss curve: CSV, JSON or TensorBoard event file."),
        b: Path = typer.Argument(..., help="The other loss curve."),
        by: str = typer.Option("auto", help="Align by 'step', 'tokens' or 'auto'."),
        tag: str = typer.Option(None, help="TensorBoard scalar tag (default: the 'loss' one)."),
        background: list[Path] = typer.Option(
            [], "--background", help="Curve of an independently seeded run (repeatable)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Test whether two loss curves share spikes and plateaus beyond chance.

        Exit codes: 0 consistent with independent runs, 3 related (residual correlation
        above every circular shift and a fitted normal tail <= 1e-6), 4 insufficient
        overlap to test. Errors exit 2."""
        from modelkin.forensics.curves import compare_curve_files, shares_history

        ev = compare_curve_files(a, b, by=by, tag=tag, background_files=background)
        shared = shares_history(ev)
        if shared is None:
            verdict, code = "insufficient", EXIT_INSUFFICIENT
        elif shared:
            verdict, code = "related", EXIT_RELATED
        else:
            verdict, code = "not shown related", EXIT_UNRELATED
        if as_json:
            d = ev.to_dict()
            d.pop("plot", None)  # residual series: for reports, too long for a terminal
            print_json(
                {
                    "verdict": verdict,
                    "related": code == EXIT_RELATED if code != EXIT_INSUFFICIENT else None,
                    "evidence": d,
                }
            )
        else:
            det = ev.details
            _common.console.print(f"[bold]{verdict}[/bold]  ({a} vs {b})")
            if ev.p_value is None:
                _common.console.print(f"cannot test: {det.get('reason')}")
            else:
                _common.console.print(
                    f"residual correlation r = {ev.statistic:.4f} over {det['points']} points "
                    f"aligned by {det['aligned_by']}; {ev.p_text} "
                    f"(circular-shift null: mean {ev.null['mean']:.3f}, sd {ev.null['std']:.3f},"
                    f" {ev.null['draws']} shifts; fitted normal tail "
                    f"{det['p_normal_tail']:.2g}, asymptotic)"
                )
                if "background" in det:
                    bg = det["background"]
                    _common.console.print(
                        f"independent-run background: {bg['runs']} pairs, max r = {bg['max']:.3f}"
                    )
            _common.console.print(f"[dim]{ev.limits}[/dim]")
        raise typer.Exit(code)
