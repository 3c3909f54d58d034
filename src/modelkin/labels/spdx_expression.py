"""Licence strings as SPDX licence expressions (SPDX 3.0.1 Annex B), meaning preserved.

Parsed with ``license-expression`` (the SPDX expression grammar: ``AND``, ``OR``, ``WITH``
and brackets, ``AND`` binding tighter than ``OR``), then rendered back with every operand
normalised: an SPDX licence id keeps its canonical spelling (``apache-2.0`` ->
``Apache-2.0``), a Hugging Face id that names an SPDX licence becomes it (``odc-by`` ->
``ODC-By-1.0``, from ``data/licences.json``), anything else becomes ``LicenseRef-<id>``
and an unknown exception ``AdditionRef-<id>``. Brackets are written wherever an operand is
itself a compound of the other operator, so ``MIT AND (Apache-2.0 OR BSD-3-Clause)`` keeps
its meaning and ``Apache-2.0 WITH LLVM-exception`` stays one licence with an exception.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from modelkin.labels.licences import lookup

_REF_CHARS = re.compile(r"[^A-Za-z0-9.\-]+")


def slug(text: str) -> str:
    """Characters allowed in a LicenseRef/AdditionRef idstring (``[A-Za-z0-9.-]``)."""
    return _REF_CHARS.sub("-", text).strip("-") or "x"


@cache
def _licensing() -> Any:
    import license_expression

    return license_expression.get_spdx_licensing()


def _licence_id(key: str, known: bool) -> str:
    if key.startswith(("LicenseRef-", "DocumentRef-")):
        return key
    facts = lookup(key)
    if facts is not None and not facts.spdx[0].islower():
        return facts.spdx  # our table maps Hub ids to SPDX ids (odc-by -> ODC-By-1.0)
    if known:
        return key
    return f"LicenseRef-{slug(facts.spdx if facts else key)}"


def _render(node: Any, unknown: set[str]) -> str:
    import boolean
    from license_expression import LicenseSymbol, LicenseWithExceptionSymbol

    if isinstance(node, LicenseWithExceptionSymbol):
        lic = _licence_id(node.license_symbol.key, node.license_symbol.key not in unknown)
        exc = node.exception_symbol.key
        if exc in unknown and not exc.startswith("AdditionRef-"):
            exc = f"AdditionRef-{slug(exc)}"
        return f"{lic} WITH {exc}"
    if isinstance(node, LicenseSymbol):
        return _licence_id(node.key, node.key not in unknown)
    if isinstance(node, boolean.AND | boolean.OR):
        op = " AND " if isinstance(node, boolean.AND) else " OR "
        parts = []
        for arg in node.args:
            text = _render(arg, unknown)
            nested = isinstance(arg, boolean.AND | boolean.OR) and type(arg) is not type(node)
            parts.append(f"({text})" if nested else text)
        return op.join(parts)
    raise ValueError(f"unexpected licence expression node {node!r}")


def spdx_expression(value: str) -> str:
    """``value`` as a valid SPDX licence expression with the same meaning.

    A string the grammar cannot parse (unbalanced brackets, a dangling operator) is kept
    whole as one ``LicenseRef-``: modelkin reports what was declared, it never guesses."""
    from license_expression import ExpressionError

    text = value.strip()
    licensing = _licensing()
    try:
        parsed = licensing.parse(text, validate=False, strict=False, simple=False)
    except (ExpressionError, ValueError, TypeError):
        return f"LicenseRef-{slug(text)}"
    if parsed is None:
        return f"LicenseRef-{slug(text)}"
    unknown = set(licensing.unknown_license_keys(parsed))
    return _render(parsed, unknown)
