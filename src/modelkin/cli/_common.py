"""Helpers shared by CLI modules: JSON output and console."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print ``obj`` as stable, indented JSON on stdout."""
    typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))
