"""Works commands: ``modelkin works register|classify|term|disclose|rules``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.cli._common import print_json
from modelkin.errors import ModelkinError

HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="data directory (default: $MODELKIN_HOME)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
MediaOpt = Annotated[
    Path | None, typer.Option("--media", help="the work's file: read its C2PA manifest too")
]
TrustOpt = Annotated[
    Path | None, typer.Option("--trust-anchors", help="PEM file of extra C2PA trust anchors")
]


def _trust(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelkinError(path, f"cannot read trust anchors: {exc}") from exc


def _classified(work_ref: str, home: Path | None, media: Path | None, trust: Path | None) -> Any:
    from modelkin.works import classify
    from modelkin.works.c2pa_io import fill_from_manifest, read_manifest
    from modelkin.works.register import load_work

    work = load_work(work_ref, home)
    reading = read_manifest(media, _trust(trust)) if media is not None else None
    work = fill_from_manifest(work, reading)
    c = classify(
        work,
        reading.disclosure if reading else None,
        reading.terms if reading else None,
    )
    return work, c, reading


def _params(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        key, sep, num = v.partition("=")
        if not sep or not num.strip().lstrip("-").isdigit():
            raise ModelkinError(f"--param {v}", "expected NAME=YEARS (an integer)")
        out[key.strip()] = int(num)
    return out


def register(app: typer.Typer) -> None:
    works = typer.Typer(
        help="Works: three-tier classification, protection terms, AI-use disclosure.",
        no_args_is_help=True,
    )

    @works.command("register")
    def register_cmd(
        file: Annotated[Path, typer.Argument(help="the work's content file (digested here)")],
        work: Annotated[Path, typer.Option("--work", "-w", help="work record JSON")],
        key: Annotated[str, typer.Option("--key", "-k", help="identity name or key file")],
        home: HomeOpt = None,
        from_c2pa: Annotated[
            bool, typer.Option("--from-c2pa", help="take the disclosure from FILE's manifest")
        ] = False,
        trust: TrustOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Sign the work record (with FILE's sha256) and submit it to the registry."""
        from modelkin.cli.registry import _identity, _open
        from modelkin.works.c2pa_io import fill_from_manifest, read_manifest
        from modelkin.works.register import read_work_file, register_work

        rec = read_work_file(work)
        if from_c2pa:
            rec = fill_from_manifest(rec, read_manifest(file, _trust(trust)))
        ident = _identity(home, key)
        with _open(home) as reg:
            receipt = register_work(reg, ident, rec, file)
        if as_json:
            print_json(receipt.to_dict())
        else:
            typer.echo(f"work {receipt.record_id} at ledger index {receipt.ledger_index}")
            for w in receipt.warnings:
                typer.echo(f"warning: {w}")

    @works.command("classify")
    def classify_cmd(
        work: Annotated[str, typer.Argument(help="work JSON file or registered work id")],
        media: MediaOpt = None,
        trust: TrustOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Tier (human / AI-assisted / AI-generated), IPTC term, reasons and contradictions."""
        _, c, reading = _classified(work, home, media, trust)
        if as_json:
            out = c.to_dict()
            out["manifest"] = reading.to_dict() if reading else None
            print_json(out)
            return
        typer.echo(f"tier: {c.tier}")
        typer.echo(f"digital source type: {c.digital_source_type_uri}")
        for r in c.reasons:
            typer.echo(f"  because {r}")
        flags = list(c.contradictions) + (reading.contradictions if reading else [])
        if reading:
            flags += [f"manifest validation: {f}" for f in reading.validation_failures]
        for f in flags:
            typer.echo(f"CONTRADICTION: {f}")

    @works.command("term")
    def term_cmd(
        work: Annotated[str, typer.Argument(help="work JSON file or registered work id")],
        jurisdiction: Annotated[
            str, typer.Option("--jurisdiction", "-j", help="rule pack id or pack file")
        ],
        as_of: Annotated[str | None, typer.Option("--as-of", help="date YYYY-MM-DD")] = None,
        param: Annotated[
            list[str] | None, typer.Option("--param", help="pack parameter NAME=YEARS")
        ] = None,
        media: MediaOpt = None,
        trust: TrustOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Protection status, last protected day and public-domain day, with the rule used."""
        from modelkin.works import compute_term, load_pack
        from modelkin.works.record import parse_date

        day = parse_date(as_of, "--as-of", "--as-of") if as_of else dt.date.today()
        w, c, _ = _classified(work, home, media, trust)
        result = compute_term(w, c.tier, load_pack(jurisdiction), day, _params(param or []))
        if as_json:
            out = result.to_dict()
            out["classification"] = c.to_dict()
            print_json(out)
            return
        typer.echo(f"tier: {result.tier}")
        typer.echo(f"status on {result.as_of}: {result.status}")
        typer.echo(f"protected until: {result.protected_until or 'not yet known'}")
        typer.echo(f"public domain from: {result.public_domain_from or 'not yet known'}")
        typer.echo(f"basis: {result.basis}")
        typer.echo(f"rule: {result.rule_id} ({result.citation})")
        for n in result.notes:
            typer.echo(f"note: {n}")
        for f in c.contradictions:
            typer.echo(f"CONTRADICTION: {f}")

    @works.command("disclose")
    def disclose_cmd(
        work: Annotated[str, typer.Argument(help="work JSON file or registered work id")],
        fmt: Annotated[
            str, typer.Option("--format", "-f", help="text | markdown | html | c2pa")
        ] = "text",
        media: MediaOpt = None,
        trust: TrustOpt = None,
        embed_into: Annotated[
            Path | None, typer.Option("--embed-into", help="image to copy with a signed manifest")
        ] = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="where the signed copy goes")
        ] = None,
        sign_cert: Annotated[
            Path | None, typer.Option("--sign-cert", help="PEM chain: signing cert, then issuers")
        ] = None,
        sign_key: Annotated[
            Path | None, typer.Option("--sign-key", help="PEM private key of the signing cert")
        ] = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """A disclosure label, or the C2PA actions assertion; optionally sign it into an image."""
        from modelkin.works import label_html, label_markdown, label_text
        from modelkin.works.c2pa_io import embed_manifest, manifest_definition

        w, c, _ = _classified(work, home, media, trust)
        renderers = {"text": label_text, "markdown": label_markdown, "html": label_html}
        if fmt not in (*renderers, "c2pa"):
            raise ModelkinError("--format", f"unknown format {fmt!r} (text, markdown, html, c2pa)")
        if embed_into is not None:
            if out is None or sign_cert is None or sign_key is None:
                raise ModelkinError("--embed-into", "needs --out, --sign-cert and --sign-key")
            embed_manifest(w, c, embed_into, out, sign_cert.read_bytes(), sign_key.read_bytes())
        if as_json:
            body = manifest_definition(w, c) if fmt == "c2pa" else renderers[fmt](w, c)
            print_json({"format": fmt, "classification": c.to_dict(), "disclosure": body})
        elif fmt == "c2pa":
            print_json(manifest_definition(w, c))
        else:
            typer.echo(renderers[fmt](w, c), nl=False)
        if embed_into is not None and not as_json:
            typer.echo(f"signed manifest embedded into {out}", err=True)

    @works.command("rules")
    def rules_cmd(
        pack: Annotated[str | None, typer.Argument(help="one pack id or file")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """The jurisdiction rule packs: parameters, rules and citations."""
        from modelkin.works import builtin_pack_ids, load_pack

        packs = [load_pack(p) for p in ([pack] if pack else builtin_pack_ids())]
        if as_json:
            print_json([p.to_dict() for p in packs])
            return
        for p in packs:
            params = ", ".join(f"{k}={v}" for k, v in p.params.items())
            typer.echo(f"{p.id}: {p.title}" + (f" [params: {params}]" if params else ""))
            for r in p.rules:
                typer.echo(f"  {r.id:<32} {r.protection:<8} {r.citation}")

    app.add_typer(works, name="works")
