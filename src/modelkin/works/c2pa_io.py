"""C2PA: read an AI-use disclosure from a file's manifest; build and embed one.

Reading uses ``c2pa-python``'s ``Reader`` offline (no remote manifest fetch, no OCSP) with
optional extra trust anchors, so a self-issued test certificate can read back as trusted.
The disclosure comes from the active manifest's ``c2pa.actions`` / ``c2pa.actions.v2``
assertions (C2PA 2.x, "Actions": ``action``, ``digitalSourceType``, ``softwareAgent``), and
from modelkin's own ``org.modelkin.ai-use`` assertion (entity-specific label, C2PA 2.x
"Labels") when present, which carries what actions cannot say (the share, the human part).
Where the two disagree that is reported, not resolved.
"""

from __future__ import annotations

import dataclasses
import io
import json
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import c2pa

from modelkin.errors import ModelkinError
from modelkin.works.classify import Classification
from modelkin.works.iptc import short_term, term_uri, tier_for_term
from modelkin.works.record import AISystem, Disclosure, Work, disclosure_from_dict

MODELKIN_ASSERTION = "org.modelkin.ai-use"
ACTIONS_LABELS = ("c2pa.actions", "c2pa.actions.v2")
MAX_MEDIA_BYTES = 512 << 20
_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


@dataclass(frozen=True)
class ManifestReading:
    """What a file's active C2PA manifest says about AI use."""

    disclosure: Disclosure
    terms: list[str]
    title: str | None
    signer: str | None
    validation_failures: list[str] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "disclosure": self.disclosure.to_dict(),
            "digital_source_types": self.terms,
            "title": self.title,
            "signer": self.signer,
            "validation_failures": self.validation_failures,
            "contradictions": self.contradictions,
        }


def _context(trust_anchors_pem: str | None) -> Any:
    settings: dict[str, Any] = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors_pem:
        settings["trust"] = {"user_anchors": trust_anchors_pem}
    return c2pa.Context.from_dict(settings)


def media_type(path: Path) -> str:
    """The MIME type c2pa needs, from the file name."""
    mt = _MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    if mt is None:
        raise ModelkinError(path, "cannot tell the media type from the file name")
    return mt


def _role(action: str, term: str | None) -> str:
    """C2PA action + source type -> our coarse role."""
    tier = tier_for_term(term) if term else None
    if action == "c2pa.created" and tier == "ai-generated":
        return "generated"
    if tier in ("ai-generated", "ai-assisted"):
        return "generated" if action == "c2pa.created" else "edited"
    return "assisted"


def reading_from_store(store: dict[str, Any], where: str) -> ManifestReading | None:
    """Interpret ``Reader.json()`` output (a manifest store); None if it has no manifest."""
    active = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    if not active or active not in manifests:
        return None
    m = manifests[active]
    terms: list[str] = []
    systems: list[AISystem] = []
    custom: dict[str, Any] | None = None
    unknown: list[str] = []
    for a in m.get("assertions", []):
        label = a.get("label", "")
        data = a.get("data") or {}
        if label == MODELKIN_ASSERTION and isinstance(data, dict):
            custom = data
        if label not in ACTIONS_LABELS:
            continue
        for act in data.get("actions", []):
            dst = act.get("digitalSourceType")
            term = None
            if isinstance(dst, str):
                try:
                    term = short_term(dst, where)
                except ModelkinError:  # another vocabulary: report it, do not guess
                    unknown.append(dst)
            if term:
                terms.append(term)
            agent = act.get("softwareAgent")
            name = agent.get("name") if isinstance(agent, dict) else agent
            version = agent.get("version") if isinstance(agent, dict) else None
            is_ai = term is not None and tier_for_term(term) in ("ai-generated", "ai-assisted")
            if isinstance(name, str) and is_ai:
                systems.append(AISystem(name, _role(str(act.get("action")), term), version))
    from_actions = Disclosure(
        systems=tuple(systems),
        ai_share=1.0 if terms and all(tier_for_term(t) == "ai-generated" for t in terms) else None,
        digital_source_type=terms[0] if terms else None,
        source="c2pa",
    )
    flags = [f"digitalSourceType {u!r} is not an IPTC term" for u in unknown[:10]]
    disclosure = from_actions
    if custom is not None:
        disclosure = disclosure_from_dict(
            dict(custom, source="c2pa"), f"{where}: {MODELKIN_ASSERTION}"
        )
        dst = disclosure.digital_source_type
        if dst and terms and short_term(dst) not in terms:
            flags.append(
                f"{MODELKIN_ASSERTION} says {short_term(dst)} but the actions say {', '.join(terms)}"
            )
    failures = [
        f"{f.get('code')}: {f.get('explanation')}"
        for f in (store.get("validation_results") or {})
        .get("activeManifest", {})
        .get("failure", [])
    ]
    sig = m.get("signature_info") or {}
    return ManifestReading(
        disclosure=disclosure,
        terms=terms,
        title=m.get("title"),
        signer=sig.get("common_name") or sig.get("issuer"),
        validation_failures=failures,
        contradictions=flags,
    )


def read_manifest(path: Path, trust_anchors_pem: str | None = None) -> ManifestReading | None:
    """The disclosure in ``path``'s C2PA manifest, or None when the file has none."""
    if not path.is_file():
        raise ModelkinError(path, "no such file")
    if path.stat().st_size > MAX_MEDIA_BYTES:
        raise ModelkinError(path, "file larger than 512 MiB; not reading its manifest")
    mt = media_type(path)
    try:
        with path.open("rb") as fh:
            reader = c2pa.Reader(mt, fh, context=_context(trust_anchors_pem))
            text = reader.json()
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in str(exc):
            return None
        raise ModelkinError(path, f"cannot read C2PA manifest: {exc}") from exc
    try:
        store = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelkinError(path, "C2PA reader returned malformed JSON") from exc
    return reading_from_store(store, str(path))


def actions_assertion(work: Work, classification: Classification) -> dict[str, Any]:
    """A ``c2pa.actions.v2`` assertion: ``c2pa.created`` with the tier's digitalSourceType and,
    for each AI system, its ``softwareAgent``; editing systems get ``c2pa.edited``."""
    uri = term_uri(classification.digital_source_type)
    systems = work.disclosure.active_systems
    creators = [s for s in systems if s.role == "generated"] or list(systems[:1])
    created: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": uri}
    if creators:
        agent: dict[str, Any] = {"name": creators[0].name}
        if creators[0].version:
            agent["version"] = creators[0].version
        created["softwareAgent"] = agent
    actions = [created]
    for s in systems:
        if s in creators[:1]:
            continue
        act: dict[str, Any] = {
            "action": "c2pa.edited",
            "digitalSourceType": term_uri("compositeWithTrainedAlgorithmicMedia"),
            "softwareAgent": {"name": s.name, **({"version": s.version} if s.version else {})},
        }
        actions.append(act)
    return {"label": "c2pa.actions.v2", "data": {"actions": actions}}


def manifest_definition(work: Work, classification: Classification) -> dict[str, Any]:
    """The manifest definition ``c2pa.Builder`` takes: actions + modelkin's ai-use assertion."""
    ai_use = work.disclosure.to_dict()
    ai_use.pop("source")
    ai_use["digital_source_type"] = classification.digital_source_type
    return {
        "claim_generator_info": [{"name": "modelkin", "version": "0.1"}],
        "title": work.title,
        "assertions": [
            actions_assertion(work, classification),
            {"label": MODELKIN_ASSERTION, "data": ai_use},
        ],
    }


def embed_manifest(
    work: Work,
    classification: Classification,
    src: Path,
    dst: Path,
    cert_chain_pem: bytes,
    private_key_pem: bytes,
    alg: str = "es256",
) -> None:
    """Sign the disclosure as a C2PA manifest and embed it into a copy of ``src`` at ``dst``.

    ``cert_chain_pem`` is the signing certificate followed by its issuers (C2PA 2.x,
    "Trust model": end-entity cert with digitalSignature key usage and an allowed EKU)."""
    if src.stat().st_size > MAX_MEDIA_BYTES:
        raise ModelkinError(src, "file larger than 512 MiB")
    mt = media_type(src)
    try:
        info = c2pa.C2paSignerInfo(
            alg=alg.encode(), sign_cert=cert_chain_pem, private_key=private_key_pem, ta_url=None
        )
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(manifest_definition(work, classification), context=_context(None))
        out = io.BytesIO()
        with src.open("rb") as fh:
            builder.sign(signer, mt, fh, out)
    except c2pa.C2paError as exc:
        raise ModelkinError(src, f"C2PA signing failed: {exc}") from exc
    dst.write_bytes(out.getvalue())


def fill_from_manifest(work: Work, reading: ManifestReading | None) -> Work:
    """``work`` with its disclosure taken from the manifest when the creator declared none."""
    d = work.disclosure
    if reading is None or d.systems or d.ai_share is not None or d.digital_source_type:
        return work
    return dataclasses.replace(work, disclosure=reading.disclosure)
