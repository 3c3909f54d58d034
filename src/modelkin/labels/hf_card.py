"""Hugging Face model cards: export a label as README.md, import a card's metadata.

Uses ``huggingface_hub.ModelCard`` / ``ModelCardData`` offline (``validate()`` is never
called: it contacts the Hub). Metadata fields (Hub model card specification):
``license`` (an id from the Hub's list, else ``other`` with ``license_name``),
``base_model``, ``base_model_relation`` (``finetune``, ``adapter``, ``merge``,
``quantized``; passed through ``**kwargs`` because ``ModelCardData`` has no parameter for
it) and ``datasets``. The Hub's model tree is self-reported; our export lists only parents
that forensics did not contradict, and the card body is the full label in Markdown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import ModelCard, ModelCardData

from modelkin.errors import ModelkinError
from modelkin.labels.assemble import assemble_label
from modelkin.labels.licences import ids_for, lookup
from modelkin.labels.markdown import render_markdown
from modelkin.labels.model import Dataset, Identity, Label, Parent, Use

MAX_CARD_BYTES = 1024 * 1024

# modelkin derivation relations (derivation-v1) -> Hub base_model_relation, and back.
TO_HF_RELATION = {
    "finetune": "finetune",
    "continued_pretraining": "finetune",
    "adapter": "adapter",
    "merge": "merge",
    "quantized": "quantized",
}
FROM_HF_RELATION = {"finetune": "finetune", "adapter": "adapter", "merge": "merge",
                    "quantized": "quantized"}  # fmt: skip


class CardError(ModelkinError):
    """A model card cannot be read or its metadata is malformed."""


@cache
def hub_licences() -> frozenset[str]:
    """Licence ids the Hub accepts in ``license``."""
    raw = json.loads(
        resources.files("modelkin.labels").joinpath("data/hf-licences.json").read_text()
    )
    return frozenset(raw["licences"])


def hub_licence(licence: str) -> tuple[str, str | None]:
    """(``license``, ``license_name``) for a licence: a Hub id when one exists, else other."""
    if licence.lower() in hub_licences():
        return licence.lower(), None
    for key in ids_for(licence):
        if key in hub_licences():
            return key, None
    return "other", licence


@dataclass(frozen=True)
class CardFields:
    """The registration fields a model card's metadata carries (what both sides know)."""

    licence: str | None = None
    base_models: tuple[str, ...] = ()
    relation: str | None = None
    datasets: tuple[str, ...] = ()
    language: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_registration(self) -> dict[str, Any]:
        """Fields for a model registration and its derivation claim (JSON-ready)."""
        return {
            "license": self.licence,
            "parents": [{"name": n} for n in self.base_models],
            "relation": self.relation,
            "datasets": [{"name": n} for n in self.datasets],
            "language": list(self.language),
        }


def _strs(value: Any, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise CardError(where, f"card metadata {what!r} must be a string or a list of strings")


def fields_from_card_text(text: str, where: str = "model card") -> CardFields:
    """Parse a card's YAML metadata into :class:`CardFields` (licence ids normalised)."""
    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as exc:
        raise CardError(where, f"cannot parse model card metadata: {exc}") from None
    data = card.data.to_dict()
    lic = data.get("license")
    if lic is not None and not isinstance(lic, str):
        raise CardError(where, "card metadata 'license' must be a string")
    if lic == "other":
        lic = data.get("license_name") or "other"
    elif lic is not None:
        facts = lookup(lic)
        lic = facts.spdx if facts else lic
    relation = data.get("base_model_relation")
    if relation is not None and relation not in FROM_HF_RELATION:
        raise CardError(
            where,
            f"base_model_relation {relation!r} is not one of {sorted(FROM_HF_RELATION)}",
        )
    known = {"license", "license_name", "license_link", "base_model", "base_model_relation",
             "datasets", "language"}  # fmt: skip
    return CardFields(
        licence=lic,
        base_models=_strs(data.get("base_model"), "base_model", where),
        relation=FROM_HF_RELATION.get(relation) if relation else None,
        datasets=_strs(data.get("datasets"), "datasets", where),
        language=_strs(data.get("language"), "language", where),
        extra={k: v for k, v in data.items() if k not in known},
    )


def read_card_fields(path: Path) -> CardFields:
    """Read a README.md model card from disk (bounded size, UTF-8)."""
    try:
        size = path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise CardError(path, f"model card is {size} bytes, more than {MAX_CARD_BYTES}")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CardError(path, f"cannot read model card: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CardError(path, "model card is not UTF-8 text") from None
    return fields_from_card_text(text, str(path))


def label_from_card_fields(fields: CardFields, name: str) -> Label:
    """A label holding only what a card claims (nothing verified, nothing logged)."""
    relation = fields.relation or "finetune"
    return assemble_label(
        Identity(name=name, licence=fields.licence),
        parents=[Parent(name=p, relation=relation) for p in fields.base_models],
        datasets=[Dataset(name=d) for d in fields.datasets],
        use=Use(),
    )


def card_data(label: Label) -> ModelCardData:
    """Hub metadata for a label: licence, non-contradicted parents, relation, datasets."""
    kwargs: dict[str, Any] = {}
    lic = label.identity.licence
    if lic:
        hub_id, hub_name = hub_licence(lic)
        kwargs["license"] = hub_id
        if hub_name:
            kwargs["license_name"] = hub_name
    parents = [p for p in label.lineage.parents if p.status != "contradicted"]
    if parents:
        kwargs["base_model"] = [p.name for p in parents]
        relations = {TO_HF_RELATION.get(p.relation) for p in parents}
        if "merge" in relations or len(parents) > 1:
            kwargs["base_model_relation"] = "merge"
        elif len(relations) == 1 and None not in relations:
            kwargs["base_model_relation"] = relations.pop()
    if label.training_data.datasets:
        kwargs["datasets"] = [d.name for d in label.training_data.datasets]
    kwargs["tags"] = ["modelkin"]
    return ModelCardData(**kwargs)


def export_hf_card(label: Label) -> str:
    """README.md text: YAML metadata plus the label as Markdown."""
    data = card_data(label)
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n{render_markdown(label)}")
    return str(card)
