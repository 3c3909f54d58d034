"""SPDX 3.0.1 JSON-LD export with the AI and Dataset profiles, validated against the schema.

Built with the generated ``spdx-python-model`` bindings (v3_0_1) and checked against the
official SPDX 3.0.1 JSON schema vendored in ``schemas/`` (SHACL validation is not done: it
would need pyshacl/rdflib, which the project does not ship).

Mapping (SPDX 3.0.1 model names): the model is an ``ai_AIPackage`` (primary purpose
``model``, SHA-256 ``verifiedUsing``, ``suppliedBy`` organisation, ``ai_limitation``,
``ai_informationAboutApplication``, ``ai_informationAboutTraining``,
``ai_energyConsumption``, ``ai_useSensitivePersonalInformation``); each dataset is a
``dataset_DatasetPackage`` (``dataset_datasetType`` noAssertion: the records do not say,
``dataset_hasSensitivePersonalInformation``, ``dataset_dataCollectionProcess``) joined by
``trainedOn``; each parent not contradicted by forensics is an ``ai_AIPackage`` joined by
``descendantOf`` (the verdict and p-value in the relationship's comment); a contradicted
claim becomes an ``Annotation`` rather than a relationship. Licences are
``hasDeclaredLicense`` to a ``simplelicensing_LicenseExpression`` (non-SPDX ids such as
``gemma`` as ``LicenseRef-``) and, as the AI and Dataset profiles require exactly one,
``hasConcludedLicense`` to NoAssertion: modelkin reports licences, it does not conclude them.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from spdx_python_model import v3_0_1 as spdx

from modelkin.labels.format import plain_verdict, provenance_text
from modelkin.labels.model import Label, Parent, Provenance
from modelkin.labels.spdx_expression import slug as _slug
from modelkin.labels.spdx_expression import spdx_expression
from modelkin.labels.validation import ExportError, check

NAMESPACE = "https://modelkin.org/spdx/"
NO_ASSERTION_LICENSE = "https://spdx.org/rdf/3.0.1/terms/ExpandedLicensing/NoAssertionLicense"


def _licence_expression(value: str) -> str:
    """An SPDX licence expression with the declared meaning (see :mod:`.spdx_expression`)."""
    return spdx_expression(value)


def _comment(p: Provenance) -> str:
    return f"modelkin: {provenance_text(p)}"


def _presence(flags: list[bool | None]) -> str:
    if any(f is True for f in flags):
        return spdx.PresenceType.yes
    if flags and all(f is False for f in flags):
        return spdx.PresenceType.no
    return spdx.PresenceType.noAssertion


def _created(label: Label) -> datetime:
    try:
        return datetime.fromisoformat(label.generated_at.replace("Z", "+00:00"))
    except ValueError:
        raise ExportError("label", f"generated_at {label.generated_at!r} is not ISO 8601") from None


def export_spdx3(label: Label) -> dict[str, Any]:
    """The label as an SPDX 3.0.1 JSON-LD document (JSON object), validated before return."""
    i = label.identity
    base = f"{NAMESPACE}{_slug(i.name)}/{(i.weight_digest or 'undigested')[-16:]}/"
    objs = spdx.SHACLObjectSet()
    tool = objs.add(
        spdx.SoftwareAgent(
            spdxId=base + "agent/modelkin",
            name="modelkin",
            creationInfo="_:creationinfo",
        )
    )
    info = objs.add(
        spdx.CreationInfo(
            _id="_:creationinfo",
            specVersion="3.0.1",
            created=_created(label),
            createdBy=[tool],
        )
    )
    tool.creationInfo = info
    elements: list[Any] = []
    counter = iter(range(1, 1_000_000))

    def add(obj: Any) -> Any:
        objs.add(obj)
        elements.append(obj)
        return obj

    def relate(src: Any, kind: str, to: list[Any], comment: str | None = None) -> None:
        rel = spdx.Relationship(
            spdxId=f"{base}relationship/{next(counter)}",
            creationInfo=info,
            from_=src,
            relationshipType=kind,
            to=to,
        )
        if comment:
            rel.comment = comment
        add(rel)

    licences: dict[str, Any] = {}

    def declared(src: Any, value: str | None) -> None:
        if value:
            expr = _licence_expression(value)
            if expr not in licences:
                licences[expr] = add(
                    spdx.simplelicensing_LicenseExpression(
                        spdxId=f"{base}licence/{_slug(expr)}",
                        creationInfo=info,
                        simplelicensing_licenseExpression=expr,
                    )
                )
            relate(src, spdx.RelationshipType.hasDeclaredLicense, [licences[expr]])
        relate(src, spdx.RelationshipType.hasConcludedLicense, [NO_ASSERTION_LICENSE])

    model = add(
        spdx.ai_AIPackage(
            spdxId=base + "model",
            creationInfo=info,
            name=i.name,
            software_primaryPurpose=spdx.software_SoftwarePurpose.model,
            comment=_comment(i.provenance) + f"; inclusion proof {i.inclusion_proof}",
        )
    )
    if i.version:
        model.software_packageVersion = i.version
    if i.organisation:
        org = add(
            spdx.Organization(
                spdxId=f"{base}organisation/{_slug(i.organisation)}",
                creationInfo=info,
                name=i.organisation,
            )
        )
        model.suppliedBy = org
    if i.weight_digest and i.weight_digest.startswith("sha256:"):
        model.verifiedUsing.append(
            spdx.Hash(algorithm=spdx.HashAlgorithm.sha256, hashValue=i.weight_digest[7:])
        )
    u, c, td = label.use, label.compute, label.training_data
    limits = [*u.limitations, *(f"Out of scope: {x}" for x in u.out_of_scope)]
    if limits:
        model.ai_limitation = "; ".join(limits)
    if u.intended:
        model.ai_informationAboutApplication = "; ".join(u.intended)
    training = [
        f"{k}: {v}"
        for k, v in (
            ("accelerator", c.accelerator),
            ("accelerator-hours", c.accelerator_hours),
            ("training FLOPs", c.flops),
        )
        if v is not None
    ]
    if training:
        model.ai_informationAboutTraining = "; ".join(training) + f" ({_comment(c.provenance)})"
    if c.energy_kwh is not None:
        model.ai_energyConsumption = spdx.ai_EnergyConsumption(
            ai_trainingEnergyConsumption=[
                spdx.ai_EnergyConsumptionDescription(
                    ai_energyQuantity=float(c.energy_kwh),
                    ai_energyUnit=spdx.ai_EnergyUnitType.kilowattHour,
                )
            ]
        )
    model.ai_useSensitivePersonalInformation = _presence([d.personal_data for d in td.datasets])
    _ai_fields(model, label)
    declared(model, i.licence)

    # Training data: Dataset profile packages, trainedOn.
    dataset_objs = []
    for n, ds in enumerate(td.datasets):
        pkg = add(
            spdx.dataset_DatasetPackage(
                spdxId=f"{base}dataset/{n}-{_slug(ds.name)}",
                creationInfo=info,
                name=ds.name,
                software_primaryPurpose=spdx.software_SoftwarePurpose.data,
                dataset_datasetType=_dataset_types(ds.kinds),
                dataset_hasSensitivePersonalInformation=_presence([ds.personal_data]),
                comment=_comment(ds.provenance)
                + (
                    f"; share of tokens {ds.share_of_tokens}"
                    if ds.share_of_tokens is not None
                    else ""
                ),
            )
        )
        if ds.source:
            pkg.software_downloadLocation = ds.source
        process = "; ".join(
            f"{k}: {v}" for k, v in (("consent", ds.consent), ("opt-out", ds.opt_out)) if v
        )
        if process:
            pkg.dataset_dataCollectionProcess = process
        if ds.tokens is not None:
            pkg.dataset_datasetSize = ds.tokens
        if ds.biases:
            pkg.dataset_knownBias = [ds.biases]
        declared(pkg, ds.licence)
        dataset_objs.append(pkg)
    if dataset_objs:
        relate(model, spdx.RelationshipType.trainedOn, dataset_objs)

    # Lineage: descendantOf for parents forensics did not contradict.
    for n, p in enumerate(label.lineage.parents):
        _add_parent(p, n, base, info, model, add, relate, declared)

    doc = spdx.SpdxDocument(
        spdxId=base + "document",
        creationInfo=info,
        name=f"modelkin label export: {i.name}",
        dataLicense=f"{base}licence/CC0-1.0",
        profileConformance=[
            spdx.ProfileIdentifierType.core,
            spdx.ProfileIdentifierType.software,
            spdx.ProfileIdentifierType.simpleLicensing,
            spdx.ProfileIdentifierType.ai,
            spdx.ProfileIdentifierType.dataset,
        ],
        rootElement=[model],
    )
    objs.add(
        spdx.simplelicensing_LicenseExpression(
            spdxId=f"{base}licence/CC0-1.0",
            creationInfo=info,
            simplelicensing_licenseExpression="CC0-1.0",
        )
    )
    doc.element.extend(elements)
    objs.add(doc)
    data: dict[str, Any] = spdx.JSONLDSerializer().serialize_data(objs)
    validate_spdx3(data)
    return data


def _dataset_types(kinds: tuple[str, ...]) -> list[Any]:
    """Declared SPDX dataset types; ``noAssertion`` when the records declare none (the
    Dataset profile requires at least one, and modelkin never guesses a type)."""
    known = [getattr(spdx.dataset_DatasetType, k) for k in kinds
             if k in spdx.dataset_DatasetType.NAMED_INDIVIDUALS]  # fmt: skip
    return known or [spdx.dataset_DatasetType.noAssertion]


def _ai_fields(model: Any, label: Label) -> None:
    """AI profile fields the registry knows; a field it does not know is left out."""
    i, d = label.identity, label.identity.details
    arch = i.architecture
    if arch is not None and (arch.name or arch.family):
        model.ai_typeOfModel = [x for x in (arch.name, arch.family) if x]
    if d.hyperparameters:
        model.ai_hyperparameter = [
            spdx.DictionaryEntry(key=k, value=v) for k, v in d.hyperparameters
        ]
    metrics = [
        spdx.DictionaryEntry(
            key=" / ".join(x for x in (e.metric, e.dataset, e.split) if x), value=str(e.value)
        )
        for e in label.use.evaluation
    ]
    if metrics:
        model.ai_metric = metrics
    if d.download_location:
        model.software_downloadLocation = d.download_location
    if d.released_at:
        with contextlib.suppress(ValueError):
            model.releaseTime = datetime.fromisoformat(d.released_at.replace("Z", "+00:00"))
    if d.description:
        model.description = d.description
    if d.task:
        model.ai_informationAboutApplication = "; ".join(
            x for x in (f"task: {d.task}", model.ai_informationAboutApplication) if x
        )


def _add_parent(
    p: Parent, n: int, base: str, info: Any, model: Any, add: Any, relate: Any, declared: Any
) -> None:
    verdict = f"forensics: {p.status}" + (
        f" (p = {p.p_value:.3g})" if p.p_value is not None and p.status != "contradicted" else ""
    )
    note = f"claimed relation {p.relation}; {verdict}: {plain_verdict(p)}; {_comment(p.provenance)}"
    if p.verifications:
        note += "; " + "; ".join(p.verifications)
    if p.status == "contradicted":
        add(
            spdx.Annotation(
                spdxId=f"{base}annotation/parent-{n}",
                creationInfo=info,
                annotationType=spdx.AnnotationType.review,
                subject=model,
                statement=f"Claimed parent {p.name} is contradicted by forensics: {note}",
            )
        )
        return
    parent = add(
        spdx.ai_AIPackage(
            spdxId=f"{base}parent/{n}-{_slug(p.name)}",
            creationInfo=info,
            name=p.name,
            software_primaryPurpose=spdx.software_SoftwarePurpose.model,
        )
    )
    declared(parent, p.licence)
    relate(model, spdx.RelationshipType.descendantOf, [parent], note)


def validate_spdx3(doc: Any, where: str = "SPDX 3 export") -> None:
    """Raise :class:`ExportError` unless ``doc`` validates against the SPDX 3.0.1 JSON schema
    (the SHACL shapes are checked in the tests: pyshacl is not a run-time dependency)."""
    check(doc, "spdx-3.0.1.schema.json", where, "SPDX 3.0.1")
