"""Import dataset provenance from a Hugging Face dataset card (README.md YAML front matter).

The card metadata (https://huggingface.co/docs/hub/datasets-cards) gives ``pretty_name``,
``license``, ``language``, ``source_datasets``, ``language_creators``,
``annotations_creators`` and ``size_categories``; the card template's "Personal and
Sensitive Information" section says whether personal data is present. Cards carry no file
digests, so the data directory is required to build the manifest.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from modelkin.errors import ModelkinError
from modelkin.registry.datasets import dataset_predicate, manifest_from_directory

MAX_CARD = 1024 * 1024
_SECTION = re.compile(
    r"^#+\s*Personal and Sensitive Information\s*$\n(.*?)(?=^#|\Z)", re.MULTILINE | re.DOTALL
)
_NO_PII = re.compile(r"^\s*(none|no|n/?a|the dataset (does not|doesn't) contain)", re.IGNORECASE)


def read_card(path: Path) -> tuple[dict[str, Any], str, str]:
    """(front matter, body, sha256 of the file)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CARD:
            raise ModelkinError(path, f"dataset card larger than {MAX_CARD} bytes")
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise ModelkinError(path, f"cannot read: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ModelkinError(path, "dataset card is not UTF-8") from exc
    m = re.match(r"^---\s*\n(.*?)\n---\s*\n?(.*)$", text, re.DOTALL)
    if not m:
        raise ModelkinError(path, "no YAML front matter (--- ... ---) at the top of the card")
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        raise ModelkinError(path, f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ModelkinError(path, "front matter must be a YAML mapping")
    return meta, m.group(2), hashlib.sha256(raw).hexdigest()


def _strs(v: Any) -> list[str]:
    items = v if isinstance(v, list) else [] if v is None else [v]
    return [str(x) for x in items if x is not None]


def dataset_from_hf_card(
    path: Path,
    data_dir: Path,
    *,
    consent: str = "unknown",
    size_tokens: int | None = None,
    organisation: str | None = None,
) -> dict[str, Any]:
    """A dataset-v1 predicate from a dataset card plus the data directory it describes."""
    path = Path(path)
    meta, body, digest = read_card(path)
    name = str(meta.get("pretty_name") or Path(data_dir).name)
    sources = [
        {"name": s, "url": None, "license": None}
        for s in _strs(meta.get("source_datasets"))
        if s != "original"
    ]
    collection = "; ".join(
        f"{key}: {', '.join(_strs(meta.get(key)))}"
        for key in ("language_creators", "annotations_creators", "multilinguality")
        if meta.get(key)
    )
    if "original" in _strs(meta.get("source_datasets")):
        collection = "; ".join(x for x in (collection, "original data") if x)
    section = _SECTION.search(body)
    pii_text = section.group(1).strip() if section else None
    pii_text = pii_text or None
    if pii_text and pii_text.startswith("[More Information Needed]"):
        pii_text = None
    return dataset_predicate(
        name=name,
        manifest=manifest_from_directory(Path(data_dir)),
        organisation=organisation,
        description=str(meta["description"]) if meta.get("description") else None,
        sources=sources,
        licenses=_strs(meta.get("license")),
        collection=collection or None,
        consent=consent,
        personal_data=None if pii_text is None else not bool(_NO_PII.match(pii_text)),
        personal_data_description=pii_text,
        languages=_strs(meta.get("language")),
        size_tokens=size_tokens,
        imported_from={"format": "hf-dataset-card", "sha256": digest, "name": path.name},
    )
