"""C2PA: read an AI-use disclosure from a file's manifest; build and embed one.

Reading uses ``c2pa-python``'s ``Reader`` offline (no remote manifest fetch, no OCSP) with
optional extra trust anchors, so a self-issued test certificate can read back as trusted.
The disclosure comes from the active manifest's ``c2pa.actions`` / ``c2pa.actions.v2``
assertions (C2PA 2.x, "Actions": ``action``, ``digitalSourceType``, ``softwareAgent``), and
from modelkin's own ``org.modelkin.ai-use`` assertion (entity-specific label, C2PA 2.x
"Labels") when present, which carries what actions cannot say (the share, the human part).
Where the two disagree that is reported, not resolved.

Trust. Every manifest is validated by ``c2pa-python`` offline against the trust anchors the
user supplies (a PEM bundle; ``--trust-anchors`` or ``$MODELKIN_C2PA_TRUST_ANCHORS``). The
default list is **empty**: the C2PA conformance trust list is published online and cannot be
fetched here, so without anchors every intact manifest reads as ``Valid`` but untrusted.
``Invalid`` manifests (a data hash that does not match the file, a broken signature) are
refused with their failure codes; untrusted ones are kept only as an *unverified disclosure*,
and every output says so. Nothing modelkin infers from a manifest (e.g. "wholly AI-generated"
from ``trainedAlgorithmicMedia``) is stored as if the manifest had declared it.

Integrity before manifests: a PNG must be a complete chunk sequence with valid CRCs ending in
IEND, a JPEG must start with SOI and end with EOI; a truncated file is an error, never "no
manifest".
"""

from __future__ import annotations

import dataclasses
import io
import json
import mimetypes
import os
import struct
import zlib
from dataclasses import dataclass, field
from importlib import metadata
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
#: Where the user's default trust anchors (PEM bundle) are looked for; unset = none.
TRUST_ENV = "MODELKIN_C2PA_TRUST_ANCHORS"
#: What a reading says about trust, for every output.
UNVERIFIED = "unverified disclosure: the C2PA manifest is intact but its signer is not trusted"
_MAX_PNG_CHUNK = 1 << 31


class ManifestInvalid(ModelkinError):
    """The file's C2PA manifest failed validation (tampered or broken): refused."""


@dataclass(frozen=True)
class ManifestReading:
    """What a file's active C2PA manifest says about AI use, and whether to believe it.

    ``validation_state`` is c2pa's (``Trusted``, ``Valid`` = intact but signer not trusted);
    ``Invalid`` manifests never make a reading (they raise :class:`ManifestInvalid`)."""

    disclosure: Disclosure
    terms: list[str]
    title: str | None
    signer: str | None
    validation_failures: list[str] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    validation_state: str = "Valid"
    actions: list[str] = field(default_factory=list)
    ingredients: int = 0

    @property
    def trusted(self) -> bool:
        return self.validation_state == "Trusted"

    @property
    def trust(self) -> str:
        """``trusted`` or ``unverified``, as outputs print it."""
        return "trusted" if self.trusted else "unverified"

    def evidence(self) -> dict[str, Any]:
        """The manifest evidence stored with a registered work (``ai_use.c2pa``)."""
        return {
            "validation_state": self.validation_state,
            "trusted": self.trusted,
            "signer": self.signer,
            "failures": self.validation_failures[:100],
            "digital_source_types": self.terms[:100],
            "actions": self.actions[:100],
            "ingredients": self.ingredients,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "disclosure": self.disclosure.to_dict(),
            "digital_source_types": self.terms,
            "title": self.title,
            "signer": self.signer,
            "validation_state": self.validation_state,
            "trust": self.trust,
            "validation_failures": self.validation_failures,
            "contradictions": self.contradictions,
            "actions": self.actions,
            "ingredients": self.ingredients,
        }


def default_trust_anchors() -> str | None:
    """The PEM bundle named by ``$MODELKIN_C2PA_TRUST_ANCHORS``; None (no anchors) if unset."""
    path = os.environ.get(TRUST_ENV)
    if not path:
        return None
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelkinError(f"${TRUST_ENV}={path}", f"cannot read trust anchors: {exc}") from exc


def modelkin_version() -> str:
    """The installed package's version (claim_generator_info), never a hard-coded string."""
    try:
        return metadata.version("modelkin")
    except metadata.PackageNotFoundError:  # running from a source tree without metadata
        return "0+unknown"


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
    actions: list[str] = []
    for a in m.get("assertions", []):
        label = a.get("label", "")
        data = a.get("data") or {}
        if label == MODELKIN_ASSERTION and isinstance(data, dict):
            custom = data
        if label not in ACTIONS_LABELS:
            continue
        for act in data.get("actions", []):
            actions.append(str(act.get("action")))
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
    # Only what the actions say: no share is inferred here (normalisation infers, and says so).
    from_actions = Disclosure(systems=tuple(systems), source="c2pa")
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
        validation_state=str(store.get("validation_state") or "Valid"),
        actions=actions,
        ingredients=len(m.get("ingredients") or []),
    )


def check_integrity(path: Path, data: bytes) -> None:
    """A PNG/JPEG that is cut short or corrupt is an error naming the file, never 'no
    manifest': PNG chunks are walked with bounded lengths and CRCs up to IEND; a JPEG must
    begin with SOI and end with EOI."""
    mt = media_type(path)
    if mt == "image/png":
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            raise ModelkinError(path, "not a PNG file (bad signature)")
        pos = 8
        while True:
            if pos + 12 > len(data):
                raise ModelkinError(path, f"truncated PNG: chunk header cut off at byte {pos}")
            (length,) = struct.unpack(">I", data[pos : pos + 4])
            ctype = data[pos + 4 : pos + 8]
            if length >= _MAX_PNG_CHUNK or pos + 12 + length > len(data):
                raise ModelkinError(
                    path, f"truncated PNG: chunk {ctype!r} at byte {pos} runs past the end"
                )
            body = data[pos + 4 : pos + 8 + length]
            (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
            if zlib.crc32(body) != crc:
                raise ModelkinError(path, f"corrupt PNG: chunk {ctype!r} at byte {pos} fails CRC")
            pos += 12 + length
            if ctype == b"IEND":
                return
    elif mt == "image/jpeg":
        if data[:2] != b"\xff\xd8":
            raise ModelkinError(path, "not a JPEG file (no SOI marker)")
        if data.rstrip(b"\x00")[-2:] != b"\xff\xd9":
            raise ModelkinError(path, "truncated JPEG: no EOI marker at the end")


def read_manifest(path: Path, trust_anchors_pem: str | None = None) -> ManifestReading | None:
    """The disclosure in ``path``'s C2PA manifest, or None when the (intact) file has none.

    Raises :class:`ManifestInvalid` naming the failure codes when validation fails."""
    if not path.is_file():
        raise ModelkinError(path, "no such file")
    if path.stat().st_size > MAX_MEDIA_BYTES:
        raise ModelkinError(path, "file larger than 512 MiB; not reading its manifest")
    mt = media_type(path)
    data = path.read_bytes()
    check_integrity(path, data)
    anchors = trust_anchors_pem if trust_anchors_pem is not None else default_trust_anchors()
    try:
        reader = c2pa.Reader(mt, io.BytesIO(data), context=_context(anchors))
        text = reader.json()
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "ManifestNotFound" in str(exc):
            return None
        raise ModelkinError(path, f"cannot read C2PA manifest: {exc}") from exc
    try:
        store = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelkinError(path, "C2PA reader returned malformed JSON") from exc
    state = store.get("validation_state")
    results = (store.get("validation_results") or {}).get("activeManifest", {})
    codes = [str(f.get("code")) for f in results.get("failure", [])]
    if state == "Invalid" or state not in ("Trusted", "Valid"):
        named = ", ".join(codes) or f"validation state {state!r}"
        raise ManifestInvalid(path, f"C2PA manifest is invalid and was refused: {named}")
    return reading_from_store(store, str(path))


@dataclass(frozen=True)
class Ingredient:
    """A file the work was made from: its ``parent`` (the asset that was opened and edited)
    or a ``component`` placed into a composite."""

    path: Path
    relationship: str  # "parentOf" | "componentOf"

    @property
    def instance_id(self) -> str:
        return f"{self.relationship}:{self.path.name}"


def _agent(s: AISystem) -> dict[str, Any]:
    return {"name": s.name, **({"version": s.version} if s.version else {})}


def actions_assertion(
    work: Work, classification: Classification, ingredients: list[Ingredient] | None = None
) -> dict[str, Any]:
    """A ``c2pa.actions.v2`` assertion saying how the work was made (C2PA 2.x "Actions").

    * A new work: ``c2pa.created`` with the tier's digitalSourceType (and the generating
      system as ``softwareAgent``).
    * An edit of an existing asset (a ``parentOf`` ingredient): ``c2pa.opened`` of the parent,
      then ``c2pa.edited`` by each AI system; never ``c2pa.created``.
    * A composite (``componentOf`` ingredients): ``c2pa.created`` with
      ``compositeWithTrainedAlgorithmicMedia`` when AI material is in it, and a
      ``c2pa.placed`` action for each component.
    Editing/assisting systems get ``c2pa.edited`` either way."""
    ings = ingredients or []
    parents = [i for i in ings if i.relationship == "parentOf"]
    parts = [i for i in ings if i.relationship == "componentOf"]
    if len(parents) > 1:
        raise ModelkinError("--parent", "a work has at most one parent ingredient")
    tier = classification.tier
    term = classification.digital_source_type
    if parts and tier != "human" and tier_for_term(term) != "ai-assisted":
        term = "compositeWithTrainedAlgorithmicMedia"
    elif parts and tier == "human":
        term = "composite"
    systems = list(work.disclosure.active_systems)
    generators = [s for s in systems if s.role == "generated"]
    actions: list[dict[str, Any]] = []
    used: list[AISystem] = []
    if parents:
        actions.append(
            {"action": "c2pa.opened", "parameters": {"ingredientIds": [parents[0].instance_id]}}
        )
    else:
        created: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": term_uri(term)}
        first = (generators or systems)[:1]
        if first:
            created["softwareAgent"] = _agent(first[0])
            used.append(first[0])
        actions.append(created)
    for part in parts:
        actions.append(
            {"action": "c2pa.placed", "parameters": {"ingredientIds": [part.instance_id]}}
        )
    for s in systems:
        if s in used:
            continue
        edit_term = "trainedAlgorithmicMedia" if s.role == "generated" else term
        if tier_for_term(edit_term) == "human":
            edit_term = "compositeWithTrainedAlgorithmicMedia"
        actions.append(
            {
                "action": "c2pa.edited",
                "digitalSourceType": term_uri(
                    "compositeWithTrainedAlgorithmicMedia" if parents else edit_term
                ),
                "softwareAgent": _agent(s),
            }
        )
    if parents and len(actions) == 1:
        actions.append({"action": "c2pa.edited", "digitalSourceType": term_uri(term)})
    return {"label": "c2pa.actions.v2", "data": {"actions": actions}}


def manifest_definition(
    work: Work, classification: Classification, ingredients: list[Ingredient] | None = None
) -> dict[str, Any]:
    """The manifest definition ``c2pa.Builder`` takes: actions + modelkin's ai-use assertion.

    The ai-use assertion carries only what the creator declared (plus the tier's term);
    ``claim_generator_info`` names the installed modelkin version."""
    ai_use = work.disclosure.to_dict()
    ai_use.pop("source")
    ai_use.pop("c2pa", None)
    ai_use["digital_source_type"] = classification.digital_source_type
    return {
        "claim_generator_info": [{"name": "modelkin", "version": modelkin_version()}],
        "title": work.title,
        "assertions": [
            actions_assertion(work, classification, ingredients),
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
    ingredients: list[Ingredient] | None = None,
    tsa_url: str | None = None,
) -> None:
    """Sign the disclosure as a C2PA manifest and embed it into a copy of ``src`` at ``dst``.

    ``cert_chain_pem`` is the signing certificate followed by its issuers (C2PA 2.x,
    "Trust model": end-entity cert with digitalSignature key usage and an allowed EKU).
    ``tsa_url`` (or ``$MODELKIN_C2PA_TSA_URL``) names an RFC 3161 time-stamp authority: the
    signature then carries its time-stamp token, and if the authority cannot be reached or
    refuses, signing fails; a time-stamp is never made up or silently left out."""
    if src.stat().st_size > MAX_MEDIA_BYTES:
        raise ModelkinError(src, "file larger than 512 MiB")
    mt = media_type(src)
    tsa = tsa_url or os.environ.get("MODELKIN_C2PA_TSA_URL") or None
    if tsa is not None and not tsa.startswith(("http://", "https://")):
        raise ModelkinError("--tsa-url", f"{tsa!r} is not an http(s) URL")
    definition = manifest_definition(work, classification, ingredients)
    try:
        info = c2pa.C2paSignerInfo(
            alg=alg.encode(), sign_cert=cert_chain_pem, private_key=private_key_pem, ta_url=tsa
        )
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(definition, context=_context(None))
        for ing in ingredients or []:
            if not ing.path.is_file():
                raise ModelkinError(ing.path, "no such ingredient file")
            if ing.path.stat().st_size > MAX_MEDIA_BYTES:
                raise ModelkinError(ing.path, "ingredient larger than 512 MiB")
            check_integrity(ing.path, ing.path.read_bytes())
            meta = {
                "title": ing.path.name,
                "relationship": ing.relationship,
                "instance_id": ing.instance_id,
                "label": ing.instance_id,
            }
            with ing.path.open("rb") as fh:
                builder.add_ingredient(meta, media_type(ing.path), fh)
        out = io.BytesIO()
        with src.open("rb") as fh:
            builder.sign(signer, mt, fh, out)
    except c2pa.C2paError as exc:
        where = f"time-stamp authority {tsa}" if tsa and "status" in str(exc) else src
        raise ModelkinError(where, f"C2PA signing failed: {exc}") from exc
    dst.write_bytes(out.getvalue())


def fill_from_manifest(work: Work, reading: ManifestReading | None) -> Work:
    """``work`` with the manifest's evidence attached (validation state, trust, terms), and
    its disclosure taken from the manifest when the creator declared none.

    What is taken is only what the manifest says (systems and, from modelkin's own
    assertion, a share): nothing inferred from it is stored as declared."""
    if reading is None:
        return work
    d = work.disclosure
    if d.stated:
        return dataclasses.replace(work, disclosure=dataclasses.replace(d, c2pa=reading.evidence()))
    taken = dataclasses.replace(reading.disclosure, source="c2pa", c2pa=reading.evidence())
    return dataclasses.replace(work, disclosure=taken)
