"""Import dataset provenance from an MLCommons Croissant JSON-LD file (with RAI fields).

Croissant 1.0/1.1 (https://docs.mlcommons.org/croissant/docs/croissant-spec.html) is
schema.org ``Dataset`` plus the ``cr:`` vocabulary; the RAI extension adds ``rai:`` fields
(``dataCollection``, ``dataCollectionTimeframe``, ``personalSensitiveInformation``,
``dataBiases``, ``dataLimitations``, ...) and provenance uses PROV-O
``prov:wasDerivedFrom``. ``mlcroissant`` is not a dependency: we read the JSON-LD
ourselves, expanding compact keys through the document's ``@context`` so both
``"rai:dataCollection"`` and a full IRI key are understood.

File digests come from ``distribution`` FileObjects (``sha256``). When the data is at hand
(``data_dir``) the digests are recomputed and every declared digest must match.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.registry.datasets import dataset_manifest, dataset_predicate
from modelkin.statements.manifest import scan_directory
from modelkin.statements.statement import is_sha256_hex

MAX_CROISSANT = 16 * 1024 * 1024
NAMESPACES = {
    "https://schema.org/": "sc",
    "http://schema.org/": "sc",
    "http://mlcommons.org/croissant/": "cr",
    "http://mlcommons.org/croissant/RAI/": "rai",
    "http://www.w3.org/ns/prov#": "prov",
    "http://purl.org/dc/terms/": "dct",
}


def _expand_key(key: str, ctx: dict[str, Any]) -> str:
    """``prefix:local`` with our fixed prefixes, whatever the document's own prefixes are."""
    if key.startswith("@"):
        return key
    iri: str | None = None
    term = ctx.get(key)
    if isinstance(term, str):
        iri = term
    elif isinstance(term, dict) and isinstance(term.get("@id"), str):
        iri = term["@id"]
    else:
        iri = key
    if ":" in iri and not iri.startswith("http"):
        prefix, local = iri.split(":", 1)
        base = ctx.get(prefix)
        iri = base + local if isinstance(base, str) else iri
    for ns, short in sorted(NAMESPACES.items(), key=lambda kv: -len(kv[0])):
        if iri.startswith(ns):
            return f"{short}:{iri[len(ns) :]}"
    if ":" not in iri and isinstance(ctx.get("@vocab"), str):
        return _expand_key(ctx["@vocab"] + iri, {})
    return iri


def _normalise(node: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_normalise(n, ctx) for n in node]
    if isinstance(node, dict):
        return {_expand_key(k, ctx): _normalise(v, ctx) for k, v in node.items()}
    return node


def _as_list(v: Any) -> list[Any]:
    return [] if v is None else v if isinstance(v, list) else [v]


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict):
        v = v.get("@value", v.get("sc:name", v.get("sc:url", v.get("@id"))))
    if isinstance(v, list):
        parts = [p for p in (_text(x) for x in v) if p]
        return "; ".join(parts) if parts else None
    return str(v) if v is not None else None


def _size(v: Any) -> int | None:
    text = _text(v)
    if text and re.fullmatch(r"\d+( ?B)?", text.strip()):
        return int(re.sub(r"\D", "", text))
    return None


_NO_PII = re.compile(r"^\s*(none|no|n/?a|not applicable)\b", re.IGNORECASE)


def read_croissant(path: Path) -> dict[str, Any]:
    """Parse and normalise a Croissant file (bounded read)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CROISSANT:
            raise ModelkinError(path, f"Croissant file larger than {MAX_CROISSANT} bytes")
        raw = path.read_bytes()
        doc = json.loads(raw)
    except OSError as exc:
        raise ModelkinError(path, f"cannot read: {exc}") from exc
    except ValueError as exc:
        raise ModelkinError(path, f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ModelkinError(path, "Croissant document must be a JSON object")
    ctx = doc.get("@context")
    if not isinstance(ctx, dict):
        raise ModelkinError(path, "no @context object: not a Croissant JSON-LD file")
    norm = _normalise(doc, ctx)
    types = [_expand_key(x, ctx) for x in _as_list(doc.get("@type"))]
    if "sc:Dataset" not in types:
        raise ModelkinError(path, "top-level @type is not schema.org Dataset")
    norm["_sha256"] = hashlib.sha256(raw).hexdigest()
    return dict(norm)


def dataset_from_croissant(
    path: Path,
    data_dir: Path | None = None,
    *,
    consent: str = "unknown",
    size_tokens: int | None = None,
) -> dict[str, Any]:
    """A dataset-v1 predicate from a Croissant file (and the data itself, if given)."""
    path = Path(path)
    doc = read_croissant(path)
    name = _text(doc.get("sc:name"))
    if not name:
        raise ModelkinError(path, "Croissant dataset has no name")
    declared: dict[str, dict[str, Any]] = {}
    for obj in _as_list(doc.get("sc:distribution")):
        if not isinstance(obj, dict) or "cr:FileObject" not in _as_list(obj.get("@type")):
            continue
        digest = _text(obj.get("sc:sha256"))
        fname = _text(obj.get("sc:contentUrl")) or _text(obj.get("sc:name"))
        if not fname or not digest:
            continue
        if not is_sha256_hex(digest.lower()):
            raise ModelkinError(path, f"distribution {fname}: sha256 is not 64 hex digits")
        entry: dict[str, Any] = {"name": fname, "sha256": digest.lower()}
        size = _size(obj.get("sc:contentSize"))
        if size is not None:
            entry["size"] = size
        declared[fname] = entry
    if data_dir is not None:
        files = scan_directory(Path(data_dir))
        for f in files:
            want = declared.get(f["name"])
            if want and want["sha256"] != f["sha256"]:
                raise ModelkinError(
                    Path(data_dir) / f["name"],
                    f"sha256 {f['sha256']} does not match the Croissant file's {want['sha256']}",
                )
    else:
        files = list(declared.values())
        if not files:
            raise ModelkinError(
                path, "no distribution FileObject with a sha256; pass the data directory"
            )
    creators = _as_list(doc.get("sc:creator")) + _as_list(doc.get("sc:publisher"))
    orgs = [
        _text(c.get("sc:name"))
        for c in creators
        if isinstance(c, dict) and "sc:Organization" in _as_list(c.get("@type"))
    ]
    organisation = next((o for o in orgs if o), None)
    if organisation is None and creators:
        first = creators[0]
        organisation = _text(first.get("sc:name")) if isinstance(first, dict) else _text(first)
    sources = []
    for src in _as_list(doc.get("prov:wasDerivedFrom")) + _as_list(doc.get("sc:isBasedOn")):
        label = _text(src.get("sc:name")) if isinstance(src, dict) else None
        url = _text(src.get("sc:url") or src.get("@id")) if isinstance(src, dict) else _text(src)
        sources.append({"name": label or url or "unnamed source", "url": url, "license": None})
    own_url = _text(doc.get("sc:url"))
    rai = {k[4:]: v for k, v in doc.items() if k.startswith("rai:")}
    pii = _text(doc.get("rai:personalSensitiveInformation"))
    collection_parts = [
        _text(doc.get("rai:dataCollection")),
        _text(doc.get("rai:dataCollectionType")),
        _text(doc.get("rai:dataCollectionTimeframe")),
    ]
    return dataset_predicate(
        name=name,
        manifest=dataset_manifest(files),
        version=_text(doc.get("sc:version")),
        organisation=organisation,
        description=_text(doc.get("sc:description")),
        sources=sources,
        licenses=[licence_id(x) for x in (_text(v) for v in _as_list(doc.get("sc:license"))) if x],
        collection="; ".join(p for p in collection_parts if p) or None,
        consent=consent,
        personal_data=None if pii is None else not bool(_NO_PII.match(pii)),
        personal_data_description=pii,
        languages=[x for x in (_text(v) for v in _as_list(doc.get("sc:inLanguage"))) if x],
        size_tokens=size_tokens,
        imported_from={"format": "croissant", "sha256": doc["_sha256"], "name": path.name},
        rai=json.loads(json.dumps(rai)) or None,
        url=own_url,
    )


_SPDX_URL = re.compile(
    r"^https?://(?:www\.)?spdx\.org/licenses/([A-Za-z0-9.+-]+?)(?:\.html|\.json)?/?$"
)
_CC_URL = re.compile(
    r"^https?://(?:www\.)?creativecommons\.org/licenses/([a-z-]+)/(\d\.\d)(?:/[a-z]*)?/?$"
)
_CC0_URL = re.compile(r"^https?://(?:www\.)?creativecommons\.org/publicdomain/zero/1\.0/?")


def licence_id(value: str) -> str:
    """A licence URL as its SPDX id where the URL names one (the SPDX licence list page,
    a Creative Commons deed or legal code); anything else unchanged."""
    v = value.strip()
    if m := _SPDX_URL.match(v):
        return m.group(1)
    if m := _CC_URL.match(v):
        return f"CC-{m.group(1).upper()}-{m.group(2)}"
    if _CC0_URL.match(v):
        return "CC0-1.0"
    return v
