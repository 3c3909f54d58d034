"""Build a model's label from the registry's accepted records.

Nothing on the label is typed in for the label: identity comes from the model record,
lineage from derivation records and the forensic verdicts the registry stored with them,
training data and compute from training-run records whose output is this model and from
the dataset records they name, intended use from the model record. Each fact keeps the
ledger index of the record it came from; "verified" is reserved for what modelkin checked
itself (an inclusion proof recomputed here, a lineage claim confirmed by forensics).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.labels.assemble import assemble_label
from modelkin.labels.inclusion import inclusion_verified
from modelkin.labels.model import (
    Architecture,
    Compute,
    Dataset,
    Details,
    Evaluation,
    Identity,
    Label,
    Parent,
    ParentStatus,
    ProofStatus,
    Provenance,
    Signature,
    Use,
)

MAX_ANCESTORS = 200
_VERDICTS = {"verified", "partly_supported", "contradicted", "unverifiable"}


def _lines(text: Any) -> tuple[str, ...]:
    """A free-text field as list items: one per line, leading bullet marks removed."""
    if not isinstance(text, str):
        return ()
    items = [line.strip().lstrip("-*• ").strip() for line in text.splitlines()]
    return tuple(i for i in items if i)


def _inclusion(registry: Any, index: int) -> tuple[ProofStatus, int | None]:
    """Recompute the record's inclusion proof against the log's checkpoint."""
    try:
        proof = registry.inclusion_proof(index)
        entry = registry.ledger.entry(index)
    except ModelkinError:
        return "absent", None
    ok = inclusion_verified(bytes(entry), index, proof["inclusion_proof"], proof["checkpoint"])
    return ("verified" if ok else "unverified"), int(proof["tree_size"])


def _model_or_none(registry: Any, digest: str) -> Any:
    try:
        return registry.record(digest, "model")
    except ModelkinError:
        return None


def _claims_about(registry: Any, digest: str) -> list[Any]:
    """Active derivation records whose child is ``digest``."""
    return [
        r
        for r in registry.derivations(digest)
        if r.predicate.get("child", {}).get("sha256") == digest
    ]


def _p_value(detail: dict[str, Any]) -> float | None:
    p = detail.get("p_value")
    if isinstance(p, int | float) and 0 <= p <= 1:
        return float(p)
    return None


def _detail(detail: dict[str, Any]) -> str | None:
    """A short human reason from a stored verification (bounded: it is shown on the label)."""
    reason = detail.get("reason")
    if isinstance(reason, str) and reason:
        return reason[:300]
    verdict = detail.get("forensic_verdict")
    if isinstance(verdict, str) and verdict:
        return f"forensic verdict: {verdict[:200]}"
    return None


def _disagree(history: list[Any], parent: str | None) -> bool:
    return len({v.verdict for v in history if v.parent_sha256 == parent}) > 1


def _conflicting_claims(claims: list[Any]) -> list[str]:
    """Claims about one child that cannot all be true: different relations to one parent
    (finetune, converted and quantized of the same model at once), or "trained from
    scratch" beside a claimed parent."""
    by_parent: dict[str, list[Any]] = {}
    for claim in claims:
        for ref in claim.predicate["parents"]:
            by_parent.setdefault(ref["sha256"], []).append(claim)
    out = []
    for sha, cs in by_parent.items():
        relations = sorted({c.predicate["relation"] for c in cs})
        if len(relations) > 1:
            name = next((r.get("name") for c in cs for r in c.predicate["parents"]
                         if r["sha256"] == sha and r.get("name")), sha[:16])  # fmt: skip
            listed = ", ".join(f"{c.predicate['relation']} (ledger #{c.ledger_index})" for c in cs)
            out.append(
                f"conflicting claims about how this model was made from {name}: {listed}; "
                "at most one of them can be true"
            )
    scratch = [c for c in claims if c.predicate["relation"] == "none"]
    if scratch and by_parent:
        out.append(
            f"claimed to be trained from scratch (ledger #{scratch[0].ledger_index}) and "
            f"also to derive from {len(by_parent)} parent model(s)"
        )
    return out


def _parents(registry: Any, digest: str) -> tuple[list[Parent], bool, list[str]]:
    """(parents, trained-from-scratch claimed and not contradicted, lineage findings)."""
    parents: list[Parent] = []
    scratch = False
    claims = _claims_about(registry, digest)
    findings: list[str] = _conflicting_claims(claims)
    for claim in claims:
        pred = claim.predicate
        verdicts = {v.parent_sha256: v for v in claim.verifications}
        if pred["relation"] == "none":
            contradicting = [v for v in claim.verifications if v.verdict == "contradicted"]
            if not contradicting:
                scratch = True
            for v in contradicting:
                other = _model_or_none(registry, v.parent_sha256) if v.parent_sha256 else None
                name = other.name if other is not None else (v.parent_sha256 or "?")[:16]
                parents.append(
                    Parent(
                        name=name,
                        relation="undeclared",
                        status="verified",
                        p_value=_p_value(v.detail),
                        licence=other.predicate.get("license") if other is not None else None,
                        provenance=Provenance("verified", claim.ledger_index),
                    )
                )
                findings.append(
                    f"claimed to be trained from scratch (ledger #{claim.ledger_index}), "
                    f"but forensics relates it to {name}"
                )
            continue
        for ref in pred["parents"]:
            sha = ref["sha256"]
            rec = _model_or_none(registry, sha)
            v = verdicts.get(sha)
            status: ParentStatus = "untested"
            if v is not None and v.verdict in _VERDICTS:
                status = v.verdict
            detail = _detail(v.detail) if v is not None else None
            parents.append(
                Parent(
                    name=(rec.name if rec is not None else None) or ref.get("name") or sha[:16],
                    relation=pred["relation"],
                    status=status,
                    p_value=_p_value(v.detail) if v is not None else None,
                    licence=rec.predicate.get("license") if rec is not None else None,
                    detail=detail,
                    hub_id=rec.predicate.get("hub_id") if rec is not None else None,
                    verifications=tuple(
                        x.attribution for x in claim.verification_history if x.parent_sha256 == sha
                    ),
                    verifications_disagree=_disagree(claim.verification_history, sha),
                    provenance=Provenance(
                        "verified" if status == "verified" else "claimed", claim.ledger_index
                    ),
                )
            )
    findings += [
        f"the logged verifications of the {p.relation} claim from {p.name} disagree: "
        + "; ".join(p.verifications)
        for p in parents
        if p.verifications_disagree
    ]
    return parents, scratch and not parents, findings


def _ancestors(registry: Any, digest: str) -> list[tuple[str, str | None]]:
    """(name, licence) of every ancestor reached through claims forensics did not contradict."""
    out: list[tuple[str, str | None]] = []
    seen = {digest}
    queue = deque([digest])
    while queue and len(seen) <= MAX_ANCESTORS:
        child = queue.popleft()
        for claim in _claims_about(registry, child):
            verdicts = {v.parent_sha256: v.verdict for v in claim.verifications}
            for ref in claim.predicate["parents"]:
                sha = ref["sha256"]
                if sha in seen or verdicts.get(sha) == "contradicted":
                    continue
                seen.add(sha)
                rec = _model_or_none(registry, sha)
                name = (rec.name if rec is not None else None) or ref.get("name") or sha[:16]
                out.append((name, rec.predicate.get("license") if rec is not None else None))
                queue.append(sha)
    return out


def _consent(pred: dict[str, Any]) -> tuple[str | None, str | None]:
    consent = pred.get("consent") or {}
    status = consent.get("status")
    text = None if status in (None, "unknown") else str(status).replace("_", " ")
    if consent.get("notes"):
        text = f"{text}: {consent['notes']}" if text else str(consent["notes"])
    opt_out = consent.get("opt_out_url")
    if opt_out is None and status == "opt_out_honoured":
        opt_out = "honoured"
    elif opt_out is None and status == "opt_out_not_honoured":
        opt_out = "not honoured"
    return text, opt_out


def _dataset(registry: Any, ref: dict[str, Any], run_index: int) -> Dataset:
    sha = ref["sha256"]
    try:
        rec = registry.record(sha, "dataset")
    except ModelkinError:
        return Dataset(
            name=ref.get("name") or sha[:16], provenance=Provenance("claimed", run_index)
        )
    pred = rec.predicate
    licences = [str(x) for x in pred.get("licenses") or []]
    urls = [s.get("url") for s in pred.get("sources") or [] if s.get("url")]
    consent, opt_out = _consent(pred)
    personal = (pred.get("personal_data") or {}).get("present")
    rai = pred.get("rai") or {}
    biases = rai.get("dataBiases")
    if isinstance(biases, list):
        biases = "; ".join(str(b) for b in biases)
    return Dataset(
        name=rec.name or ref.get("name") or sha[:16],
        tokens=pred.get("size_tokens"),
        licence=" AND ".join(dict.fromkeys(licences)) or None,
        source=", ".join(urls[:3]) + (f" (+{len(urls) - 3} more)" if len(urls) > 3 else "")
        if urls
        else None,
        consent=consent,
        opt_out=opt_out,
        personal_data=personal if isinstance(personal, bool) else None,
        provenance=Provenance("claimed", rec.ledger_index),
        biases=str(biases)[:2000] if biases else None,
        hub_id=pred.get("hub_id") if isinstance(pred.get("hub_id"), str) else None,
    )


def _training(registry: Any, digest: str) -> tuple[list[Dataset], Compute]:
    runs = [
        r for r in registry.training_runs() if r.predicate.get("output", {}).get("sha256") == digest
    ]
    datasets: dict[str, Dataset] = {}
    for run in runs:
        for ref in run.predicate.get("inputs", {}).get("datasets", []):
            datasets.setdefault(ref["sha256"], _dataset(registry, ref, run.ledger_index))
    if not runs:
        return list(datasets.values()), Compute()

    def total(key: str) -> float | None:
        values = [r.predicate.get(key) for r in runs]
        if any(v is None for v in values):
            return None
        return float(sum(values))

    kinds = [
        f"{r.predicate['hardware']['count']} × {r.predicate['hardware']['kind']}" for r in runs
    ]
    return list(datasets.values()), Compute(
        accelerator=", ".join(dict.fromkeys(kinds)),
        accelerator_hours=total("accelerator_hours"),
        flops=total("flops"),
        energy_kwh=total("energy_kwh"),
        provenance=Provenance("claimed", runs[-1].ledger_index),
    )


def _architecture(structure: Any) -> Architecture | None:
    if not isinstance(structure, dict):
        return None

    def num(key: str) -> int | None:
        v = structure.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None

    arch = Architecture(
        name=str(structure["architecture"])[:200] if structure.get("architecture") else None,
        family=str(structure["family"])[:100] if structure.get("family") else None,
        parameters=num("num_parameters"),
        layers=num("num_layers"),
    )
    return arch if any((arch.name, arch.family, arch.parameters)) else None


def _model_details(pred: dict[str, Any]) -> Details:
    text = {
        k: pred.get(k) if isinstance(pred.get(k), str) else None
        for k in ("description", "task", "library", "contact", "hub_id", "download_location",
                  "released_at")
    }  # fmt: skip
    hyper = pred.get("hyperparameters") or {}
    return Details(
        **text,
        licence_url=pred.get("license_url") if isinstance(pred.get("license_url"), str) else None,
        languages=tuple(str(x) for x in pred.get("languages") or ()),
        hyperparameters=tuple((str(k), str(v)) for k, v in sorted(hyper.items())),
    )


def _signature(oms: Any) -> Signature | None:
    if not isinstance(oms, dict) or not oms.get("signer"):
        return None
    return Signature(method=oms["method"], signer=oms["signer"], issuer=oms.get("issuer"))


def _evaluation(items: Any) -> tuple[Evaluation, ...]:
    out = []
    for e in items or ():
        if isinstance(e, dict) and e.get("metric") and e.get("value") is not None:
            out.append(
                Evaluation(
                    metric=str(e["metric"]),
                    value=e["value"],
                    task=e.get("task"),
                    dataset=e.get("dataset"),
                    split=e.get("split"),
                    source=e.get("source"),
                )
            )
    return tuple(out)


def build_label(registry: Any, model_ref: str) -> Label:
    """The label of a registered model (record id, manifest digest or name)."""
    rec = registry.model(model_ref)
    pred = rec.predicate
    digest = rec.digest
    proof, tree_size = _inclusion(registry, rec.ledger_index)
    # the declared fields are claims whatever the proof says: the proof shows the record
    # is logged, not that what it declares is true (issue 14)
    identity = Identity(
        name=rec.name or pred.get("name") or model_ref,
        version=rec.version,
        organisation=rec.organisation,
        licence=pred.get("license"),
        weight_digest=f"sha256:{digest}" if digest else None,
        ledger_index=rec.ledger_index,
        inclusion_proof=proof,
        tree_size=tree_size,
        provenance=Provenance("claimed", rec.ledger_index),
        architecture=_architecture(pred.get("structure")),
        details=_model_details(pred),
        signature=_signature(pred.get("oms")),
    )
    parents, scratch, findings = _parents(registry, digest)
    datasets, compute = _training(registry, digest)
    use = Use(
        intended=_lines(pred.get("intended_use")),
        out_of_scope=_lines(pred.get("out_of_scope")),
        limitations=_lines(pred.get("limitations")),
        provenance=Provenance("claimed", rec.ledger_index),
        evaluation=_evaluation(pred.get("evaluation")),
    )
    label = assemble_label(
        identity,
        parents,
        datasets,
        compute,
        use,
        from_scratch=scratch,
        ancestors=[
            *_ancestors(registry, digest),
            *((p.name, p.licence) for p in parents if p.relation == "undeclared"),
        ],
    )
    if not findings:
        return label
    lineage = replace(label.lineage, conflicts=(*findings, *label.lineage.conflicts))
    return replace(label, lineage=lineage)
