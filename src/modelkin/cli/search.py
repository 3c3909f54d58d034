"""CLI: ``modelkin search`` (1:N lineage search; thin: parse, call, print).

Exit codes follow ``compare`` (:mod:`modelkin.cli.forensics`): 3 when any candidate is
related, 0 when none is, 4 when every comparison abstained, 2 on user error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.cli._common import open_remote, print_json, remote_server
from modelkin.cli.forensics import EXIT_INSUFFICIENT, EXIT_RELATED, EXIT_UNRELATED


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "model"


def register(app: typer.Typer) -> None:
    @app.command("search")
    def search_cmd(
        model: Annotated[Path, typer.Argument(help="Suspect model or fingerprint file.")],
        top: Annotated[int, typer.Option("--top", help="Candidates compared in full.")] = 10,
        home: Annotated[
            Path | None, typer.Option("--home", help="data directory (default: $MODELKIN_HOME)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
        report_dir: Annotated[
            Path | None,
            typer.Option("--report-dir", help="Write one HTML evidence report per candidate."),
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed for a model fingerprinted here.")] = 0,
    ) -> None:
        """Rank every registered model as a possible ancestor (or sibling) of MODEL, then
        compare the top candidates in full (same verdicts and evidence as ``compare``).

        With ``modelkin --server URL``, MODEL is fingerprinted here and only its fingerprint
        is sent; the server ranks its registered models."""
        from modelkin.errors import ModelkinError
        from modelkin.fingerprint import load_or_fingerprint
        from modelkin.forensics import render_html
        from modelkin.registry import Registry
        from modelkin.search import search

        if top < 1:
            raise ModelkinError("--top", "must be at least 1")
        query = load_or_fingerprint(model, seed=seed)
        if remote_server() is not None:
            if report_dir is not None:
                raise ModelkinError("--report-dir", "not available with --server")
            _remote_search(query, top, as_json)
        with Registry.open(home) as reg:
            results = search(reg, query, top)
        if report_dir is not None:
            try:
                report_dir.mkdir(parents=True, exist_ok=True)
                for i, r in enumerate(results, 1):
                    name = _slug(r.record.name or r.record.id)
                    (report_dir / f"{i:02d}-{name}.html").write_text(
                        render_html(r.report), encoding="utf-8"
                    )
            except OSError as exc:
                raise ModelkinError(report_dir, f"cannot write reports: {exc}") from None
        if as_json:
            print_json({"count": len(results), "candidates": [r.to_dict() for r in results]})
        else:
            if not results:
                typer.echo("no registered model with a fingerprint to compare")
            for i, r in enumerate(results, 1):
                p = "n/a" if r.report.p_value is None else f"{r.report.p_value:.3g}"
                typer.echo(
                    f"{i:2d}. {r.record.name or r.record.id}  verdict: {r.report.verdict}"
                    f"  p = {p}  (index score {r.match.score:.3f})"
                )
        related = [r.report.related for r in results]
        if any(x is True for x in related):
            code = EXIT_RELATED
        elif related and all(x is None for x in related):
            code = EXIT_INSUFFICIENT
        else:
            code = EXIT_UNRELATED
        raise typer.Exit(code)


def _remote_search(query: Any, top: int, as_json: bool) -> None:
    """``search`` on the server named by ``--server`` (the fingerprint travels, not weights)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="modelkin-search-") as tmp:
        saved = query.save(Path(tmp) / "query.fp")
        with open_remote() as remote:
            found = remote.candidates(saved, top)
    results: list[dict[str, Any]] = list(found.get("candidates") or [])
    if as_json:
        print_json(found)
    else:
        if not results:
            typer.echo("no registered model with a fingerprint to compare")
        for i, r in enumerate(results, 1):
            p = "n/a" if r.get("p_value") is None else f"{r['p_value']:.3g}"
            m = r.get("model") or {}
            typer.echo(
                f"{i:2d}. {m.get('name') or m.get('id')}  verdict: {r['verdict']}"
                f"  p = {p}  (index score {r['index']['score']:.3f})"
            )
    related = [r.get("related") for r in results]
    if any(x is True for x in related):
        code = EXIT_RELATED
    elif related and all(x is None for x in related):
        code = EXIT_INSUFFICIENT
    else:
        code = EXIT_UNRELATED
    raise typer.Exit(code)
