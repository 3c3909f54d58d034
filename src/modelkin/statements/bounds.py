"""Bounds on the shape of untrusted JSON: nesting depth and number of nodes.

Why: Python's JSON parser and every recursive consumer after it (RFC 8785 encoding,
FastAPI's response encoder, templates) fail with ``RecursionError`` a few hundred levels
down. A statement that is accepted and logged but cannot be served breaks every listing
that includes it, for good (the log is append-only). So depth and size are refused
*before* parsing and before anything is logged, and the limits sit far below the depth at
which any consumer fails (about 300 levels for the record endpoint), so that whatever is
accepted can always be served.

The text check (:func:`check_json_text`) runs at C speed on raw bytes (string literals are
blanked first, so brackets inside strings do not count); :func:`check_json_value` walks an
already-built object iteratively (statements built in Python, never parsed).
"""

from __future__ import annotations

import re

from modelkin.errors import StatementError

#: Deepest nesting accepted (the statement object itself is level 1). The deepest legitimate
#: statement (a work's C2PA ingredients inside a predicate) is under 16 levels.
MAX_DEPTH = 64
#: Most keys + values accepted in one document: a 100,000-file manifest (the model schema's
#: limit) is about 700,000.
MAX_NODES = 1_000_000

#: A JSON string literal (the unrolled form: no backtracking blow-up on long strings).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
#: Every byte that is not a bracket, for :meth:`bytes.translate` to delete.
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
#: An innermost container in the bracket-only text.
_LEAF = re.compile(rb"\[\]|\{\}")


class JsonBoundsError(StatementError):
    """A JSON document is nested too deep or has too many nodes."""


def json_text_shape(data: bytes, max_depth: int = MAX_DEPTH) -> tuple[int, int]:
    """``(depth, nodes)`` of JSON text, where ``depth`` stops counting at ``max_depth + 1``.

    ``nodes`` is an upper bound on keys + values (every one but the first follows a
    ``,``, ``:``, ``[`` or ``{``). Depth is found by deleting innermost ``[]``/``{}`` pairs,
    one level per pass, so the cost is ``depth`` passes over the brackets, never a Python
    loop per byte. Malformed bracketing stops the count early; the parser reports it."""
    bare = _STRING.sub(b'""', data)
    nodes = 1 + sum(bare.count(c) for c in (b",", b":", b"[", b"{"))
    brackets = bare.translate(None, _NOT_BRACKET)
    depth = 0
    while brackets and depth <= max_depth:
        shorter = _LEAF.sub(b"", brackets)
        if len(shorter) == len(brackets):  # unbalanced: not JSON; the parser will say so
            break
        brackets, depth = shorter, depth + 1
    return depth, nodes


def check_json_text(
    data: bytes, where: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> None:
    """Refuse JSON text nested deeper than ``max_depth`` or with more than ``max_nodes``
    nodes, before it is parsed (raises :class:`JsonBoundsError`)."""
    depth, nodes = json_text_shape(data, max_depth)
    if nodes > max_nodes:
        raise JsonBoundsError(where, f"JSON has more than {max_nodes} nodes")
    if depth > max_depth:
        raise JsonBoundsError(where, f"JSON is nested more than {max_depth} levels deep")


def check_json_value(
    value: object, where: str, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES
) -> None:
    """The same bounds on a built object (iterative: a deep object cannot overflow it)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    nodes = 0
    while stack:
        v, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise JsonBoundsError(where, f"JSON has more than {max_nodes} nodes")
        if isinstance(v, dict | list | tuple):
            if depth > max_depth:
                raise JsonBoundsError(where, f"JSON is nested more than {max_depth} levels deep")
            if isinstance(v, dict):
                nodes += len(v)  # the keys
                stack.extend((x, depth + 1) for x in v.values())
            else:
                stack.extend((x, depth + 1) for x in v)
