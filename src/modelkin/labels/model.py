"""The nutrition label as typed data: exactly the label JSON, version 1.

The label is a *view* over the registry's records, never a place where new facts are
entered, so every fact carries its :class:`Provenance`: the ledger entry it came from and
whether modelkin verified it (forensics, a digest it computed, a checked inclusion proof) or
only recorded what someone claimed. Renderers and exports read only this model; the JSON
form is published as ``schemas/label-v1.schema.json`` and :func:`label_from_dict` checks a
document against that schema before building the model, so a hand-edited or foreign label
file is rejected with a clear error instead of half-rendering.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from modelkin.errors import ModelkinError

LABEL_VERSION = "1"
LABEL_SCHEMA_ID = "https://modelkin.org/schemas/label/v1/schema.json"

Status = Literal["verified", "claimed"]
ParentStatus = Literal["verified", "partly_supported", "contradicted", "unverifiable", "untested"]
ProofStatus = Literal["verified", "unverified", "absent"]
MAX_LABEL_BYTES = 4 * 1024 * 1024


class LabelError(ModelkinError):
    """A label document is not valid label-v1 JSON."""


@dataclass(frozen=True)
class Provenance:
    """Where one fact comes from: its ledger entry (None: not logged) and its standing."""

    status: Status = "claimed"
    ledger_index: int | None = None


@dataclass(frozen=True)
class Architecture:
    """What the weights are, as modelkin read them from the model's files at registration."""

    name: str | None = None
    family: str | None = None
    parameters: int | None = None
    layers: int | None = None


@dataclass(frozen=True)
class Signature:
    """An OpenSSF model signing bundle over exactly these files, re-verified by the registry."""

    method: str
    signer: str
    issuer: str | None = None


@dataclass(frozen=True)
class Details:
    """Optional declarations about the model (all self-declared by the registrant)."""

    description: str | None = None
    task: str | None = None
    library: str | None = None
    languages: tuple[str, ...] = ()
    contact: str | None = None
    hub_id: str | None = None
    licence_url: str | None = None
    download_location: str | None = None
    released_at: str | None = None
    hyperparameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Identity:
    """Section 1: what the model is and where it is logged.

    ``provenance`` is that of the declared fields (organisation, licence, version, details):
    they are what the registrant says. What modelkin checked is marked on its own fact:
    ``inclusion_proof`` (recomputed here) and ``signature`` (re-verified by the registry)."""

    name: str
    version: str | None = None
    organisation: str | None = None
    licence: str | None = None
    weight_digest: str | None = None
    ledger_index: int | None = None
    inclusion_proof: ProofStatus = "absent"
    tree_size: int | None = None
    provenance: Provenance = field(default_factory=Provenance)
    architecture: Architecture | None = None
    details: Details = field(default_factory=Details)
    signature: Signature | None = None


@dataclass(frozen=True)
class Evaluation:
    """One declared evaluation result (Hugging Face model-index style)."""

    metric: str
    value: float | str
    task: str | None = None
    dataset: str | None = None
    split: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Parent:
    """One claimed parent and what forensics said about the claim."""

    name: str
    relation: str
    status: ParentStatus = "untested"
    p_value: float | None = None
    licence: str | None = None
    provenance: Provenance = field(default_factory=Provenance)
    detail: str | None = None  # why forensics could not decide, or what it reported
    hub_id: str | None = None
    #: "verified by V with engine E at ledger #N", one per logged verification of the claim
    verifications: tuple[str, ...] = ()
    #: the logged verifications of this claim reach different outcomes
    verifications_disagree: bool = False


@dataclass(frozen=True)
class InheritedLicence:
    """A licence reached along the lineage, with the obligations it puts on this model."""

    licence: str
    via: str
    obligations: tuple[str, ...] = ()
    known: bool = True


@dataclass(frozen=True)
class Lineage:
    """Section 2: parents, inherited licences and the conflicts between them."""

    parents: tuple[Parent, ...] = ()
    from_scratch: bool = False
    licences: tuple[InheritedLicence, ...] = ()
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """One training dataset as the registry records it."""

    name: str
    share_of_tokens: float | None = None
    tokens: int | None = None
    licence: str | None = None
    source: str | None = None
    consent: str | None = None
    opt_out: str | None = None
    personal_data: bool | None = None
    provenance: Provenance = field(default_factory=Provenance)
    biases: str | None = None
    kinds: tuple[str, ...] = ()  # SPDX dataset types declared (text, image, ...)
    hub_id: str | None = None


@dataclass(frozen=True)
class TrainingData:
    """Section 3: the datasets and the share of training tokens under a known licence."""

    datasets: tuple[Dataset, ...] = ()
    known_licence_share: float | None = None


@dataclass(frozen=True)
class Compute:
    """Section 4: training compute, only where declared (None means not declared)."""

    accelerator: str | None = None
    accelerator_hours: float | None = None
    flops: float | None = None
    energy_kwh: float | None = None
    provenance: Provenance = field(default_factory=Provenance)


@dataclass(frozen=True)
class Use:
    """Section 5: what the model is for, what it is not for, and what it cannot do."""

    intended: tuple[str, ...] = ()
    out_of_scope: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    provenance: Provenance = field(default_factory=Provenance)
    evaluation: tuple[Evaluation, ...] = ()


@dataclass(frozen=True)
class Disclosure:
    """Section 6: share of the disclosure checklist that is answered, and what is missing."""

    score: float
    answered: int
    total: int
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Label:
    """A whole label: the six sections in their fixed order plus when it was generated."""

    identity: Identity
    lineage: Lineage
    training_data: TrainingData
    compute: Compute
    use: Use
    disclosure: Disclosure
    generated_at: str


# ---------------------------------------------------------------- JSON (label-v1)


def _prov(p: Provenance) -> dict[str, Any]:
    return {"status": p.status, "ledger_index": p.ledger_index}


def label_to_dict(label: Label) -> dict[str, Any]:
    """The label-v1 JSON object (keys in section order; validated by the schema)."""
    i, lin, td, c, u, d = (
        label.identity,
        label.lineage,
        label.training_data,
        label.compute,
        label.use,
        label.disclosure,
    )
    return {
        "$schema": LABEL_SCHEMA_ID,
        "label_version": LABEL_VERSION,
        "generated_at": label.generated_at,
        "identity": {
            "name": i.name,
            "version": i.version,
            "organisation": i.organisation,
            "licence": i.licence,
            "weight_digest": i.weight_digest,
            "ledger_index": i.ledger_index,
            "inclusion_proof": i.inclusion_proof,
            "tree_size": i.tree_size,
            "provenance": _prov(i.provenance),
            "architecture": asdict(i.architecture) if i.architecture else None,
            "details": {
                **asdict(i.details),
                "languages": list(i.details.languages),
                "hyperparameters": dict(i.details.hyperparameters),
            },
            "signature": asdict(i.signature) if i.signature else None,
        },
        "lineage": {
            "from_scratch": lin.from_scratch,
            "parents": [
                {
                    "name": p.name,
                    "relation": p.relation,
                    "status": p.status,
                    "p_value": p.p_value,
                    "licence": p.licence,
                    "detail": p.detail,
                    "provenance": _prov(p.provenance),
                    "hub_id": p.hub_id,
                    "verifications": list(p.verifications),
                    "verifications_disagree": p.verifications_disagree,
                }
                for p in lin.parents
            ],
            "licences": [
                {
                    "licence": x.licence,
                    "via": x.via,
                    "known": x.known,
                    "obligations": list(x.obligations),
                }
                for x in lin.licences
            ],
            "conflicts": list(lin.conflicts),
        },
        "training_data": {
            "datasets": [
                {
                    "name": ds.name,
                    "share_of_tokens": ds.share_of_tokens,
                    "tokens": ds.tokens,
                    "licence": ds.licence,
                    "source": ds.source,
                    "consent": ds.consent,
                    "opt_out": ds.opt_out,
                    "personal_data": ds.personal_data,
                    "provenance": _prov(ds.provenance),
                    "biases": ds.biases,
                    "kinds": list(ds.kinds),
                    "hub_id": ds.hub_id,
                }
                for ds in td.datasets
            ],
            "known_licence_share": td.known_licence_share,
        },
        "compute": {
            "accelerator": c.accelerator,
            "accelerator_hours": c.accelerator_hours,
            "flops": c.flops,
            "energy_kwh": c.energy_kwh,
            "provenance": _prov(c.provenance),
        },
        "use": {
            "intended": list(u.intended),
            "out_of_scope": list(u.out_of_scope),
            "limitations": list(u.limitations),
            "provenance": _prov(u.provenance),
            "evaluation": [asdict(e) for e in u.evaluation],
        },
        "disclosure": {
            "score": d.score,
            "answered": d.answered,
            "total": d.total,
            "missing": list(d.missing),
        },
    }


def label_to_json(label: Label) -> str:
    """Stable, indented label-v1 JSON text (section order kept, not sorted)."""
    return json.dumps(label_to_dict(label), indent=2, ensure_ascii=False) + "\n"


def label_schema() -> dict[str, Any]:
    """The published label-v1 JSON Schema (draft 2020-12)."""
    from modelkin.labels.validation import packaged_schema

    return packaged_schema("label-v1.schema.json")


def validate_label_dict(doc: Any, where: str = "label") -> None:
    """Raise :class:`LabelError` naming the first schema violation, if any (jsonschema-rs:
    see :mod:`modelkin.labels.validation` for why not the pure-Python validator)."""
    from modelkin.labels.validation import first_error

    problem = first_error(doc, "label-v1.schema.json")
    if problem is not None:
        raise LabelError(where, f"not a label-v1 document: {problem}")


def _p(d: dict[str, Any]) -> Provenance:
    return Provenance(status=d["status"], ledger_index=d.get("ledger_index"))


def label_from_dict(doc: Any, where: str = "label") -> Label:
    """Build a :class:`Label` from label-v1 JSON, after schema validation."""
    validate_label_dict(doc, where)
    i, lin, td, c, u, d = (
        doc["identity"],
        doc["lineage"],
        doc["training_data"],
        doc["compute"],
        doc["use"],
        doc["disclosure"],
    )
    return Label(
        generated_at=doc["generated_at"],
        identity=Identity(
            name=i["name"],
            version=i.get("version"),
            organisation=i.get("organisation"),
            licence=i.get("licence"),
            weight_digest=i.get("weight_digest"),
            ledger_index=i.get("ledger_index"),
            inclusion_proof=i["inclusion_proof"],
            tree_size=i.get("tree_size"),
            provenance=_p(i["provenance"]),
            architecture=Architecture(**i["architecture"]) if i.get("architecture") else None,
            details=_details(i.get("details") or {}),
            signature=Signature(**i["signature"]) if i.get("signature") else None,
        ),
        lineage=Lineage(
            from_scratch=lin["from_scratch"],
            parents=tuple(
                Parent(
                    name=p["name"],
                    relation=p["relation"],
                    status=p["status"],
                    p_value=p.get("p_value"),
                    licence=p.get("licence"),
                    detail=p.get("detail"),
                    provenance=_p(p["provenance"]),
                    hub_id=p.get("hub_id"),
                    verifications=tuple(p.get("verifications") or ()),
                    verifications_disagree=bool(p.get("verifications_disagree")),
                )
                for p in lin["parents"]
            ),
            licences=tuple(
                InheritedLicence(
                    licence=x["licence"],
                    via=x["via"],
                    known=x["known"],
                    obligations=tuple(x["obligations"]),
                )
                for x in lin["licences"]
            ),
            conflicts=tuple(lin["conflicts"]),
        ),
        training_data=TrainingData(
            datasets=tuple(
                Dataset(
                    name=ds["name"],
                    share_of_tokens=ds.get("share_of_tokens"),
                    tokens=ds.get("tokens"),
                    licence=ds.get("licence"),
                    source=ds.get("source"),
                    consent=ds.get("consent"),
                    opt_out=ds.get("opt_out"),
                    personal_data=ds.get("personal_data"),
                    provenance=_p(ds["provenance"]),
                    biases=ds.get("biases"),
                    kinds=tuple(ds.get("kinds") or ()),
                    hub_id=ds.get("hub_id"),
                )
                for ds in td["datasets"]
            ),
            known_licence_share=td.get("known_licence_share"),
        ),
        compute=Compute(
            accelerator=c.get("accelerator"),
            accelerator_hours=c.get("accelerator_hours"),
            flops=c.get("flops"),
            energy_kwh=c.get("energy_kwh"),
            provenance=_p(c["provenance"]),
        ),
        use=Use(
            intended=tuple(u["intended"]),
            out_of_scope=tuple(u["out_of_scope"]),
            limitations=tuple(u["limitations"]),
            provenance=_p(u["provenance"]),
            evaluation=tuple(Evaluation(**e) for e in u.get("evaluation") or ()),
        ),
        disclosure=Disclosure(
            score=d["score"],
            answered=d["answered"],
            total=d["total"],
            missing=tuple(d["missing"]),
        ),
    )


def _details(d: dict[str, Any]) -> Details:
    return Details(
        **{k: d.get(k) for k in ("description", "task", "library", "contact", "hub_id",
                                 "licence_url", "download_location", "released_at")},
        languages=tuple(d.get("languages") or ()),
        hyperparameters=tuple((str(k), str(v)) for k, v in (d.get("hyperparameters") or {}).items()),
    )  # fmt: skip


def read_label(path: Path) -> Label:
    """Read and validate a label JSON file (bounded size, clear errors)."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LabelError(path, f"cannot read label file: {exc.strerror or exc}") from None
    if size > MAX_LABEL_BYTES:
        raise LabelError(path, f"label file is {size} bytes, more than {MAX_LABEL_BYTES}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelError(path, f"not JSON: {exc}") from None
    return label_from_dict(doc, str(path))
