"""Errors that reach users.

Every error a user can trigger with bad input is a :class:`ModelkinError`: it names the
file (or other input) and the problem, so the CLI and the HTTP API can print it without a
traceback. Library code raises these; the edges catch them.
"""

from __future__ import annotations

from pathlib import Path


class ModelkinError(Exception):
    """Base class for user-facing errors: ``where`` names the input, ``problem`` says what is wrong."""

    def __init__(self, where: str | Path | None, problem: str) -> None:
        self.where = str(where) if where is not None else None
        self.problem = problem
        super().__init__(f"{self.where}: {problem}" if self.where else problem)

    def __reduce__(self) -> tuple[type[ModelkinError], tuple[str | None, str]]:
        """Rebuild from ``(where, problem)``: the error crosses process boundaries intact
        (multiprocessing pools, Ray workers) instead of failing to unpickle in the parent."""
        return (type(self), (self.where, self.problem))


class ModelFormatError(ModelkinError):
    """A model file is malformed, truncated, unsupported or unsafe to read."""


class LedgerError(ModelkinError):
    """The transparency log refused an operation or found an inconsistency."""


class StatementError(ModelkinError):
    """A signed statement is unsigned, wrongly signed, schema-invalid or inconsistent."""


class NotFoundError(ModelkinError):
    """A requested record, entry or model does not exist."""
