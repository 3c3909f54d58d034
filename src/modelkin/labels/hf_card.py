"""Hugging Face model cards: export a label as README.md, import a card's metadata.

Import parses with ``huggingface_hub.ModelCard`` (offline; ``validate()`` is never called:
it contacts the Hub). Metadata fields (Hub model card specification): ``license`` (an id
from the Hub's list, else ``other`` with ``license_name`` and ``license_link``),
``base_model`` and ``base_model_relation`` (``finetune``, ``adapter``, ``merge``,
``quantized``), ``datasets``, ``language``, ``pipeline_tag``, ``library_name`` and
``model-index`` (evaluation results).

Export writes the same metadata from the registry (Hub ``owner/name`` ids where the
registered model or dataset declares one; only parents forensics did not contradict;
``base_model_relation`` only when every parent shares one relation, so two separate
fine-tune claims never read as a merge) as YAML, and a body with the sections of the Hub's
model card template (Model Details, Uses, Bias/Risks/Limitations, Training Details,
Evaluation, Environmental Impact, Contact), modelkin's lineage findings in their own section,
and the full label. The YAML is written with PyYAML, not ``huggingface_hub`` (whose import
costs about a second of CPU); the tests parse every export with ``huggingface_hub``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from modelkin.errors import ModelkinError
from modelkin.labels.assemble import assemble_label
from modelkin.labels.format import NOT_DECLARED, number, plain_verdict
from modelkin.labels.licences import ids_for, lookup
from modelkin.labels.markdown import render_markdown
from modelkin.labels.model import Dataset, Details, Evaluation, Identity, Label, Parent, Use
from modelkin.labels.spdx_expression import slug

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
    task: str | None = None
    library: str | None = None
    licence_link: str | None = None
    evaluation: tuple[Evaluation, ...] = ()

    def to_registration(self) -> dict[str, Any]:
        """Fields for a model registration and its derivation claim (JSON-ready)."""
        return {
            "license": self.licence,
            "license_link": self.licence_link,
            "parents": [{"name": n} for n in self.base_models],
            "relation": self.relation,
            "datasets": [{"name": n} for n in self.datasets],
            "language": list(self.language),
            "task": self.task,
            "library": self.library,
            "evaluation": [_eval_dict(e) for e in self.evaluation],
        }

    def declarations(self) -> dict[str, Any]:
        """The optional model-v1 declarations this card makes (for ``register model``)."""
        link = self.licence_link if self.licence_link and "://" in self.licence_link else None
        return {
            "task": self.task,
            "library": self.library,
            "languages": list(self.language) or None,
            "license_url": link,
            "evaluation": [_eval_dict(e) for e in self.evaluation] or None,
        }


def _eval_dict(e: Evaluation) -> dict[str, Any]:
    return {k: v for k, v in vars(e).items() if v is not None}


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
    from huggingface_hub import ModelCard

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
             "datasets", "language", "pipeline_tag", "library_name", "model-index",
             "model_name", "eval_results"}  # fmt: skip
    evaluation = tuple(
        Evaluation(
            metric=str(r.metric_name or r.metric_type),
            value=r.metric_value
            if isinstance(r.metric_value, int | float | str)
            else str(r.metric_value),
            task=r.task_type,
            dataset=r.dataset_name or r.dataset_type,
            split=r.dataset_split,
            source=r.source_url,
        )
        for r in (getattr(card.data, "eval_results", None) or [])
    )
    link = data.get("license_link")
    return CardFields(
        licence=lic,
        base_models=_strs(data.get("base_model"), "base_model", where),
        relation=FROM_HF_RELATION.get(relation) if relation else None,
        datasets=_strs(data.get("datasets"), "datasets", where),
        language=_strs(data.get("language"), "language", where),
        extra={k: v for k, v in data.items() if k not in known},
        task=data.get("pipeline_tag") if isinstance(data.get("pipeline_tag"), str) else None,
        library=data.get("library_name") if isinstance(data.get("library_name"), str) else None,
        licence_link=link if isinstance(link, str) else None,
        evaluation=evaluation,
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
        Identity(
            name=name,
            licence=fields.licence,
            details=Details(
                task=fields.task,
                library=fields.library,
                languages=fields.language,
                licence_url=fields.licence_link,
            ),
        ),
        parents=[Parent(name=p, relation=relation) for p in fields.base_models],
        datasets=[Dataset(name=d) for d in fields.datasets],
        use=Use(evaluation=fields.evaluation),
    )


def _hub_ref(name: str, hub_id: str | None) -> str:
    return hub_id or name


def card_metadata(label: Label) -> dict[str, Any]:
    """Hub metadata (a YAML mapping) for a label; keys in the Hub template's order."""
    i, d = label.identity, label.identity.details
    meta: dict[str, Any] = {}
    if i.licence:
        hub_id, hub_name = hub_licence(i.licence)
        meta["license"] = hub_id
        if hub_name:
            link = d.licence_url or (i.licence if "://" in i.licence else None)
            meta["license_name"] = slug(
                hub_name.rsplit("/", 1)[-1] if "://" in hub_name else hub_name
            ).lower()
            if link:
                meta["license_link"] = link
    if d.languages:
        meta["language"] = list(d.languages)
    if d.library:
        meta["library_name"] = d.library
    if d.task:
        meta["pipeline_tag"] = d.task
    parents = [
        p
        for p in label.lineage.parents
        if p.status != "contradicted" and p.relation != "undeclared"
    ]
    if parents:
        meta["base_model"] = [_hub_ref(p.name, p.hub_id) for p in parents]
        relations = {TO_HF_RELATION.get(p.relation) for p in parents}
        # one relation for the whole card: written only when every parent shares it (two
        # separate fine-tune claims are not a merge; a merge claim is)
        if len(relations) == 1 and None not in relations:
            meta["base_model_relation"] = relations.pop()
    if label.training_data.datasets:
        meta["datasets"] = [_hub_ref(x.name, x.hub_id) for x in label.training_data.datasets]
    meta["tags"] = ["modelkin"]
    index = _model_index(label)
    if index:
        meta["model-index"] = index
    return meta


def _model_index(label: Label) -> list[dict[str, Any]]:
    """``model-index`` for the results that name a task and a dataset (the Hub needs both)."""
    results = []
    for e in label.use.evaluation:
        if not (e.task and e.dataset) or isinstance(e.value, str):
            continue
        dataset: dict[str, Any] = {"name": e.dataset, "type": e.dataset}
        if e.split:
            dataset["split"] = e.split
        metric: dict[str, Any] = {"type": e.metric, "value": e.value}
        entry: dict[str, Any] = {"task": {"type": e.task}, "dataset": dataset, "metrics": [metric]}
        if e.source:
            entry["source"] = {"url": e.source, "name": "declared by the registrant"}
        results.append(entry)
    if not results:
        return []
    return [{"name": label.identity.name, "results": results}]


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"## {title}", "", *(lines or [f"_{NOT_DECLARED} in the registry._"]), ""]


def _bullets(items: tuple[str, ...] | list[str]) -> list[str]:
    return [f"- {x}" for x in items]


def card_body(label: Label) -> str:
    """The card's Markdown: the Hub template's sections filled from the registry."""
    i, d, lin, td, c, u = (label.identity, label.identity.details, label.lineage,
                           label.training_data, label.compute, label.use)  # fmt: skip
    out = [f"# {i.name}", ""]
    if d.description:
        out += [d.description, ""]
    details = [
        f"- **Developed by:** {i.organisation or NOT_DECLARED}",
        f"- **Model type:** {_arch_text(label)}",
        f"- **Language(s):** {', '.join(d.languages) or NOT_DECLARED}",
        f"- **License:** {i.licence or NOT_DECLARED}",
    ]
    if lin.parents:
        details.append("- **Finetuned from model:** " + ", ".join(
            f"{_hub_ref(p.name, p.hub_id)} ({p.relation}, {plain_verdict(p)})" for p in lin.parents))  # fmt: skip
    if i.weight_digest:
        details.append(f"- **Weights (modelkin manifest digest):** `{i.weight_digest}`")
    if i.ledger_index is not None:
        details.append(
            f"- **modelkin ledger entry:** #{i.ledger_index} (inclusion proof {i.inclusion_proof})"
        )
    if i.signature:
        details.append(
            f"- **Signed (OpenSSF model signing, {i.signature.method}):** {i.signature.signer}"
        )
    out += _section("Model Details", details)
    uses = []
    if u.intended:
        uses += ["### Direct Use", "", *_bullets(u.intended), ""]
    if u.out_of_scope:
        uses += ["### Out-of-Scope Use", "", *_bullets(u.out_of_scope), ""]
    out += _section("Uses", uses)
    out += _section("Bias, Risks, and Limitations", _bullets(u.limitations)
                    + [f"- Training data {x.name}: known biases: {x.biases}" for x in td.datasets if x.biases])  # fmt: skip
    training = []
    if td.datasets:
        training += ["### Training Data", ""]
        training += [f"- {_hub_ref(x.name, x.hub_id)}" + (f" (licence {x.licence})" if x.licence else "")
                     for x in td.datasets]  # fmt: skip
        training.append("")
    if d.hyperparameters:
        training += ["### Training Hyperparameters", ""]
        training += [f"- {k}: {v}" for k, v in d.hyperparameters]
        training.append("")
    out += _section("Training Details", training)
    evals = []
    if u.evaluation:
        evals = ["| Task | Dataset | Metric | Value |", "|:--|:--|:--|--:|"]
        evals += [
            f"| {e.task or ''} | {e.dataset or ''} | {e.metric} | {e.value} |" for e in u.evaluation
        ]
    out += _section("Evaluation", evals)
    env = [
        f"- **Hardware Type:** {c.accelerator or NOT_DECLARED}",
        f"- **Hours used:** {number(c.accelerator_hours, 'accelerator-hours')}",
        f"- **Energy:** {number(c.energy_kwh, 'kWh')}",
        f"- **Training compute:** {number(c.flops, 'FLOPs')}",
    ]
    out += _section("Environmental Impact", env)
    out += _section("Lineage verified by modelkin", _lineage_lines(label))
    out += _section("Model Card Contact", [d.contact] if d.contact else [])
    out += ["## modelkin nutrition label", "", render_markdown(label)]
    return "\n".join(out)


def _arch_text(label: Label) -> str:
    a, d = label.identity.architecture, label.identity.details
    parts = []
    if a is not None:
        parts.append(" ".join(x for x in (a.name, f"({a.family})" if a.family else None) if x))
        if a.parameters:
            parts.append(f"{a.parameters:,} parameters")
    if d.task:
        parts.append(f"task {d.task}")
    return ", ".join(parts) or NOT_DECLARED


def _lineage_lines(label: Label) -> list[str]:
    lin = label.lineage
    lines = [
        "The Hub's model tree is what a card declares. Below is what modelkin's forensic "
        "comparison of the weights found for each declared parent.",
        "",
    ]
    if not lin.parents:
        lines.append(
            "- No parent is declared" + (" (trained from scratch)." if lin.from_scratch else ".")
        )
    for p in lin.parents:
        lines.append(f"- **{_hub_ref(p.name, p.hub_id)}** ({p.relation}): {plain_verdict(p)}")
        lines += [f"  - {v}" for v in p.verifications]
    lines += [f"- ⚠ {x}" for x in lin.conflicts]
    return lines


def export_hf_card(label: Label) -> str:
    """README.md text: YAML metadata and the template's sections from the registry."""
    meta = yaml.safe_dump(card_metadata(label), sort_keys=False, allow_unicode=True)
    return f"---\n{meta}---\n\n{card_body(label)}"
