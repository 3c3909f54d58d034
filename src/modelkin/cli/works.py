"""Works commands: ``modelkin works register|classify|term|compare|disclose|rules``.

Exit codes: 0 fine; 2 bad input (the file and the problem are named; a C2PA manifest that
fails validation is bad input); 5 the facts conflict (two sources, or one declaration with
itself, cannot both be true): the answer is still printed, with both sides, but must not be
relied on until the conflict is resolved by the creator.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from modelkin.cli._common import print_json
from modelkin.errors import ModelkinError

if TYPE_CHECKING:
    from modelkin.works import Classification, Work
    from modelkin.works.c2pa_io import ManifestReading

#: The facts conflict (documented in the README's exit-code table).
EXIT_CONFLICT = 5

HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="data directory (default: $MODELKIN_HOME)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
MediaOpt = Annotated[
    Path | None, typer.Option("--media", help="the work's file: read its C2PA manifest too")
]
TrustOpt = Annotated[
    Path | None,
    typer.Option(
        "--trust-anchors",
        help="PEM bundle of C2PA trust anchors (default: $MODELKIN_C2PA_TRUST_ANCHORS, else none)",
    ),
]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="date YYYY-MM-DD (default today)")]
ParamOpt = Annotated[list[str] | None, typer.Option("--param", help="pack parameter NAME=YEARS")]


def _trust(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelkinError(path, f"cannot read trust anchors: {exc}") from exc


def _classified(
    work_ref: str, home: Path | None, media: Path | None, trust: Path | None
) -> tuple[Work, Classification, ManifestReading | None]:
    from modelkin.works import classify
    from modelkin.works.c2pa_io import read_manifest
    from modelkin.works.register import load_work

    work = load_work(work_ref, home)
    reading = read_manifest(media, _trust(trust)) if media is not None else None
    c = classify(
        work,
        reading.disclosure if reading else None,
        reading.terms if reading else None,
        reading.trust if reading else None,
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


def _day(as_of: str | None) -> dt.date:
    from modelkin.works.record import parse_date

    return parse_date(as_of, "--as-of", "--as-of") if as_of else dt.date.today()


def _trust_lines(work: Work, reading: ManifestReading | None) -> list[str]:
    """What every output says about the C2PA evidence (unverified disclosures visibly so)."""
    from modelkin.works.c2pa_io import UNVERIFIED

    lines = []
    ev = work.disclosure.c2pa
    if reading is not None:
        lines.append(
            f"C2PA manifest: {reading.validation_state} ({reading.trust}), "
            f"signed by {reading.signer or 'unknown'}"
        )
        if not reading.trusted:
            lines.append(f"UNVERIFIED: {UNVERIFIED}")
    elif ev is not None:
        lines.append(f"C2PA manifest (at registration): {ev.get('validation_state')}")
        if not ev.get("trusted"):
            lines.append(f"UNVERIFIED: {UNVERIFIED}")
    return lines


def _print_facts(c: Classification) -> None:
    for r in c.reasons:
        typer.echo(f"  because {r}")
    for i in c.inferences:
        typer.echo(f"  inferred: {i.text()}")


def _conflicts(c: Classification, reading: ManifestReading | None) -> list[str]:
    return list(c.contradictions) + (reading.contradictions if reading else [])


def _finish(flags: list[str]) -> None:
    """Print conflicts on stderr and exit 5 when there are any."""
    for f in flags:
        typer.echo(f"CONFLICT: {f}", err=True)
    if flags:
        typer.echo(
            f"error: {len(flags)} conflict(s) between the work's sources; the answer above "
            "cannot be relied on until they are resolved",
            err=True,
        )
        raise typer.Exit(EXIT_CONFLICT)


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
            bool,
            typer.Option(
                "--from-c2pa",
                help="validate FILE's C2PA manifest and keep its evidence (Invalid: refused)",
            ),
        ] = False,
        trust: TrustOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Sign the work record (with FILE's sha256) and submit it to the registry."""
        from modelkin.cli.registry import _identity, _open
        from modelkin.works import classify
        from modelkin.works.c2pa_io import fill_from_manifest, read_manifest
        from modelkin.works.register import read_work_file, register_work

        rec = read_work_file(work)
        reading = read_manifest(file, _trust(trust)) if from_c2pa else None
        rec = fill_from_manifest(rec, reading)
        c = classify(rec)
        ident = _identity(home, key)
        with _open(home) as reg:
            receipt = register_work(reg, ident, rec, file)
        trust_lines = _trust_lines(rec, reading)
        if as_json:
            out = receipt.to_dict()
            out["classification"] = c.to_dict()
            out["c2pa"] = reading.to_dict() if reading else None
            print_json(out)
        else:
            typer.echo(f"work {receipt.record_id} at ledger index {receipt.ledger_index}")
            typer.echo(f"tier: {c.tier}")
            for line in trust_lines:
                typer.echo(line)
            for w in receipt.warnings:
                typer.echo(f"warning: {w}")
        if reading is not None and not reading.trusted:
            typer.echo("warning: registered as an UNVERIFIED disclosure", err=True)
        _finish(_conflicts(c, reading))

    @works.command("classify")
    def classify_cmd(
        work: Annotated[str, typer.Argument(help="work JSON file or registered work id")],
        media: MediaOpt = None,
        trust: TrustOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Tier (human / AI-assisted / AI-generated), IPTC term, reasons, inferences, conflicts."""
        w, c, reading = _classified(work, home, media, trust)
        if as_json:
            out = c.to_dict()
            out["manifest"] = reading.to_dict() if reading else None
            out["trust"] = _trust_lines(w, reading)
            print_json(out)
        else:
            typer.echo(f"tier: {c.tier}")
            typer.echo(f"human contribution: {c.contribution}")
            typer.echo(f"digital source type: {c.digital_source_type_uri}")
            _print_facts(c)
            for line in _trust_lines(w, reading):
                typer.echo(line)
            if reading:
                for f in reading.validation_failures:
                    typer.echo(f"manifest validation: {f}")
        _finish(_conflicts(c, reading))

    @works.command("term")
    def term_cmd(
        work: Annotated[str, typer.Argument(help="work JSON file or registered work id")],
        jurisdiction: Annotated[
            str, typer.Option("--jurisdiction", "-j", help="rule pack id or pack file")
        ],
        as_of: AsOfOpt = None,
        param: ParamOpt = None,
        media: MediaOpt = None,
        trust: TrustOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Protection status, last protected day and public-domain day, with the rule used."""
        from modelkin.works import compute_term, load_pack

        day = _day(as_of)
        w, c, reading = _classified(work, home, media, trust)
        result = compute_term(
            w, c.tier, load_pack(jurisdiction), day, _params(param or []), c.contribution
        )
        if as_json:
            out = result.to_dict()
            out["classification"] = c.to_dict()
            out["trust"] = _trust_lines(w, reading)
            print_json(out)
        else:
            typer.echo(f"tier: {result.tier} (human contribution: {c.contribution})")
            typer.echo(f"status on {result.as_of}: {result.status}")
            typer.echo(f"protected until: {result.protected_until or 'open'}")
            typer.echo(f"public domain from: {result.public_domain_from or 'open'}")
            typer.echo(f"basis: {result.basis}")
            typer.echo(f"rule: {result.rule_id} ({result.citation})")
            for n in result.notes:
                typer.echo(f"note: {n}")
            _print_facts(c)
            for line in _trust_lines(w, reading):
                typer.echo(line)
        _finish(_conflicts(c, reading))

    @works.command("compare")
    def compare_cmd(
        work: Annotated[str, typer.Argument(help="work JSON file or registered work id")],
        as_of: AsOfOpt = None,
        param: ParamOpt = None,
        media: MediaOpt = None,
        trust: TrustOpt = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """One row per jurisdiction: tier, status, term, expiry and the rule that decided."""
        from modelkin.works.terms import compare_terms

        day = _day(as_of)
        w, c, reading = _classified(work, home, media, trust)
        rows = compare_terms(w, c, day, _params(param or []))
        if as_json:
            print_json(
                {
                    "as_of": day.isoformat(),
                    "classification": c.to_dict(),
                    "trust": _trust_lines(w, reading),
                    "rows": [r.to_dict() for r in rows],
                }
            )
        else:
            typer.echo(f"{w.title}: tier {c.tier}, human contribution {c.contribution}")
            head = ("pack", "status", "protected until", "term", "rule")
            table = [
                (
                    r.pack,
                    r.status,
                    str(r.protected_until or ("-" if r.basis == "no protection" else "open")),
                    r.basis,
                    f"{r.rule_id} ({r.citation})",
                )
                for r in rows
            ]
            widths = [max(len(x[i]) for x in [head, *table]) for i in range(4)]
            for row in [head, *table]:
                cells = "  ".join(x.ljust(n) for x, n in zip(row, widths, strict=False))
                typer.echo(f"{cells}  {row[4]}")
            _print_facts(c)
            for line in _trust_lines(w, reading):
                typer.echo(line)
        _finish(_conflicts(c, reading))

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
        parent: Annotated[
            Path | None,
            typer.Option("--parent", help="the asset this work edits (c2pa.opened, parentOf)"),
        ] = None,
        ingredient: Annotated[
            list[Path] | None,
            typer.Option("--ingredient", help="a component placed into a composite (repeatable)"),
        ] = None,
        tsa_url: Annotated[
            str | None,
            typer.Option(
                "--tsa-url", help="RFC 3161 time-stamp authority (default $MODELKIN_C2PA_TSA_URL)"
            ),
        ] = None,
        home: HomeOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """A disclosure label, or the C2PA manifest definition; optionally sign it into an image."""
        from modelkin.works import label_html, label_markdown, label_text
        from modelkin.works.c2pa_io import Ingredient, embed_manifest, manifest_definition

        w, c, reading = _classified(work, home, media, trust)
        renderers = {"text": label_text, "markdown": label_markdown, "html": label_html}
        if fmt not in (*renderers, "c2pa"):
            raise ModelkinError("--format", f"unknown format {fmt!r} (text, markdown, html, c2pa)")
        ings = ([Ingredient(parent, "parentOf")] if parent else []) + [
            Ingredient(p, "componentOf") for p in ingredient or []
        ]
        if embed_into is not None:
            if out is None or sign_cert is None or sign_key is None:
                raise ModelkinError("--embed-into", "needs --out, --sign-cert and --sign-key")
            embed_manifest(
                w,
                c,
                embed_into,
                out,
                sign_cert.read_bytes(),
                sign_key.read_bytes(),
                ingredients=ings,
                tsa_url=tsa_url,
            )
        if as_json:
            body = manifest_definition(w, c, ings) if fmt == "c2pa" else renderers[fmt](w, c)
            print_json({"format": fmt, "classification": c.to_dict(), "disclosure": body})
        elif fmt == "c2pa":
            print_json(manifest_definition(w, c, ings))
        else:
            typer.echo(renderers[fmt](w, c), nl=False)
        if embed_into is not None and not as_json:
            typer.echo(f"signed manifest embedded into {out}", err=True)
        _finish(_conflicts(c, reading))

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
                typer.echo(f"  {r.id:<36} {r.protection:<8} {r.citation}")

    app.add_typer(works, name="works")
