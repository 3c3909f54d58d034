"""CycloneDX 1.6 ML-BOM export, validated against the official 1.6 JSON schema.

Built with ``cyclonedx-python-lib`` (BOM, components of type ``machine-learning-model`` and
``data``, licences, hashes, ``pedigree.ancestors`` for lineage). The library does not model
``modelCard`` (CycloneDX 1.6 s. "Model Card") nor a data component's ``data`` array, so those
are added to the serialised JSON here, and the result is checked with the library's own
``JsonStrictValidator`` against the ``bom-1.6.schema.json`` it ships: a BOM that does not
validate is never returned.

Mapping (CycloneDX 1.6 JSON field names): identity -> ``metadata.component`` (name, version,
supplier, authors, description, purl ``pkg:huggingface/...`` when a Hub id is declared,
externalReferences, hashes SHA-256, licenses); parents forensics did not contradict ->
``pedigree.ancestors`` (verdict as properties); contradicted parents ->
``modelkin:lineage:contradicted_parent`` properties, never ancestors; task and architecture
-> ``modelCard.modelParameters`` (``task``, ``architectureFamily``, ``modelArchitecture``,
``inputs``/``outputs`` for known Hub tasks, datasets by reference to ``data`` components);
evaluation -> ``quantitativeAnalysis.performanceMetrics``; use, personal data and dataset
biases -> ``modelCard.considerations``; compute and provenance -> ``properties`` in the
``modelkin:`` namespace. Nothing the registry does not record is filled in.
"""

from __future__ import annotations

import json
import re
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.output.json import JsonV1Dot6

import modelkin
from modelkin.labels.format import plain_verdict
from modelkin.labels.model import Dataset, Label, Parent, Provenance
from modelkin.labels.validation import ExportError as ExportError  # re-exported
from modelkin.labels.validation import check

try:  # cyclonedx-python-lib >= 11 moved the factory; older versions keep the old path
    from cyclonedx.contrib.license.factories import LicenseFactory
except ImportError:  # pragma: no cover
    from cyclonedx.factory.license import LicenseFactory


def _prov_props(prefix: str, p: Provenance) -> list[Property]:
    props = [Property(name=f"{prefix}:provenance", value=p.status)]
    if p.ledger_index is not None:
        props.append(Property(name=f"{prefix}:ledger_index", value=str(p.ledger_index)))
    return props


def _licences(value: str | None) -> list[Any]:
    return [LicenseFactory().make_from_string(value)] if value else []


def _parent_component(p: Parent, i: int) -> Component:
    props = [
        Property(name="modelkin:lineage:relation", value=p.relation),
        Property(name="modelkin:lineage:forensic_status", value=p.status),
        *_prov_props("modelkin:lineage", p.provenance),
    ]
    if p.p_value is not None:
        props.append(Property(name="modelkin:lineage:p_value", value=f"{p.p_value:.3g}"))
    if p.detail:
        props.append(Property(name="modelkin:lineage:forensic_detail", value=p.detail))
    props += [Property(name="modelkin:lineage:verification", value=v) for v in p.verifications]
    return Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=p.name,
        bom_ref=f"parent-{i}",
        licenses=_licences(p.licence),
        properties=props,
    )


def _dataset_component(ds: Dataset, i: int) -> Component:
    props = _prov_props("modelkin:dataset", ds.provenance)
    if ds.share_of_tokens is not None:
        props.append(
            Property(name="modelkin:dataset:share_of_tokens", value=str(ds.share_of_tokens))
        )
    if ds.tokens is not None:
        props.append(Property(name="modelkin:dataset:tokens", value=str(ds.tokens)))
    return Component(
        type=ComponentType.DATA,
        name=ds.name,
        bom_ref=f"dataset-{i}",
        licenses=_licences(ds.licence),
        properties=props,
    )


def _component_data(ds: Dataset, i: int) -> dict[str, Any]:
    """CycloneDX 1.6 ``componentData`` for one dataset (added to the JSON by hand)."""
    entry: dict[str, Any] = {"bom-ref": f"dataset-{i}-data", "type": "dataset", "name": ds.name}
    contents_props = []
    if ds.consent:
        contents_props.append({"name": "modelkin:dataset:consent", "value": ds.consent})
    if ds.opt_out:
        contents_props.append({"name": "modelkin:dataset:opt_out", "value": ds.opt_out})
    contents: dict[str, Any] = {}
    if ds.source:
        contents["url"] = ds.source
    if contents_props:
        contents["properties"] = contents_props
    if contents:
        entry["contents"] = contents
    if ds.personal_data:
        entry["sensitiveData"] = ["personal data"]
    if ds.personal_data is not None:
        entry["description"] = "contains personal data" if ds.personal_data else "no personal data"
    return entry


#: Input and output modalities of Hugging Face pipeline tags (the Hub's task definitions);
#: a task not listed here gets no ``inputs``/``outputs`` rather than a guess.
TASK_IO: dict[str, tuple[str, str]] = {
    "text-generation": ("text", "text"),
    "text2text-generation": ("text", "text"),
    "summarization": ("text", "text"),
    "translation": ("text", "text"),
    "fill-mask": ("text", "text"),
    "text-classification": ("text", "label"),
    "token-classification": ("text", "labels per token"),
    "question-answering": ("text", "text span"),
    "feature-extraction": ("text", "embedding vector"),
    "sentence-similarity": ("text", "similarity score"),
    "image-classification": ("image", "label"),
    "image-to-text": ("image", "text"),
    "text-to-image": ("text", "image"),
    "automatic-speech-recognition": ("audio", "text"),
    "text-to-speech": ("text", "audio"),
}


def _model_parameters(label: Label) -> dict[str, Any]:
    """``modelParameters`` from what the registry knows; unknown fields are left out."""
    arch, d = label.identity.architecture, label.identity.details
    params: dict[str, Any] = {}
    if d.task:
        params["task"] = d.task
    if arch is not None and arch.family:
        params["architectureFamily"] = arch.family
    if arch is not None and arch.name:
        params["modelArchitecture"] = arch.name
    if label.training_data.datasets:
        params["datasets"] = [
            {"ref": f"dataset-{i}"} for i in range(len(label.training_data.datasets))
        ]
    if d.task in TASK_IO:
        inp, out = TASK_IO[d.task]
        params["inputs"] = [{"format": inp}]
        params["outputs"] = [{"format": out}]
    return params


def _quantitative(label: Label) -> dict[str, Any] | None:
    metrics = [
        {
            "type": e.metric,
            "value": str(e.value),
            **({"slice": " / ".join(x for x in (e.dataset, e.split) if x)} if e.dataset else {}),
        }
        for e in label.use.evaluation
    ]
    return {"performanceMetrics": metrics} if metrics else None


def _model_card(label: Label) -> dict[str, Any]:
    """CycloneDX 1.6 ``modelCard``: parameters, quantitative analysis, considerations."""
    u, c = label.use, label.compute
    card: dict[str, Any] = {"bom-ref": "model-card"}
    params = _model_parameters(label)
    if params:
        card["modelParameters"] = params
    quantitative = _quantitative(label)
    if quantitative:
        card["quantitativeAnalysis"] = quantitative
    considerations: dict[str, Any] = {}
    if u.intended:
        considerations["useCases"] = list(u.intended)
    limits = [*u.limitations, *(f"Out of scope: {x}" for x in u.out_of_scope)]
    if limits:
        considerations["technicalLimitations"] = limits
    ethical = [
        {"name": f"training dataset {x.name} contains personal data"}
        for x in label.training_data.datasets
        if x.personal_data
    ]
    if ethical:
        considerations["ethicalConsiderations"] = ethical
    fairness = [
        {"harms": f"known biases of training dataset {x.name}: {x.biases}"}
        for x in label.training_data.datasets
        if x.biases
    ]
    if fairness:
        considerations["fairnessAssessments"] = fairness
    if c.energy_kwh is not None:
        # energyConsumptions requires the energy provider and source, which the records do not
        # declare; the declared figure goes in properties rather than inventing a provider.
        considerations["environmentalConsiderations"] = {
            "properties": [{"name": "modelkin:compute:energy_kwh", "value": str(c.energy_kwh)}]
        }
    if considerations:
        card["considerations"] = considerations
    props = [
        {"name": f"modelkin:compute:{key}", "value": str(value)}
        for key, value in (
            ("accelerator", c.accelerator),
            ("accelerator_hours", c.accelerator_hours),
            ("flops", c.flops),
        )
        if value is not None
    ]
    props.append({"name": "modelkin:compute:provenance", "value": c.provenance.status})
    props.append({"name": "modelkin:disclosure:score", "value": str(label.disclosure.score)})
    props += [{"name": "modelkin:disclosure:missing", "value": m} for m in label.disclosure.missing]
    props += [{"name": "modelkin:lineage:conflict", "value": x} for x in label.lineage.conflicts]
    card["properties"] = props
    return card


def _identity_extras(component: dict[str, Any], label: Label) -> None:
    """``description``, ``authors``, ``purl`` and ``externalReferences`` (CycloneDX 1.6
    component fields ``cyclonedx-python-lib`` 11 serialises differently or not at all)."""
    i, d = label.identity, label.identity.details
    if d.description:
        component["description"] = d.description
    if i.organisation:
        authors = [{"name": i.organisation}]
        if d.contact and "@" in d.contact and " " not in d.contact.strip():
            authors[0]["email"] = d.contact.strip()
        component["authors"] = authors
    if d.hub_id:
        # purl type "huggingface" (package-url spec): version only when it is a commit id
        version = i.version if i.version and re.fullmatch(r"[0-9a-f]{40}", i.version) else None
        component["purl"] = f"pkg:huggingface/{d.hub_id}" + (f"@{version}" if version else "")
    refs = []
    if d.hub_id:
        refs.append({"type": "website", "url": f"https://huggingface.co/{d.hub_id}"})
    if d.download_location:
        refs.append({"type": "distribution", "url": d.download_location})
    if d.licence_url:
        refs.append({"type": "license", "url": d.licence_url})
    if d.contact and "://" in d.contact:
        refs.append({"type": "support", "url": d.contact})
    if refs:
        component["externalReferences"] = refs


def export_cyclonedx(label: Label) -> dict[str, Any]:
    """The label as a CycloneDX 1.6 ML-BOM (JSON object), validated before it is returned."""
    i = label.identity
    # a parent forensics contradicted is not an ancestor: it is listed, with the finding,
    # under properties named modelkin:lineage:contradicted_parent instead
    ancestors = [(n, p) for n, p in enumerate(label.lineage.parents) if p.status != "contradicted"]
    contradicted = [p for p in label.lineage.parents if p.status == "contradicted"]
    hashes = []
    if i.weight_digest and i.weight_digest.startswith("sha256:"):
        hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=i.weight_digest[7:]))
    model = Component(
        type=ComponentType.MACHINE_LEARNING_MODEL,
        name=i.name,
        version=i.version,
        bom_ref="model",
        supplier=OrganizationalEntity(name=i.organisation) if i.organisation else None,
        hashes=hashes,
        licenses=_licences(i.licence),
        properties=[
            *_prov_props("modelkin:identity", i.provenance),
            Property(name="modelkin:identity:inclusion_proof", value=i.inclusion_proof),
            *(
                Property(
                    name="modelkin:lineage:contradicted_parent",
                    value=f"{p.name} (claimed {p.relation}): {plain_verdict(p)}",
                )
                for p in contradicted
            ),
            *(
                [
                    Property(
                        name="modelkin:signature:oms",
                        value=f"{i.signature.method}: {i.signature.signer}",
                    )
                ]
                if i.signature
                else []
            ),
        ],
        pedigree=Pedigree(ancestors=[_parent_component(p, n) for n, p in ancestors])
        if ancestors
        else None,
    )
    datasets = label.training_data.datasets
    # A stable serial number: the same label always gives the same BOM identity.
    serial = uuid5(NAMESPACE_URL, f"modelkin:{i.name}:{i.weight_digest}:{label.generated_at}")
    data_components = [_dataset_component(d, n) for n, d in enumerate(datasets)]
    bom = Bom(serial_number=serial, components=data_components)
    bom.metadata.component = model
    # The model depends on its training data (CycloneDX dependency graph).
    bom.register_dependency(model, data_components)
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="modelkin", version=modelkin.__version__)
    )
    doc: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    doc["metadata"]["timestamp"] = label.generated_at
    component = doc["metadata"]["component"]
    component["modelCard"] = _model_card(label)
    _identity_extras(component, label)
    by_ref = {c["bom-ref"]: c for c in doc.get("components", [])}
    for n, ds in enumerate(datasets):
        by_ref[f"dataset-{n}"]["data"] = [_component_data(ds, n)]
    validate_cyclonedx(doc)
    return doc


def validate_cyclonedx(doc: dict[str, Any], where: str = "CycloneDX export") -> None:
    """Raise :class:`ExportError` unless ``doc`` is valid CycloneDX 1.6 JSON (strict schema)."""
    check(doc, "cyclonedx-1.6", where, "CycloneDX 1.6:")
