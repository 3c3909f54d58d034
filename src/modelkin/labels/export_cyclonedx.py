"""CycloneDX 1.6 ML-BOM export, validated against the official 1.6 JSON schema.

Built with ``cyclonedx-python-lib`` (BOM, components of type ``machine-learning-model`` and
``data``, licences, hashes, ``pedigree.ancestors`` for lineage). The library does not model
``modelCard`` (CycloneDX 1.6 s. "Model Card") nor a data component's ``data`` array, so those
are added to the serialised JSON here, and the result is checked with the library's own
``JsonStrictValidator`` against the ``bom-1.6.schema.json`` it ships: a BOM that does not
validate is never returned.

Mapping (CycloneDX 1.6 JSON field names): identity -> ``metadata.component`` (name, version,
supplier, hashes SHA-256, licenses); parents -> ``pedigree.ancestors`` (with the forensic
verdict as properties); datasets -> ``data`` components referenced from
``modelCard.modelParameters.datasets``; use -> ``modelCard.considerations``; compute and
provenance -> ``properties`` in the ``modelkin:`` namespace.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType, Pedigree
from cyclonedx.model.contact import OrganizationalEntity
from cyclonedx.output.json import JsonV1Dot6

import modelkin
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


def _model_card(label: Label) -> dict[str, Any]:
    """CycloneDX 1.6 ``modelCard``: datasets by reference, considerations, compute properties."""
    u, c = label.use, label.compute
    card: dict[str, Any] = {"bom-ref": "model-card"}
    if label.training_data.datasets:
        card["modelParameters"] = {
            "datasets": [{"ref": f"dataset-{i}"} for i in range(len(label.training_data.datasets))]
        }
    considerations: dict[str, Any] = {}
    if u.intended:
        considerations["useCases"] = list(u.intended)
    limits = [*u.limitations, *(f"Out of scope: {x}" for x in u.out_of_scope)]
    if limits:
        considerations["technicalLimitations"] = limits
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


def export_cyclonedx(label: Label) -> dict[str, Any]:
    """The label as a CycloneDX 1.6 ML-BOM (JSON object), validated before it is returned."""
    i = label.identity
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
        ],
        pedigree=Pedigree(
            ancestors=[_parent_component(p, n) for n, p in enumerate(label.lineage.parents)]
        )
        if label.lineage.parents
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
    doc["metadata"]["component"]["modelCard"] = _model_card(label)
    by_ref = {c["bom-ref"]: c for c in doc.get("components", [])}
    for n, ds in enumerate(datasets):
        by_ref[f"dataset-{n}"]["data"] = [_component_data(ds, n)]
    validate_cyclonedx(doc)
    return doc


def validate_cyclonedx(doc: dict[str, Any], where: str = "CycloneDX export") -> None:
    """Raise :class:`ExportError` unless ``doc`` is valid CycloneDX 1.6 JSON (strict schema)."""
    check(doc, "cyclonedx-1.6", where, "CycloneDX 1.6:")
