"""Dataset manifests (per-file sha256 + RFC 6962 Merkle root) and the dataset predicate.

The manifest lists every file or shard with its sha256. The Merkle root commits to all of
them in a way that lets one shard be proven part of the dataset with an O(log n) audit path
(RFC 6962 section 2.1), which a flat hash of all digests cannot do. Leaves are the UTF-8
lines ``"<sha256 hex>  <name>"`` (names bound in, as for models), sorted by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from modelkin.statements.manifest import manifest_text, scan_directory

DATASET_MANIFEST_METHOD = "modelkin-dataset-manifest/v1"
CONSENT_STATUSES = (
    "obtained",
    "opt_out_honoured",
    "opt_out_not_honoured",
    "not_applicable",
    "unknown",
)


def dataset_leaves(files: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """The Merkle leaves: one manifest line per file, sorted by name (checked like models)."""
    return [line.encode("utf-8") for line in manifest_text(files).decode("utf-8").splitlines()]


def dataset_root(files: Iterable[Mapping[str, Any]]) -> str:
    """Hex RFC 6962 Merkle Tree Hash over :func:`dataset_leaves`."""
    from modelkin.ledger import merkle

    return merkle.root_from_entries(dataset_leaves(files)).hex()


def dataset_manifest(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Manifest object for the dataset predicate."""
    ordered = sorted(files, key=lambda f: str(f["name"]))
    return {
        "method": DATASET_MANIFEST_METHOD,
        "files": ordered,
        "merkle_root": dataset_root(ordered),
    }


def manifest_from_directory(data_dir: Path) -> dict[str, Any]:
    """Hash every file under ``data_dir`` (streamed) into a manifest."""
    return dataset_manifest(scan_directory(Path(data_dir)))


def dataset_predicate(
    *,
    name: str,
    manifest: dict[str, Any],
    version: str | None = None,
    organisation: str | None = None,
    description: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    licenses: list[str] | None = None,
    collection: str | None = None,
    consent: str = "unknown",
    opt_out_url: str | None = None,
    personal_data: bool | None = None,
    personal_data_description: str | None = None,
    languages: list[str] | None = None,
    size_tokens: int | None = None,
    imported_from: dict[str, Any] | None = None,
    rai: dict[str, Any] | None = None,
    url: str | None = None,
) -> dict[str, Any]:
    """Assemble a dataset-v1 predicate (validated by the registry on submit)."""
    extra = {"url": url} if url else {}
    return {
        **extra,
        "name": name,
        "version": version,
        "organisation": organisation,
        "description": description,
        "manifest": manifest,
        "sources": sources or [],
        "licenses": licenses or [],
        "collection": collection,
        "consent": {"status": consent, "opt_out_url": opt_out_url, "notes": None},
        "personal_data": {"present": personal_data, "description": personal_data_description},
        "languages": languages or [],
        "size_tokens": size_tokens,
        "imported_from": imported_from,
        "rai": rai,
    }
