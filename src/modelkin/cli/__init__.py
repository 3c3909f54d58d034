"""The ``modelkin`` command line: thin, it parses, calls the library, prints.

Each capability has its own module in this package with a ``register(app)`` function that
adds its commands or sub-apps; :func:`build_app` discovers them, so adding a capability
never means editing a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from modelkin.errors import ModelkinError


def build_app() -> typer.Typer:
    """Create the Typer app with every capability's commands registered."""
    app = typer.Typer(
        name="modelkin",
        help="An open registry and forensic lab for the intellectual property of AI systems.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )

    @app.callback()
    def _root() -> None:
        """modelkin: forensics, ledger, registry, labels and works for AI models."""

    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Console entry point; user errors print one line and exit 2, never a traceback.

    Usage errors are handled by Typer itself (exit 2 with usage text)."""
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
