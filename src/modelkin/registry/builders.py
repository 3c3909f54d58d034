"""High-level builders: compute what a statement must say, sign it, submit it.

These are what the CLI and the HTTP server call. Each computes the digests itself (never
takes them on trust from the caller where the bytes are at hand), builds the predicate,
signs the statement with the registrant's identity and submits it.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

from modelkin.errors import ModelkinError
from modelkin.registry.core import Registry
from modelkin.registry.results import Receipt
from modelkin.statements.dsse import sign_envelope
from modelkin.statements.identity import Identity
from modelkin.statements.kinds import get_kind
from modelkin.statements.manifest import MANIFEST_METHOD, manifest_digest, scan_directory
from modelkin.statements.statement import is_sha256_hex, make_statement, subject


def submit_predicate(
    registry: Registry,
    identity: Identity,
    kind: str,
    subjects: list[tuple[str, str]],
    predicate: dict[str, Any],
) -> Receipt:
    """Sign ``predicate`` of ``kind`` about ``subjects`` and submit it."""
    st = make_statement(
        [subject(n, d) for n, d in subjects], get_kind(kind).predicate_type, predicate
    )
    return registry.submit(sign_envelope(st, identity))


def attest_claim(registry: Registry, identity: Identity, claim: str) -> Receipt:
    """Check derivation claim ``claim`` with the installed forensic engine and publish the
    result as ``identity``'s own signed verification statement (a third party's check: it
    is shown as theirs and does not decide the claim's status, see :mod:`.verdicts`)."""
    rid, pred = registry.verification_predicate(claim)
    return submit_predicate(registry, identity, "verification", [("claim", rid)], pred)


def register_identity(
    registry: Registry, identity: Identity, organisation: str | None = None
) -> Receipt:
    """Publish ``identity``'s public key as a self-signed identity statement."""
    pred = {
        "name": identity.name,
        "algorithm": "ed25519",
        "public_key": identity.public_key_pem,
        "organisation": organisation,
        "contact": None,
    }
    return submit_predicate(registry, identity, "identity", [(identity.name, identity.keyid)], pred)


def fingerprint_into_blobs(
    registry: Registry,
    model_path: Path,
    manifest: str | None = None,
    name: str | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str | None]:
    """(fingerprint ref, structure, problem) using :mod:`modelkin.fingerprint` if available.

    ``manifest`` is the manifest digest of the files at ``model_path``: the fingerprint
    records it, so the registry uses it for this model only (:mod:`.binding`). The
    fingerprint file goes into the blob store by sha256 so lineage checks can load it.
    It carries the registered ``name`` (not the folder it was read from, often just
    ``model``), so every report made from it, stored verifications included, names the
    model as the registry does."""
    try:
        from modelkin.fingerprint import fingerprint_model
    except ImportError as exc:
        return None, None, f"fingerprint unavailable ({exc}); lineage claims stay unverifiable"
    try:
        fp = fingerprint_model(model_path, manifest=manifest)
    except ModelkinError as exc:
        return None, None, f"not fingerprinted ({exc}); lineage claims stay unverifiable"
    if name:
        fp.name = name  # before its digest is first computed (in save)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fingerprint"
        saved = fp.save(out)
        blob = registry.blobs.put_file(Path(saved) if saved else out)
    structure = getattr(fp, "structure", None)
    if structure is not None and not isinstance(structure, dict):
        to_dict = getattr(structure, "to_dict", None)
        structure = to_dict() if callable(to_dict) else {"summary": str(structure)}
    return {"digest": str(fp.digest()), "blob": blob}, structure, None


#: Optional model-v1 fields a registrant declares (the rest is computed from the files).
MODEL_DECLARATIONS = (
    "description", "task", "library", "languages", "contact", "hub_id",
    "download_location", "released_at", "hyperparameters", "evaluation", "license_url",
)  # fmt: skip


def register_model(
    registry: Registry,
    model_dir: Path | str,
    identity: Identity,
    *,
    name: str,
    version: str,
    organisation: str,
    license: str,
    intended_use: str | None = None,
    out_of_scope: str | None = None,
    limitations: str | None = None,
    fingerprint: bool = True,
    oms_bundle: Path | None = None,
    oms_trust: Any = None,
    declared: dict[str, Any] | None = None,
) -> Receipt:
    """Register the model at ``model_dir`` (an HF directory or a single .gguf/.onnx file).

    With ``oms_bundle`` (an OpenSSF model signing bundle) and ``oms_trust``
    (:class:`modelkin.oms.Trust`), the bundle is verified offline and must sign exactly the
    registered files; the manifest then leaves out the bundle file and the paths the
    signer's bundle ignores, and the record carries the signer (re-verified by the
    registry from the blob store).

    ``declared`` adds the optional declarations of model-v1 (``task``, ``library``,
    ``languages``, ``contact``, ``description``, ``hub_id``, ``download_location``,
    ``released_at``, ``hyperparameters``, ``evaluation``); None values are left out."""
    path = Path(model_dir)
    files = scan_directory(path)
    oms: dict[str, Any] | None = None
    if oms_bundle is not None:
        files, oms = _verify_oms(registry, path, files, Path(oms_bundle), oms_trust)
    digest = manifest_digest(files)
    fp_ref: dict[str, Any] | None = None
    structure: dict[str, Any] | None = None
    problem: str | None = None
    if fingerprint:
        fp_ref, structure, problem = fingerprint_into_blobs(registry, path, digest, name)
    pred = {
        "name": name,
        "version": version,
        "organisation": organisation,
        "license": license,
        "intended_use": intended_use,
        "out_of_scope": out_of_scope,
        "limitations": limitations,
        "format": _format_of(path),
        "manifest": {"method": MANIFEST_METHOD, "files": files},
        "fingerprint": fp_ref,
        "structure": structure,
    }
    if oms is not None:
        pred["oms"] = oms
    for key, value in (declared or {}).items():
        if key not in MODEL_DECLARATIONS:
            raise ModelkinError(
                key, f"not a model declaration (one of {', '.join(MODEL_DECLARATIONS)})"
            )
        if value not in (None, [], {}):
            pred[key] = value
    receipt = submit_predicate(registry, identity, "model", [(name, digest)], pred)
    if problem:
        receipt.warnings.append(problem)
    return receipt


def _verify_oms(
    registry: Registry, path: Path, files: list[dict[str, Any]], bundle_path: Path, trust: Any
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(manifest files, ``oms`` record) after verifying the bundle against ``files``."""
    from modelkin.oms import Trust, is_ignored, summary, verify_for_registration

    trust = trust if trust is not None else Trust()
    inside: list[str] = []
    with contextlib.suppress(ValueError):
        inside = [bundle_path.resolve().relative_to(path.resolve()).as_posix()]
    bundle, verified = verify_for_registration(bundle_path, files, trust, inside)
    ignored = (*verified.model.ignore_paths, *inside)
    kept = [f for f in files if not is_ignored(str(f["name"]), ignored)]
    registry.blobs.put_bytes(bundle.raw)
    record = summary(verified, bundle)
    if trust.material is not None and verified.method != "key":
        record["trust"] = registry.blobs.put_bytes(trust.material)
    return kept, record


def _format_of(path: Path) -> str:
    if path.is_file():
        return path.suffix.lstrip(".").lower() or "file"
    suffixes = {p.suffix.lower() for p in path.rglob("*") if p.is_file()}
    for fmt in (".safetensors", ".gguf", ".onnx", ".bin", ".pt"):
        if fmt in suffixes:
            return "hf-" + fmt.lstrip(".") if (path / "config.json").exists() else fmt.lstrip(".")
    return "directory"


def register_dataset(registry: Registry, identity: Identity, predicate: dict[str, Any]) -> Receipt:
    """Register a dataset predicate (from :mod:`.datasets`, :mod:`.croissant` or :mod:`.hfcard`)."""
    root = predicate["manifest"]["merkle_root"]
    return submit_predicate(registry, identity, "dataset", [(predicate["name"], root)], predicate)


def resolve_digest(registry: Registry, ref: str, kind: str) -> tuple[str, str | None]:
    """(digest, name) for a registered record ref, or a raw digest (accepted as dangling)."""
    try:
        rec = registry.record(ref, kind)
    except ModelkinError:
        if is_sha256_hex(ref):
            return ref, None
        raise
    assert rec.digest is not None
    return rec.digest, rec.name


def register_training_run(
    registry: Registry,
    identity: Identity,
    *,
    name: str,
    hardware_kind: str,
    hardware_count: int,
    started_at: str,
    ended_at: str,
    output: str,
    input_models: list[str] | None = None,
    datasets: list[str] | None = None,
    accelerator_hours: float | None = None,
    flops: float | None = None,
    energy_kwh: float | None = None,
    location: str | None = None,
    organisation: str | None = None,
    loss_curve: Path | None = None,
) -> Receipt:
    """Register compute: inputs and output by registered name/id or raw digest."""
    out_digest, out_name = resolve_digest(registry, output, "model")
    curve = None
    if loss_curve is not None:
        curve_path = Path(loss_curve)
        blob = registry.blobs.put_file(curve_path)
        curve = {
            "sha256": blob,
            "name": curve_path.name,
            "size": curve_path.stat().st_size,
            "format": curve_path.suffix.lstrip(".") or None,
        }
    pred = {
        "name": name,
        "organisation": organisation,
        "hardware": {"kind": hardware_kind, "count": hardware_count},
        "accelerator_hours": accelerator_hours,
        "flops": flops,
        "energy_kwh": energy_kwh,
        "location": location,
        "started_at": started_at,
        "ended_at": ended_at,
        "inputs": {
            "models": [_ref(registry, m, "model") for m in input_models or []],
            "datasets": [_ref(registry, d, "dataset") for d in datasets or []],
        },
        "output": {"sha256": out_digest, **({"name": out_name} if out_name else {})},
        "loss_curve": curve,
    }
    return submit_predicate(
        registry, identity, "training-run", [(out_name or name, out_digest)], pred
    )


def _ref(registry: Registry, ref: str, kind: str) -> dict[str, Any]:
    digest, name = resolve_digest(registry, ref, kind)
    return {"sha256": digest, **({"name": name} if name else {})}


#: derivation-v1's relations (the schema enforces the same list).
RELATIONS = (
    "finetune", "continued_pretraining", "quantized", "merge", "adapter", "pruned",
    "distilled", "converted", "none",
)  # fmt: skip


def check_derivation_claim(relation: str, parents: list[str]) -> None:
    """Refuse, in words, a relation that is not known or does not fit the parents."""
    if relation not in RELATIONS:
        raise ModelkinError(
            "--relation", f"unknown relation {relation!r}: use one of {', '.join(RELATIONS)}"
        )
    if relation == "none" and parents:
        raise ModelkinError(
            "--relation none",
            "claims the model was trained from scratch, so it takes no parent: drop "
            "--parent, or name how it derives from the parent (e.g. --relation finetune)",
        )
    if relation != "none" and not parents:
        raise ModelkinError(
            f"--relation {relation}",
            "needs the model it derives from: add --parent NAME (or use --relation none "
            "to claim the model was trained from scratch)",
        )


def register_derivation(
    registry: Registry,
    identity: Identity,
    *,
    child: str,
    parents: list[str],
    relation: str,
    notes: str | None = None,
) -> Receipt:
    """Claim ``child`` derives from ``parents`` by ``relation`` ("none": from scratch).

    The relation and the parents are checked here first, so a mistake is answered with a
    sentence saying what to change rather than with the schema's wording."""
    check_derivation_claim(relation, parents)
    child_ref = _ref(registry, child, "model")
    pred = {
        "child": child_ref,
        "parents": [_ref(registry, p, "model") for p in parents],
        "relation": relation,
        "notes": notes,
    }
    return submit_predicate(
        registry,
        identity,
        "derivation",
        [(child_ref.get("name", "child"), child_ref["sha256"])],
        pred,
    )


def register_product(
    registry: Registry,
    identity: Identity,
    *,
    name: str,
    organisation: str,
    models: list[str],
    version: str | None = None,
    url: str | None = None,
    description: str | None = None,
) -> Receipt:
    """A deployed product naming the models it ships."""
    refs = [_ref(registry, m, "model") for m in models]
    pred = {
        "name": name,
        "organisation": organisation,
        "version": version,
        "url": url,
        "description": description,
        "models": [
            {**r, "role": None} if "name" in r else {**r, "name": None, "role": None} for r in refs
        ],
    }
    return submit_predicate(
        registry, identity, "product", [(r.get("name") or "model", r["sha256"]) for r in refs], pred
    )


def amend(
    registry: Registry,
    identity: Identity,
    record: str,
    changes: dict[str, Any],
    reason: str,
) -> Receipt:
    """Replace fields of an active record's predicate (same signer only)."""
    rec = registry.record(record)
    new = {**rec.predicate, **changes}
    pred = {
        "target": {"record": rec.id, "ledger_index": rec.ledger_index},
        "reason": reason,
        "predicate": new,
    }
    return submit_predicate(registry, identity, "amendment", [("record", rec.id)], pred)


def withdraw(registry: Registry, identity: Identity, record: str, reason: str) -> Receipt:
    """Withdraw an active record (same signer only); it stays in the ledger."""
    rec = registry.record(record)
    pred = {"target": {"record": rec.id, "ledger_index": rec.ledger_index}, "reason": reason}
    return submit_predicate(registry, identity, "withdrawal", [("record", rec.id)], pred)
