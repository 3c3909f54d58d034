"""Helpers shared by CLI modules: JSON output and console.

``console`` and ``err_console`` (rich) are created on first use: importing rich costs
tens of milliseconds, which commands run once per entry (``ledger append``) should not pay.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from modelkin.errors import ModelkinError

#: ``modelkin --server URL [--token T]``: the registry commands then work against that server.
REMOTE: dict[str, str | None] = {"server": None, "token": None}


def remote_server() -> str | None:
    """The ``--server`` URL given to ``modelkin`` (None: work on the local home)."""
    return REMOTE["server"]


def open_remote() -> Any:
    """A :class:`modelkin.remote.RemoteRegistry` for ``--server`` (and ``--token``)."""
    from modelkin.remote import RemoteRegistry

    server = REMOTE["server"]
    if server is None:  # pragma: no cover - callers check remote_server() first
        raise ModelkinError("--server", "no server given")
    return RemoteRegistry(server, REMOTE["token"])


def local_only(command: str) -> None:
    """Refuse ``--server`` for a command that works on a local home only."""
    if REMOTE["server"] is not None:
        raise ModelkinError(
            "--server",
            f"`modelkin {command}` works on a local home only (with --server: keys new, "
            "register, amend, withdraw, lineage, compare, search)",
        )


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


def write_output(data: str | bytes, out: Path | None) -> None:
    """Write to ``out`` or stdout; binary output needs ``-o`` when stdout is a terminal."""
    if out is not None:
        try:
            if isinstance(data, bytes):
                out.write_bytes(data)
            else:
                out.write_text(data, encoding="utf-8")
        except OSError as exc:
            raise ModelkinError(out, f"cannot write: {exc.strerror or exc}") from None
        return
    if isinstance(data, bytes):
        if sys.stdout.isatty():
            raise ModelkinError("--output", "binary output: give -o FILE or redirect stdout")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        typer.echo(data, nl=False)


MODEL_HELP = (
    "Registered model (name, record id or weights digest), a model directory or file (found "
    "in the registry by its weights digest), or a label JSON file."
)
