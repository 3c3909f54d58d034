"""``modelkin inspect MODEL``: format, structure, tokenizer and role map of a model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from modelkin.cli import _common
from modelkin.cli._common import print_json
from modelkin.errors import ModelkinError


def _print_human(d: dict[str, Any], all_roles: bool) -> None:
    s = d["structure"]
    _common.console.print(
        f"[bold]{d['path']}[/bold]  format={d['format']}  tensors={d['tensor_count']}"
    )
    for f in d["files"]:
        _common.console.print(f"  file {f['path']}  {f['bytes']:,} bytes")
    if d.get("weights_digest"):
        _common.console.print(
            f"weights digest sha256:{d['weights_digest']} (what the registry knows the model "
            "by: search, label and export accept it)"
        )
    from rich.table import Table

    t = Table(title="structure", show_header=False)
    for _ in range(3):
        t.add_column(overflow="fold")
    for k in (
        "architecture",
        "family",
        "num_layers",
        "hidden_size",
        "intermediate_size",
        "num_heads",
        "num_kv_heads",
        "head_dim",
        "vocab_size",
        "tied_embeddings",
        "norm_type",
        "num_parameters",
    ):
        t.add_row(
            k,
            f"{s[k]:,}" if isinstance(s[k], int) and not isinstance(s[k], bool) else str(s[k]),
            s["sources"].get(k, ""),
        )
    t.add_row("dtypes", ", ".join(f"{k}:{v}" for k, v in s["dtypes"].items()), "")
    _common.console.print(t)
    _common.console.print(
        f"structure digest {d['structure_digest']} (tensor names and shapes only: the same "
        "for every model of this architecture, not a weights digest)"
    )
    tok = d["tokenizer"]
    if tok:
        _common.console.print(
            f"tokenizer: {tok['kind']} vocab={tok['vocab_size']:,} merges={tok['merges']:,} "
            f"special={tok['special_tokens']} ({tok['source']}) vocab sha256={tok['digest']['vocab'][:16]}…"
        )
    else:
        _common.console.print("tokenizer: none found")
    from rich.table import Table

    rt = Table(title=f"role map ({d['family']})")
    for col in ("role", "tensor", "shape", "dtype", "split"):
        rt.add_column(col, overflow="fold")
    roles = d["roles"]
    shown = (
        roles
        if all_roles
        else [r for r in roles if not r["role"].startswith("L") or r["role"].startswith("L0.")]
    )
    for r in shown:
        split = []
        if "rows" in r:
            split.append(
                f"rows {r['rows'][0]}:{r['rows'][1]}"
                + (f" per {r['row_period']}" if "row_period" in r else "")
            )
        if r.get("transposed"):
            split.append("transposed")
        rt.add_row(
            r["role"],
            r["tensor"],
            "x".join(map(str, r["shape"] or [])),
            str(r["dtype"]),
            ", ".join(split),
        )
    _common.console.print(rt)
    if len(shown) < len(roles):
        _common.console.print(
            f"({len(roles) - len(shown)} roles of layers 1+ not shown; --all-roles shows them)"
        )
    if d["unmapped"]:
        _common.console.print(f"[yellow]unmapped tensors ({len(d['unmapped'])}):[/yellow]")
        for u in d["unmapped"]:
            _common.console.print(f"  {u['tensor']} {u['shape']}")
    for n in d["notes"]:
        _common.console.print(f"note: {n}")
    for p in d["problems"]:
        _common.console.print(f"[red]problem:[/red] {p}")


def register(app: typer.Typer) -> None:
    @app.command()
    def inspect(
        model: Path = typer.Argument(
            ..., help="Model directory or file (.safetensors, .gguf, .onnx, .bin)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the description as JSON."),
        all_roles: bool = typer.Option(
            False, "--all-roles", help="Show every layer's roles, not just layer 0."
        ),
    ) -> None:
        """Show a model's format, files, structure, tokenizer and canonical role map."""
        from modelkin.arch.describe import describe_model
        from modelkin.labels.outputs import weights_digest

        d = describe_model(model)
        try:
            d["weights_digest"] = weights_digest(model)
        except ModelkinError as exc:  # e.g. a symlink in the directory: no registrable manifest
            d["weights_digest"] = None
            d["problems"] = [*d.get("problems", []), f"no weights digest: {exc.problem}"]
        if as_json:
            print_json(d)
        else:
            _print_human(d, all_roles)
