"""``GET /docs``: the API reference as a plain server-rendered page over the OpenAPI document.

FastAPI's default ``/docs`` is Swagger UI loaded from a CDN: blank offline, and an inline
script that the pages' Content-Security-Policy forbids. This page needs neither: it is built
from ``app.openapi()`` (the same document served at ``/openapi.json``) by a Jinja template
in this package, with no JavaScript, so it works offline, under the CSP, on a phone and
with a screen reader. What it leaves out is Swagger's "try it out" button; every operation
shows a ``curl`` line instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")


def describe(schema: dict[str, Any] | None) -> str:
    """A short human reading of a JSON Schema (``string``, ``array of Model``, ...)."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(describe(s) for s in schema[key])
    kind = schema.get("type")
    if kind == "array":
        return f"array of {describe(schema.get('items'))}"
    text = str(kind or "object")
    if schema.get("format") == "binary":
        text = "file"
    extras = []
    if "enum" in schema:
        extras.append("one of " + ", ".join(str(v) for v in schema["enum"]))
    if "pattern" in schema:
        extras.append(f"pattern {schema['pattern']}")
    for lo, hi, unit in (("minimum", "maximum", ""), ("minLength", "maxLength", " chars")):
        if lo in schema or hi in schema:
            extras.append(f"{schema.get(lo, '')}..{schema.get(hi, '')}{unit}")
    return text + (f" ({'; '.join(extras)})" if extras else "")


def operations(spec: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Operations grouped by their first tag, in document order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = (op.get("requestBody") or {}).get("content", {})
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": op.get("operationId", f"{method}-{path}"),
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "in": p.get("in"),
                            "required": bool(p.get("required")),
                            "type": describe(p.get("schema")),
                            "description": p.get("description", ""),
                        }
                        for p in op.get("parameters", [])
                    ],
                    "body": [(ctype, describe(c.get("schema"))) for ctype, c in body.items()],
                    "responses": [
                        (code, r.get("description", ""), sorted(r.get("content", {})))
                        for code, r in op.get("responses", {}).items()
                    ],
                }
            )
    return list(groups.items())


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    from modelkin.server.ui import page

    spec = request.app.openapi()
    schemas = spec.get("components", {}).get("schemas", {})
    models = [
        (
            name,
            [
                (prop, describe(sub), prop in s.get("required", []))
                for prop, sub in s.get("properties", {}).items()
            ],
        )
        for name, s in sorted(schemas.items())
    ]
    return page(
        request,
        "docs.html",
        info=spec.get("info", {}),
        groups=operations(spec),
        models=models,
        base=f"{request.url.scheme}://{request.headers.get('host', 'localhost')}",
    )
