"""MLCommons Croissant 1.1 export of a registered dataset (with the RAI 1.0 fields it has).

Croissant (https://docs.mlcommons.org/croissant/docs/croissant-spec-1.1.html) is schema.org
``Dataset`` JSON-LD plus the ``cr:`` vocabulary; the export writes what the dataset record
holds and nothing else: ``name``, ``description``, ``version``, ``creator`` (the
organisation), ``license`` as the SPDX licence URL where the licence is an SPDX id, the
dataset's own ``url`` (else its first source), ``inLanguage``, ``prov:wasDerivedFrom`` for
each declared source, ``distribution``: one ``cr:FileObject`` per manifest file with its
``sha256`` and ``contentSize`` (``contentUrl`` is the file's path inside the dataset), and
the ``rai:`` fields kept from an imported Croissant file. The tests validate every export
with ``mlcroissant``. A round trip through :mod:`modelkin.registry.croissant` gives back
the same manifest (names and digests).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from modelkin.labels.licences import lookup

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "prov": "http://www.w3.org/ns/prov#",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "samplingRate": "cr:samplingRate",
    "equivalentProperty": "cr:equivalentProperty",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}
CONFORMS_TO = "http://mlcommons.org/croissant/1.1"


def _licence_url(licence: str) -> str:
    """An SPDX id as its SPDX licence page (Croissant wants a URL); anything else as given."""
    if "://" in licence:
        return licence
    facts = lookup(licence)
    spdx_id = facts.spdx if facts is not None and not facts.spdx[0].islower() else licence
    if spdx_id.replace("-", "").replace(".", "").isalnum() and not spdx_id[0].islower():
        return f"https://spdx.org/licenses/{spdx_id}.html"
    return licence


def _encoding(name: str) -> str:
    kind, _ = mimetypes.guess_type(name)
    if kind:
        return kind
    if name.endswith((".parquet",)):
        return "application/x-parquet"
    if name.endswith((".jsonl", ".ndjson")):
        return "application/jsonlines"
    return "application/octet-stream"


def export_croissant(pred: dict[str, Any], record_id: str | None = None) -> dict[str, Any]:
    """Croissant 1.1 JSON-LD for a dataset-v1 predicate."""
    sources = [s for s in pred.get("sources") or [] if isinstance(s, dict)]
    url = pred.get("url") or next((s["url"] for s in sources if s.get("url")), None)
    doc: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": pred["name"],
        "description": pred.get("description") or f"{pred['name']} (exported by modelkin)",
    }
    if url:
        doc["url"] = url
    if pred.get("version"):
        doc["version"] = pred["version"]
    if pred.get("organisation"):
        doc["creator"] = {"@type": "sc:Organization", "name": pred["organisation"]}
    licences = [_licence_url(str(x)) for x in pred.get("licenses") or []]
    if licences:
        doc["license"] = licences[0] if len(licences) == 1 else licences
    if pred.get("languages"):
        doc["inLanguage"] = list(pred["languages"])
    derived = [
        {
            "@type": "sc:Dataset",
            "name": s.get("name"),
            **({"url": s["url"]} if s.get("url") else {}),
        }
        for s in sources
        if s.get("url") != url or len(sources) > 1
    ]
    if derived:
        doc["prov:wasDerivedFrom"] = derived
    doc["distribution"] = [
        {
            "@type": "cr:FileObject",
            "@id": f["name"],
            "name": f["name"],
            "contentUrl": f["name"],
            "encodingFormat": _encoding(f["name"]),
            "sha256": f["sha256"],
            **({"contentSize": f"{f['size']} B"} if isinstance(f.get("size"), int) else {}),
        }
        for f in pred["manifest"]["files"]
    ]
    for key, value in (pred.get("rai") or {}).items():
        if isinstance(key, str) and key.isidentifier():
            doc[f"rai:{key}"] = value
    if record_id:
        doc["identifier"] = f"modelkin:{record_id}"
    return doc
