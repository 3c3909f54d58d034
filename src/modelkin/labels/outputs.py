"""Every output format by name: the one table the CLI and the server dispatch on."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.labels.model import Label, read_label


def _lazy(module: str, function: str, as_json: bool = False) -> Callable[[Label], Any]:
    """A renderer imported when first called: one format's dependencies (Pillow for PNG,
    the SPDX bindings, the CycloneDX library) are not paid by every other format."""

    def call(label: Label) -> Any:
        out = getattr(importlib.import_module(f"modelkin.labels.{module}"), function)(label)
        return json.dumps(out, indent=2, ensure_ascii=False) + "\n" if as_json else out

    call.__name__ = call.__qualname__ = function
    return call


LABEL_FORMATS: dict[str, Callable[[Label], str | bytes]] = {
    "html": _lazy("html", "render_html"),
    "png": _lazy("png", "render_png"),
    "svg": _lazy("svg", "render_svg"),
    "json": _lazy("model", "label_to_json"),
    "md": _lazy("markdown", "render_markdown"),
}

EXPORT_FORMATS: dict[str, Callable[[Label], str]] = {
    "cyclonedx": _lazy("export_cyclonedx", "export_cyclonedx", as_json=True),
    "spdx3": _lazy("export_spdx", "export_spdx3", as_json=True),
    "hf-card": _lazy("hf_card", "export_hf_card"),
}

#: Exports of a registered dataset (not of a label).
DATASET_FORMATS = ("croissant",)

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "svg": "image/svg+xml",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "cyclonedx": "application/vnd.cyclonedx+json",
    "spdx3": "application/spdx+json",
    "hf-card": "text/markdown; charset=utf-8",
    "croissant": "application/ld+json",
}


def render(label: Label, fmt: str) -> str | bytes:
    """The label in one of :data:`LABEL_FORMATS` (PNG as bytes, the rest as text)."""
    try:
        fn = LABEL_FORMATS[fmt]
    except KeyError:
        raise ModelkinError("--format", f"unknown label format {fmt!r}; "
                            f"use one of {', '.join(LABEL_FORMATS)}") from None  # fmt: skip
    return fn(label)


def export(label: Label, fmt: str) -> str:
    """The label exported to one of :data:`EXPORT_FORMATS` (validated where a schema exists)."""
    try:
        fn = EXPORT_FORMATS[fmt]
    except KeyError:
        raise ModelkinError("--format", f"unknown export format {fmt!r}; "
                            f"use one of {', '.join(EXPORT_FORMATS)}") from None  # fmt: skip
    return fn(label)


def _open_registry(home: Path | str | None, what: str) -> Any:
    from modelkin.config import Home, default_db_url
    from modelkin.registry import Registry

    where = Home.resolve(home)
    # never create an empty registry just to read one (a PostgreSQL registry has no file)
    if default_db_url() is None and not where.registry_db.is_file():
        raise ModelkinError(where.root, f"no registry here, so no {what}")
    return Registry.open(where.root)


def export_dataset(ref: str, fmt: str, home: Path | str | None = None) -> str:
    """A registered dataset exported to one of :data:`DATASET_FORMATS` (Croissant 1.1)."""
    if fmt not in DATASET_FORMATS:
        raise ModelkinError("--format", f"unknown dataset export format {fmt!r}")
    from modelkin.labels.export_croissant import export_croissant

    with _open_registry(home, f"dataset {ref!r} to export") as registry:
        rec = registry.record(ref, "dataset")
        doc = export_croissant(rec.predicate, rec.id)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def load_label(model: str, home: Path | str | None = None) -> Label:
    """The label of ``model``: a label-v1 JSON file; a model directory or file (found in the
    registry by its weights digest, computed here as registration does); or a registered
    model's name, record id or digest."""
    path = Path(model)
    if path.suffix.lower() == ".json" or (path.is_file() and _starts_with_brace(path)):
        if not path.is_file():
            raise ModelkinError(path, "label file not found")
        return read_label(path)
    from modelkin.errors import NotFoundError
    from modelkin.labels.from_registry import build_label

    if path.exists():
        digest = weights_digest(path)
        with _open_registry(home, f"label for the model at {path}") as registry:
            try:
                return build_label(registry, digest)
            except NotFoundError:
                raise ModelkinError(
                    path,
                    f"no registered model has these weights (weights digest sha256:{digest}); "
                    "a label describes a registered model: register it first (modelkin "
                    "register model PATH --key KEY --name NAME ...), or name a registered model",
                ) from None
    with _open_registry(home, f"model {model!r} to label") as registry:
        return build_label(registry, model)


def _starts_with_brace(path: Path) -> bool:
    """A label JSON saved without the suffix. Model files are never taken for one (a
    safetensors header length can begin with the byte of ``{``)."""
    if path.suffix.lower() in (".safetensors", ".gguf", ".onnx", ".bin", ".pt", ".pth"):
        return False
    try:
        with path.open("rb") as fh:
            return fh.read(1) == b"{"
    except OSError:
        return False


def weights_digest(path: Path) -> str:
    """The manifest digest a registration of the model at ``path`` records (its files'
    sha256 digests, canonically listed): the registry's key for the model's weights."""
    from modelkin.statements.manifest import manifest_digest, scan_directory

    return str(manifest_digest(scan_directory(path)))
