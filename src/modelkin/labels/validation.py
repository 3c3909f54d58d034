"""Offline JSON Schema validation of labels and exports, fast enough to run on every call.

Every export is checked against its official schema before it is returned (a document
that does not validate is a modelkin bug and is never handed out). The schemas are the
official files, read from disk, never fetched: the label-v1 and SPDX 3.0.1 JSON schemas
vendored in ``schemas/`` and the CycloneDX 1.6 schema (with the SPDX licence-id, JSF and
cryptography-definition schemas it references) that ``cyclonedx-python-lib`` ships.

The validator is ``jsonschema-rs``: importing the pure-Python ``jsonschema`` with its format
extras costs 2.5-6 s of CPU on this project's machines (issue 14 measured 5.5 s of every
``modelkin export`` call in CycloneDX's validator alone), while ``jsonschema-rs`` imports
and compiles the same schemas in tens of milliseconds. The test suite cross-checks the
exports with the reference validators too (``cyclonedx-python-lib``'s
``JsonStrictValidator`` and the SPDX 3.0.1 SHACL shapes through ``pyshacl``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError

CYCLONEDX_PREFIX = "http://cyclonedx.org/schema/"


class ExportError(ModelkinError):
    """An export failed validation against its official schema (a modelkin bug or bad data)."""


def _read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@cache
def packaged_schema(name: str) -> dict[str, Any]:
    """A schema vendored in ``modelkin/labels/schemas``."""
    text = resources.files("modelkin.labels").joinpath(f"schemas/{name}").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(which: str) -> Any:
    import jsonschema_rs

    if which == "cyclonedx-1.6":
        from cyclonedx.schema import SchemaVersion
        from cyclonedx.schema._res import BOM_JSON, CRYPTOGRAPHY_DEFS, JSF, SPDX_JSON

        local = {
            f"{CYCLONEDX_PREFIX}spdx.SNAPSHOT.schema.json": SPDX_JSON,
            f"{CYCLONEDX_PREFIX}jsf-0.82.SNAPSHOT.schema.json": JSF,
            f"{CYCLONEDX_PREFIX}cryptography-defs.SNAPSHOT.schema.json": CRYPTOGRAPHY_DEFS,
        }

        def retrieve(uri: str) -> Any:
            if uri not in local:  # never fetch: an unknown reference is a packaging bug
                raise ValueError(f"schema {uri} is not shipped with cyclonedx-python-lib")
            return _read_json(local[uri])

        bom = BOM_JSON[SchemaVersion.V1_6]
        if bom is None:  # pragma: no cover - the library ships it
            raise ExportError("cyclonedx-python-lib", "ships no CycloneDX 1.6 JSON schema")
        schema = _read_json(bom)
        return jsonschema_rs.validator_for(schema, retriever=retrieve, validate_formats=True)
    return jsonschema_rs.validator_for(packaged_schema(which), validate_formats=True)


def _deepest(errors: list[Any]) -> str:
    # the deepest error is the most specific (anyOf branches report their parent too)
    err = max(errors, key=lambda e: len(list(e.instance_path)))
    path = "/".join(str(p) for p in err.instance_path) or "(top level)"
    return f"at {path}: {str(err.message)[:300]}"


def first_error(doc: Any, which: str) -> str | None:
    """``"at <json path>: <message>"`` for the first violation of schema ``which``, or None.

    ``which``: ``cyclonedx-1.6`` or a file name in ``schemas/`` (``label-v1.schema.json``,
    ``spdx-3.0.1.schema.json``)."""
    validator = _validator(which)
    errors = list(validator.iter_errors(doc))
    if not errors:
        return None
    graph = doc.get("@graph") if isinstance(doc, dict) else None
    if isinstance(graph, list) and not any(list(e.instance_path) for e in errors):
        # SPDX 3's schema is a top-level oneOf whose failure names no element: name the
        # first graph element that fails on its own (references to others stay plain IRIs)
        for n, element in enumerate(graph):
            alone = list(validator.iter_errors({**doc, "@graph": [element]}))
            if alone:
                kind = element.get("type", "?") if isinstance(element, dict) else "?"
                deep = [e for e in alone if list(e.instance_path)]
                if not deep:
                    return f"at @graph/{n}: this {kind} matches no class of the schema"
                return f"at @graph/{n} ({kind}){_deepest(deep)[len('at @graph/0') :]}"
    return _deepest(errors)


def check(doc: Any, which: str, where: str, what: str) -> None:
    """Raise :class:`ExportError` naming the first violation of schema ``which``."""
    problem = first_error(doc, which)
    if problem is not None:
        raise ExportError(where, f"not valid {what} {problem}")
