"""Helpers shared by CLI modules: JSON output and console.

``console`` and ``err_console`` (rich) are created on first use: importing rich costs
tens of milliseconds, which commands run once per entry (``ledger append``) should not pay.
"""

from __future__ import annotations

import json
from typing import Any

import typer


def print_json(obj: Any) -> None:
    """Print ``obj`` as stable, indented JSON on stdout."""
    typer.echo(json.dumps(obj, indent=2, sort_keys=True, default=str))


def __getattr__(name: str) -> Any:
    """``console`` / ``err_console``: rich consoles made on first access."""
    if name not in ("console", "err_console"):
        raise AttributeError(name)
    from rich.console import Console

    value = Console(stderr=name == "err_console")
    globals()[name] = value
    return value
