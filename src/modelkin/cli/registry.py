"""Registry commands: ``keys``, ``register``, ``amend``, ``withdraw``, ``lineage``, ``registry``.

Thin: each command parses options, calls :mod:`modelkin.registry`, prints the result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from modelkin.cli._common import local_only, open_remote, print_json, remote_server
from modelkin.config import Home
from modelkin.errors import ModelkinError

HomeOpt = Annotated[
    Path | None, typer.Option("--home", help="data directory (default: $MODELKIN_HOME)")
]
KeyOpt = Annotated[
    str, typer.Option("--key", "-k", help="identity name in the home's keys, or a key file")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
DbUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        envvar="MODELKIN_DB_URL",
        help="registry + ledger database, e.g. postgresql+psycopg://user@host/db "
        "(default: SQLite files in the home)",
    ),
]


def _open(home: Path | None, db_url: str | None = None) -> Any:
    """The local registry in ``home``, or the server's with ``modelkin --server URL``
    (:class:`modelkin.remote.RemoteRegistry`: the builders sign here, the server logs)."""
    if remote_server() is not None:
        return open_remote()
    from modelkin.registry import Registry

    return Registry.open(home, db_url)


def _key_path(home: Path | None, name: str) -> Path:
    return Home.resolve(home).keys_dir / f"{name}.key"


def _identity(home: Path | None, key: str) -> Any:
    from modelkin.statements import Identity

    path = Path(key)
    if not path.exists() or path.is_dir():
        path = _key_path(home, key)
    return Identity.load(path)


def _receipt(receipt: Any, as_json: bool) -> None:
    if as_json:
        print_json(receipt.to_dict())
    else:
        typer.echo(
            f"accepted {receipt.kind} record {receipt.record_id} at ledger index "
            f"{receipt.ledger_index} (tree size {receipt.tree_size})"
        )
    for w in receipt.warnings:
        typer.echo(f"warning: {w}", err=True)


def _verification_out(receipt: Any, claim: Any, as_json: bool) -> None:
    if as_json:
        print_json({"receipt": receipt.to_dict(), "claim": claim.to_dict()})
        return
    typer.echo(f"logged verification at ledger #{receipt.ledger_index}")
    for v in claim.verification_history:
        if v.ledger_index == receipt.ledger_index:
            typer.echo(f"{v.attribution} (parent {v.parent_sha256 or '-'}): {v.detail['reason']}")
    if claim.verifications_disagree:
        typer.echo("verifications of this claim disagree; every one is listed by `registry show`")


def _keys(app: typer.Typer) -> None:
    keys = typer.Typer(help="Ed25519 identities that sign statements.", no_args_is_help=True)

    @keys.command("new")
    def keys_new(
        name: str,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        organisation: Annotated[
            str | None,
            typer.Option(
                "--org",
                help="The organisation this key signs for. A server that requires API tokens "
                "accepts a statement only from a key of the token's organisation, so a key "
                "without one can never write there.",
            ),
        ] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Create a key pair and register its public key in the ledger (self-signed).

        The key is bound to an organisation (--org) when it is registered; the binding is
        in the ledger and cannot be added later (make a new key instead)."""
        from modelkin.registry import register_identity
        from modelkin.statements import Identity

        ident = Identity.generate(name)
        path = ident.save(_key_path(home, name))
        with _open(home, db_url) as reg:
            receipt = register_identity(reg, ident, organisation)
        if not as_json:
            typer.echo(f"key {name} ({ident.keyid}) saved to {path}")
            if organisation is None:
                typer.echo(
                    "note: this key belongs to no organisation. It can sign statements on an "
                    "open registry, but a server that requires API tokens (modelkin serve "
                    "--tokens) accepts statements only from keys of the token's organisation; "
                    "for that, make a key with --org ORGANISATION.",
                    err=True,
                )
        _receipt(receipt, as_json)

    @keys.command("list")
    def keys_list(home: HomeOpt = None, db_url: DbUrlOpt = None, as_json: JsonOpt = False) -> None:
        """Local key files and registered identities."""
        local_only("keys list")
        keys_dir = Home.resolve(home).keys_dir
        local = sorted(p.stem for p in keys_dir.glob("*.key")) if keys_dir.is_dir() else []
        with _open(home, db_url) as reg:
            registered = reg.identities()
        rows = [
            {
                "name": i["name"],
                "keyid": i["keyid"],
                "status": i["status"],
                "local": i["name"] in local,
            }
            for i in registered
        ]
        known = {r["name"] for r in rows}
        rows += [
            {"name": n, "keyid": None, "status": "unregistered", "local": True}
            for n in local
            if n not in known
        ]
        if as_json:
            print_json(rows)
            return
        for r in rows:
            flag = "local" if r["local"] else ""
            typer.echo(f"{r['name']:<24} {r['status']:<12} {r['keyid'] or '-'} {flag}")

    @keys.command("show")
    def keys_show(name: str, home: HomeOpt = None, db_url: DbUrlOpt = None) -> None:
        """An identity's key id, public key and registration."""
        local_only("keys show")
        with _open(home, db_url) as reg:
            found = [i for i in reg.identities() if i["name"] == name or i["keyid"] == name]
        if not found:
            raise ModelkinError(name, "no registered identity with this name or key id")
        print_json(found[0])

    app.add_typer(keys, name="keys")


def _card_lineage(
    reg: Any, home: Path | None, key: str, receipt: Any, parents: list[str], relation: str | None
) -> Any:
    """A derivation claim for a card's ``base_model`` entries that are registered (by Hub id
    or name); the others are reported, not invented."""
    if not parents or relation is None:
        return None
    from modelkin.registry import register_derivation

    found: list[str] = []
    for ref in parents:
        known = reg.search(ref, "model") if remote_server() else reg.models()
        hits = [m for m in known if ref in (m.predicate.get("hub_id"), m.name)]
        if hits:
            found.append(hits[0].id)
        else:
            receipt.warnings.append(
                f"card base_model {ref} is not registered: no lineage claim made for it"
            )
    if not found:
        return None
    child = reg.record(receipt.record_id).id
    return register_derivation(
        reg, _identity(home, key), child=child, parents=found, relation=relation
    )


def _register(app: typer.Typer) -> None:
    reg_app = typer.Typer(help="Sign and register statements.", no_args_is_help=True)

    @reg_app.command("model")
    def register_model_cmd(
        model_dir: Path,
        key: KeyOpt,
        name: Annotated[str, typer.Option()],
        version: Annotated[str, typer.Option()],
        organisation: Annotated[str, typer.Option("--org")],
        license: Annotated[
            str | None, typer.Option("--license", help="licence (default: the --card's)")
        ] = None,
        card: Annotated[
            Path | None,
            typer.Option(
                help="Hugging Face model card (README.md): its license, pipeline_tag, "
                "library_name, language, model-index and base_model become declarations "
                "and lineage claims (options given here win)"
            ),
        ] = None,
        task: Annotated[str | None, typer.Option(help="pipeline tag, e.g. text-generation")] = None,
        library: Annotated[str | None, typer.Option(help="e.g. transformers")] = None,
        language: Annotated[list[str] | None, typer.Option("--language")] = None,
        contact: Annotated[str | None, typer.Option()] = None,
        description: Annotated[str | None, typer.Option()] = None,
        hub_id: Annotated[str | None, typer.Option(help="Hugging Face Hub id owner/name")] = None,
        download_location: Annotated[str | None, typer.Option()] = None,
        license_url: Annotated[str | None, typer.Option(help="where a custom licence is")] = None,
        intended_use: Annotated[str | None, typer.Option()] = None,
        out_of_scope: Annotated[str | None, typer.Option()] = None,
        limitations: Annotated[str | None, typer.Option()] = None,
        fingerprint: Annotated[bool, typer.Option(help="fingerprint the weights")] = True,
        oms_bundle: Annotated[
            Path | None,
            typer.Option(help="OpenSSF model signing bundle (model.sig) that signs MODEL_DIR"),
        ] = None,
        oms_public_key: Annotated[
            Path | None, typer.Option(help="PEM public key of a key-signed bundle")
        ] = None,
        oms_anchors: Annotated[
            Path | None, typer.Option(help="PEM trust anchors of a certificate-signed bundle")
        ] = None,
        oms_trusted_root: Annotated[
            Path | None,
            typer.Option(help="Sigstore trusted_root.json for a keyless bundle (used offline)"),
        ] = None,
        oms_identity: Annotated[
            str | None, typer.Option(help="expected signer identity of a keyless bundle")
        ] = None,
        oms_issuer: Annotated[
            str | None, typer.Option(help="expected OIDC issuer of a keyless bundle")
        ] = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register a model directory or file: manifest, fingerprint, declarations.

        With --oms-bundle, the OpenSSF model signing bundle is verified offline (with the
        key, trust anchors or Sigstore trusted root given) and must sign exactly the
        registered files; the record then names the signer."""
        from modelkin.registry import register_model

        declared: dict[str, Any] = {}
        parents: list[str] = []
        relation: str | None = None
        if card is not None:
            from modelkin.labels.hf_card import read_card_fields

            fields = read_card_fields(card)
            declared.update(fields.declarations())
            license = license or fields.licence
            parents, relation = list(fields.base_models), fields.relation or "finetune"
        if not license:
            raise ModelkinError("--license", "give --license, or a --card that declares one")
        given = {
            "task": task, "library": library, "languages": language or None, "contact": contact,
            "description": description, "hub_id": hub_id,
            "download_location": download_location, "license_url": license_url,
        }  # fmt: skip
        declared.update({k: v for k, v in given.items() if v is not None})
        trust = None
        if oms_bundle is not None:
            from modelkin.oms import Trust

            def read(p: Path | None) -> bytes | None:
                if p is None:
                    return None
                try:
                    return p.read_bytes()
                except OSError as exc:
                    raise ModelkinError(p, f"cannot read: {exc.strerror or exc}") from None

            trust = Trust(
                public_key=read(oms_public_key),
                anchors=read(oms_anchors),
                trusted_root=read(oms_trusted_root),
                identity=oms_identity,
                issuer=oms_issuer,
            )
        with _open(home, db_url) as reg:
            receipt = register_model(
                reg,
                model_dir,
                _identity(home, key),
                name=name,
                version=version,
                organisation=organisation,
                license=license,
                intended_use=intended_use,
                out_of_scope=out_of_scope,
                limitations=limitations,
                fingerprint=fingerprint,
                oms_bundle=oms_bundle,
                oms_trust=trust,
                declared=declared,
            )
            claim = _card_lineage(reg, home, key, receipt, parents, relation)
        _receipt(receipt, as_json)
        if claim is not None:
            _receipt(claim, as_json)

    @reg_app.command("dataset")
    def register_dataset_cmd(
        key: KeyOpt,
        data_dir: Annotated[
            Path | None, typer.Argument(help="the data (hashed file by file)")
        ] = None,
        croissant: Annotated[Path | None, typer.Option(help="Croissant JSON-LD file")] = None,
        hf_card: Annotated[
            Path | None, typer.Option(help="Hugging Face dataset card README.md")
        ] = None,
        name: Annotated[str | None, typer.Option()] = None,
        organisation: Annotated[str | None, typer.Option("--org")] = None,
        license: Annotated[list[str] | None, typer.Option("--license")] = None,
        language: Annotated[list[str] | None, typer.Option("--language")] = None,
        source: Annotated[
            list[str] | None, typer.Option("--source", help="source name or URL")
        ] = None,
        collection: Annotated[str | None, typer.Option()] = None,
        consent: Annotated[
            str,
            typer.Option(
                help="obtained|opt_out_honoured|opt_out_not_honoured|not_applicable|unknown"
            ),
        ] = "unknown",
        personal_data: Annotated[
            bool | None, typer.Option("--personal-data/--no-personal-data")
        ] = None,
        tokens: Annotated[int | None, typer.Option(help="size in tokens")] = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register dataset provenance (from the data, a Croissant file or an HF card)."""
        from modelkin.registry import (
            dataset_from_croissant,
            dataset_from_hf_card,
            dataset_predicate,
            manifest_from_directory,
            register_dataset,
        )

        if croissant and hf_card:
            raise ModelkinError("--croissant/--hf-card", "give one metadata file, not both")
        if croissant:
            pred = dataset_from_croissant(croissant, data_dir, consent=consent, size_tokens=tokens)
        elif hf_card:
            if data_dir is None:
                raise ModelkinError(hf_card, "a dataset card has no file digests: give DATA_DIR")
            pred = dataset_from_hf_card(
                hf_card, data_dir, consent=consent, size_tokens=tokens, organisation=organisation
            )
        else:
            if data_dir is None or name is None:
                raise ModelkinError(
                    "register dataset", "give DATA_DIR and --name, or --croissant/--hf-card"
                )
            pred = dataset_predicate(
                name=name,
                manifest=manifest_from_directory(data_dir),
                consent=consent,
                size_tokens=tokens,
                collection=collection,
                personal_data=personal_data,
            )
        overrides: dict[str, Any] = {
            "name": name,
            "organisation": organisation,
            "collection": collection,
        }
        pred.update({k: v for k, v in overrides.items() if v is not None})
        if license:
            pred["licenses"] = license
        if language:
            pred["languages"] = language
        if source:
            pred["sources"] = [
                {"name": s, "url": s if "://" in s else None, "license": None} for s in source
            ]
        if personal_data is not None:
            pred["personal_data"]["present"] = personal_data
        with _open(home, db_url) as reg:
            receipt = register_dataset(reg, _identity(home, key), pred)
        _receipt(receipt, as_json)

    @reg_app.command("run")
    def register_run_cmd(
        key: KeyOpt,
        name: Annotated[str, typer.Option()],
        hardware: Annotated[str, typer.Option(help="accelerator kind, e.g. H100-SXM")],
        count: Annotated[int, typer.Option(help="number of accelerators")],
        start: Annotated[str, typer.Option(help="RFC 3339 start time")],
        end: Annotated[str, typer.Option(help="RFC 3339 end time")],
        output: Annotated[str, typer.Option(help="output model (name, id or digest)")],
        input_model: Annotated[list[str] | None, typer.Option("--input-model")] = None,
        dataset: Annotated[list[str] | None, typer.Option("--dataset")] = None,
        accelerator_hours: Annotated[float | None, typer.Option()] = None,
        flops: Annotated[float | None, typer.Option()] = None,
        energy_kwh: Annotated[float | None, typer.Option()] = None,
        location: Annotated[str | None, typer.Option()] = None,
        loss_curve: Annotated[
            Path | None, typer.Option(help="loss curve file (stored as a blob)")
        ] = None,
        organisation: Annotated[str | None, typer.Option("--org")] = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register a training run (compute, inputs, output, loss curve)."""
        from modelkin.registry import register_training_run

        with _open(home, db_url) as reg:
            receipt = register_training_run(
                reg,
                _identity(home, key),
                name=name,
                hardware_kind=hardware,
                hardware_count=count,
                started_at=start,
                ended_at=end,
                output=output,
                input_models=input_model,
                datasets=dataset,
                accelerator_hours=accelerator_hours,
                flops=flops,
                energy_kwh=energy_kwh,
                location=location,
                organisation=organisation,
                loss_curve=loss_curve,
            )
        _receipt(receipt, as_json)

    @reg_app.command("derivation")
    def register_derivation_cmd(
        child: str,
        key: KeyOpt,
        relation: Annotated[
            str,
            typer.Option(
                help="finetune, continued_pretraining, quantized, merge, adapter, pruned, distilled, converted, or none"
            ),
        ],
        parent: Annotated[list[str] | None, typer.Option("--parent")] = None,
        notes: Annotated[str | None, typer.Option()] = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Claim a lineage (checked against the weights when fingerprints exist)."""
        from modelkin.registry import register_derivation

        with _open(home, db_url) as reg:
            receipt = register_derivation(
                reg,
                _identity(home, key),
                child=child,
                parents=parent or [],
                relation=relation,
                notes=notes,
            )
            rec = reg.record(receipt.record_id)
        _receipt(receipt, as_json)
        if not as_json:
            for v in rec.verifications:
                typer.echo(
                    f"verdict: {v.verdict} (parent {v.parent_sha256 or '-'}): "
                    f"{v.detail.get('reason', '')} [{v.attribution}]"
                )

    @reg_app.command("product")
    def register_product_cmd(
        name: str,
        key: KeyOpt,
        organisation: Annotated[str, typer.Option("--org")],
        model: Annotated[list[str], typer.Option("--model", help="shipped model (repeatable)")],
        version: Annotated[str | None, typer.Option()] = None,
        url: Annotated[str | None, typer.Option()] = None,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Register a deployed product and the models it ships."""
        from modelkin.registry import register_product

        with _open(home, db_url) as reg:
            receipt = register_product(
                reg,
                _identity(home, key),
                name=name,
                organisation=organisation,
                models=model,
                version=version,
                url=url,
            )
        _receipt(receipt, as_json)

    app.add_typer(reg_app, name="register")


def _print_lineage(graph: dict[str, Any]) -> None:
    """The lineage graph (``LineageGraph.to_dict``, local or from a server) as text."""
    nodes = {n["key"]: n for n in graph["nodes"]}

    def label(key: str) -> str:
        return str((nodes.get(key) or {}).get("name") or key[:23])

    root = graph["root"]
    typer.echo(f"lineage of {label(root) if root in nodes else root} "
               f"(ledger tree size {graph['tree_size']})")  # fmt: skip
    for e in graph["edges"]:
        ev = e.get("evidence") or {}
        verdict = f" [{ev['verdict']}]" if ev.get("verdict") else ""
        typer.echo(
            f"  {label(e['src'])} --{e['relation']}{verdict}--> {label(e['dst'])}  "
            f"(ledger #{ev.get('ledger_index')})"
        )
    for n in nodes.values():
        if n.get("dangling"):
            typer.echo(f"  dangling: {n['key']}")


def _changes(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ModelkinError(pair, "expected FIELD=VALUE (VALUE as JSON, or plain text)")
        field, value = pair.split("=", 1)
        try:
            out[field] = json.loads(value)
        except ValueError:
            out[field] = value
    return out


def register(app: typer.Typer) -> None:
    _keys(app)
    _register(app)

    @app.command("amend")
    def amend_cmd(
        record: str,
        key: KeyOpt,
        reason: Annotated[str, typer.Option()],
        set_: Annotated[
            list[str], typer.Option("--set", help="FIELD=VALUE (JSON or text), repeatable")
        ],
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Amend a record you signed: a new statement replaces fields; history stays."""
        from modelkin.registry import amend

        with _open(home, db_url) as reg:
            receipt = amend(reg, _identity(home, key), record, _changes(set_), reason)
        _receipt(receipt, as_json)

    @app.command("withdraw")
    def withdraw_cmd(
        record: str,
        key: KeyOpt,
        reason: Annotated[str, typer.Option()],
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Withdraw a record you signed (it stays in the ledger, marked withdrawn)."""
        from modelkin.registry import withdraw

        with _open(home, db_url) as reg:
            receipt = withdraw(reg, _identity(home, key), record, reason)
        _receipt(receipt, as_json)

    @app.command("lineage")
    def lineage_cmd(
        model: str,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
        svg: Annotated[Path | None, typer.Option("--svg", help="write the graph as SVG")] = None,
    ) -> None:
        """Ancestors and descendants of a model, each edge with evidence and inclusion proof."""
        picture: str | None = None
        if remote_server() is not None:
            with open_remote() as remote:
                graph = remote.lineage(model)
                picture = remote.lineage_svg(model) if svg else None
        else:
            with _open(home, db_url) as reg:
                found = reg.lineage(model)
                picture = reg.lineage_svg(found) if svg else None
            graph = found.to_dict()
        if svg and picture is not None:
            try:
                svg.write_text(picture, encoding="utf-8")
            except OSError as exc:
                raise ModelkinError(svg, f"cannot write: {exc.strerror or exc}") from None
        if as_json:
            print_json(graph)
            return
        _print_lineage(graph)
        if svg:
            typer.echo(f"wrote {svg}")

    reg_cmd = typer.Typer(help="Inspect and maintain the registry database.", no_args_is_help=True)

    @reg_cmd.command("rebuild")
    def rebuild_cmd(home: HomeOpt = None, db_url: DbUrlOpt = None) -> None:
        """Drop the registry tables and replay the ledger (the source of truth)."""
        local_only("registry rebuild")
        with _open(home, db_url) as reg:
            n = reg.rebuild()
            count = len(reg.records(include_inactive=True))
        typer.echo(f"replayed {n} ledger entries into {count} records")

    @reg_cmd.command("reverify")
    def reverify_cmd(
        claim: Annotated[str, typer.Argument(help="derivation claim (record id or prefix)")],
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Check a lineage claim again with the installed forensic engine; the operator's
        new verification statement is logged beside the earlier ones."""
        with _open(home, db_url) as reg:
            receipt = reg.reverify(claim)
            rec = reg.record(claim, "derivation")
        _verification_out(receipt, rec, as_json)

    @reg_cmd.command("attest")
    def attest_cmd(
        claim: Annotated[str, typer.Argument(help="derivation claim (record id or prefix)")],
        key: KeyOpt,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Check a lineage claim with the installed forensic engine and publish the result
        as your own signed verification statement (a third party's, shown as yours)."""
        from modelkin.registry.builders import attest_claim

        with _open(home, db_url) as reg:
            receipt = attest_claim(reg, _identity(home, key), claim)
            rec = reg.record(claim, "derivation")
        _verification_out(receipt, rec, as_json)

    @reg_cmd.command("show")
    def show_cmd(
        ref: str,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        envelope: Annotated[bool, typer.Option(help="include the signed envelope")] = False,
    ) -> None:
        """One record (by id, digest or name) as JSON, with its inclusion proof."""
        local_only("registry show")
        with _open(home, db_url) as reg:
            rec = reg.record(ref)
            out = rec.to_dict(envelope=envelope)
            out["proof"] = reg.inclusion_proof(rec.ledger_index)
        print_json(out)

    @reg_cmd.command("list")
    def list_cmd(
        kind: Annotated[
            str | None,
            typer.Option(help="model, dataset, training-run, derivation, product, work, ..."),
        ] = None,
        search: Annotated[str | None, typer.Option(help="text to look for")] = None,
        all_: Annotated[bool, typer.Option("--all", help="include amended and withdrawn")] = False,
        home: HomeOpt = None,
        db_url: DbUrlOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List records."""
        local_only("registry list")
        with _open(home, db_url) as reg:
            recs = reg.search(search, kind) if search else reg.records(kind, include_inactive=all_)
        if as_json:
            print_json([r.to_dict() for r in recs])
            return
        for r in recs:
            flags = f" [{r.status}]" if r.status != "active" else ""
            flags += " [dangling refs]" if r.dangling else ""
            typer.echo(f"#{r.ledger_index:<5} {r.kind:<13} {r.id[:16]}  {r.name or '-'}{flags}")

    app.add_typer(reg_cmd, name="registry")
