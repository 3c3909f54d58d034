"""Nutrition labels and standard exports for registered models.

A :class:`Label` is built from the registry's logged records (:func:`build_label`) or read
from label-v1 JSON (:func:`read_label`); renderers turn it into HTML, SVG, PNG, Markdown
or JSON, and exporters into CycloneDX 1.6 ML-BOM, SPDX 3.0.1 (AI and Dataset profiles) and
Hugging Face model cards. Exports are validated against the official schemas shipped in
this package, offline. :mod:`modelkin.labels.outputs` dispatches on format names
(``render``, ``export``, ``load_label``, ``MEDIA_TYPES``) for the CLI and the server.
"""

from __future__ import annotations

from modelkin.labels.assemble import assemble_label
from modelkin.labels.from_registry import build_label
from modelkin.labels.model import (
    Architecture,
    Compute,
    Dataset,
    Details,
    Disclosure,
    Evaluation,
    Identity,
    InheritedLicence,
    Label,
    LabelError,
    Lineage,
    Parent,
    Provenance,
    Signature,
    TrainingData,
    Use,
    label_from_dict,
    label_to_dict,
    label_to_json,
    read_label,
)

__all__ = [
    "Architecture",
    "Compute",
    "Dataset",
    "Details",
    "Disclosure",
    "Evaluation",
    "Identity",
    "InheritedLicence",
    "Label",
    "LabelError",
    "Lineage",
    "Parent",
    "Provenance",
    "Signature",
    "TrainingData",
    "Use",
    "assemble_label",
    "build_label",
    "label_from_dict",
    "label_to_dict",
    "label_to_json",
    "read_label",
]
