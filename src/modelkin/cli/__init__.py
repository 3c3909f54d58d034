"""The ``modelkin`` command line: thin, it parses, calls the library, prints.

Each capability has its own module in this package with a ``register(app)`` function that
adds its commands or sub-apps; :func:`build_app` discovers them, so adding a capability
never means editing a central list. When the first argument names a module that registers
a command of that name (``ledger`` in ``cli/ledger.py``), only that module is imported:
``modelkin ledger append`` then starts without loading every capability's dependencies.
Commands live in modules named after them (``label.py``, ``export.py``, ``sign.py``) so that
this fast path finds them, and each module imports its library code inside the command,
so registering every command (for ``--help``) stays cheap.

Help and usage errors are plain text unless ``TYPER_USE_RICH=1``: Typer's rich formatter
imports rich's Markdown renderer, about half of ``modelkin --help``'s start-up on this
project's machines (``benchmarks/startup_bench.py``).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Annotated

os.environ.setdefault("TYPER_USE_RICH", "0")  # before typer reads it (see module docstring)

import typer

from modelkin.errors import ModelkinError


def _command_names(app: typer.Typer) -> set[str]:
    """Top-level command and group names (an unnamed command is named after its function,
    underscores as dashes, as Typer names it)."""
    cmds = {
        c.name or (c.callback.__name__.replace("_", "-") if c.callback else None)
        for c in app.registered_commands
    }
    return {n for n in cmds | {g.name for g in app.registered_groups} if n}


def build_app(only: str | None = None) -> typer.Typer:
    """Create the Typer app with every capability's commands registered (or only those of
    the CLI module ``only``)."""
    app = typer.Typer(
        name="modelkin",
        help="An open registry and forensic lab for the intellectual property of AI systems.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root(
        server: Annotated[
            str | None,
            typer.Option(
                "--server",
                envvar="MODELKIN_SERVER",
                help="Work against the registry served at this URL (keys new, register, "
                "amend, withdraw, lineage, compare, search) instead of the local home.",
            ),
        ] = None,
        token: Annotated[
            str | None,
            typer.Option(
                "--token",
                envvar="MODELKIN_TOKEN",
                help="API token for a server whose writes are token-gated.",
            ),
        ] = None,
    ) -> None:
        """modelkin: forensics, ledger, registry, labels and works for AI models."""
        from modelkin.cli._common import REMOTE

        REMOTE.update(server=server.rstrip("/") if server else None, token=token)

    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_") or (only is not None and mod.name != only):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
    return app


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def one_blas_thread() -> None:
    """Default the BLAS libraries to one thread (before numpy is first imported).

    modelkin's linear algebra is many small problems (256 x 256 Gram matrices, per-head
    spectra), where BLAS threads only add synchronisation: measured on a busy 2-core
    machine, a gemma-270m fingerprint took 20-27 s with OpenBLAS's default threads and
    2.2-2.8 s with one. Parallelism comes from processes instead (``pytest -n``,
    ``scan-collection --workers``). A value the user set is kept."""
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")


GLOBAL_OPTIONS = ("--server", "--token")


def _command_word(args: list[str]) -> str | None:
    """The command name after the global options (``--server URL``, ``--token T``)."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in GLOBAL_OPTIONS:
            i += 2
        elif arg.startswith(tuple(f"{o}=" for o in GLOBAL_OPTIONS)):
            i += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Console entry point; user errors print one line and exit 2, never a traceback.

    Usage errors are handled by Typer itself (exit 2 with usage text)."""
    one_blas_thread()
    args = sys.argv[1:] if argv is None else argv
    app = None
    first = _command_word(args)
    if first is not None:  # fast path: the module named after the command
        app = build_app(only=first.replace("-", "_"))
        if first not in _command_names(app):
            app = None
    if app is None:
        app = build_app()
    try:
        app(args=argv, prog_name="modelkin")
    except ModelkinError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
