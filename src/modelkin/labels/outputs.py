"""Every output format by name: the one table the CLI and the server dispatch on."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from modelkin.errors import ModelkinError
from modelkin.labels.export_cyclonedx import export_cyclonedx
from modelkin.labels.export_spdx import export_spdx3
from modelkin.labels.hf_card import export_hf_card
from modelkin.labels.html import render_html
from modelkin.labels.markdown import render_markdown
from modelkin.labels.model import Label, label_to_json, read_label
from modelkin.labels.png import render_png
from modelkin.labels.svg import render_svg

LABEL_FORMATS: dict[str, Callable[[Label], str | bytes]] = {
    "html": render_html,
    "png": render_png,
    "svg": render_svg,
    "json": label_to_json,
    "md": render_markdown,
}

EXPORT_FORMATS: dict[str, Callable[[Label], str]] = {
    "cyclonedx": lambda label: json.dumps(export_cyclonedx(label), indent=2) + "\n",
    "spdx3": lambda label: json.dumps(export_spdx3(label), indent=2) + "\n",
    "hf-card": export_hf_card,
}

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "png": "image/png",
    "svg": "image/svg+xml",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "cyclonedx": "application/vnd.cyclonedx+json",
    "spdx3": "application/spdx+json",
    "hf-card": "text/markdown; charset=utf-8",
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


def load_label(model: str, home: Path | str | None = None) -> Label:
    """A label-v1 JSON file if ``model`` names one, else the registered model's label."""
    path = Path(model)
    if path.suffix.lower() == ".json" or path.is_file():
        if not path.is_file():
            raise ModelkinError(path, "label file not found")
        return read_label(path)
    from modelkin.config import Home, default_db_url
    from modelkin.labels.from_registry import build_label
    from modelkin.registry import Registry

    where = Home.resolve(home)
    # never create an empty registry just to read one (a PostgreSQL registry has no file)
    if default_db_url() is None and not where.registry_db.is_file():
        raise ModelkinError(where.root, f"no registry here, so no model {model!r} to label")
    with Registry.open(where.root) as registry:
        return build_label(registry, model)
