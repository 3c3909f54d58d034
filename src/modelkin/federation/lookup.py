"""Answers that prove themselves: a registered record, its ledger entry and proofs.

An answer is JSON::

    {"registry": URL, "origin": "<log origin>", "record": {id, kind, name, ...},
     "ledger_index": i, "entry": base64(leaf bytes), "envelope": {...} (bounded leaves only),
     "tlog_proof": "c2sp.org/tlog-proof@v1 ... <witnessed checkpoint with cosignatures>"}

:func:`verify_answer` checks, with nothing but the client's policy: the checkpoint is
signed by a log of the policy and cosigned by a quorum of its witnesses; the entry is
included at ``ledger_index`` in that tree; the entry is a registry leaf whose DSSE
payload is an in-toto statement whose SHA-256 is the record id and whose subjects hold
the digest asked for. What it does not check: the DSSE signature (the signer's key is a
separate identity record of that log, checked by the registry at submission) and, for
fingerprint neighbours, the similarity score itself (computed by the peer; the proof
shows the candidate record exists in the peer's witnessed log, not that it is similar).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from modelkin.errors import LedgerError, ModelkinError
from modelkin.ledger import merkle as mk
from modelkin.ledger.policy import Trust
from modelkin.ledger.tlogproof import format_proof, parse_proof

Answer = dict[str, Any]
ProofSource = Callable[[int], tuple[str, int]]
"""``source(min_size)``: a checkpoint note covering ``min_size`` entries and its size
(the witnessed one when it does, else the latest)."""
MAX_ANSWERS = 100
LEAF_FULL, LEAF_REF = "modelkin/dsse", "modelkin/dsse-ref"


def _summary(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "name": record.name,
        "version": record.version,
        "organisation": record.organisation,
        "status": record.status,
        "subjects": [{"name": n, "sha256": d} for n, d in record.subjects],
    }


def answer_for_record(registry: Any, record: Any, proofs: ProofSource) -> Answer:
    """The self-proving answer for one registry record (see module docstring)."""
    index = int(record.ledger_index)
    ledger = registry.ledger
    entry = bytes(ledger.entry(index))
    note, size = proofs(index + 1)
    proof = ledger.inclusion_proof(index, size)
    out: Answer = {
        "origin": note.split("\n", 1)[0],
        "record": _summary(record),
        "ledger_index": index,
        "entry": base64.b64encode(entry).decode("ascii"),
        "tlog_proof": format_proof(index, proof, note),
    }
    try:
        leaf = json.loads(entry)
    except ValueError:
        leaf = None
    if isinstance(leaf, dict) and leaf.get("type") == LEAF_REF:
        out["envelope"] = record.envelope  # the leaf holds only its digest
    return out


def local_answers(registry: Any, digest: str, proofs: ProofSource) -> list[Answer]:
    """Answers for every active model record with subject ``digest`` in this registry."""
    digest = digest.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ModelkinError("digest", "a SHA-256 digest is 64 hex digits")
    found = [
        r
        for r in registry.search(digest, "model")
        if r.status == "active" and any(d == digest for _, d in r.subjects)
    ]
    return [answer_for_record(registry, r, proofs) for r in found[:MAX_ANSWERS]]


@dataclass(frozen=True)
class VerifiedAnswer:
    """What a client established from an answer, under its own policy."""

    registry: str
    origin: str
    record_id: str
    kind: str
    name: str | None
    organisation: str | None
    ledger_index: int
    tree_size: int
    vouched_by: tuple[str, ...]
    policy: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "origin": self.origin,
            "record_id": self.record_id,
            "kind": self.kind,
            "name": self.name,
            "organisation": self.organisation,
            "ledger_index": self.ledger_index,
            "tree_size": self.tree_size,
            "vouched_by": list(self.vouched_by),
            "policy": self.policy,
        }


def _b64(text: object, where: str) -> bytes:
    if not isinstance(text, str) or len(text) > 200_000:
        raise LedgerError(where, "missing or oversized base64 entry")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LedgerError(where, "entry is not base64") from exc


def _statement(entry: bytes, answer: Answer, where: str) -> dict[str, Any]:
    """The in-toto statement the logged leaf commits to."""
    from modelkin.statements.canonical import json_digest
    from modelkin.statements.dsse import envelope_payload

    try:
        leaf = json.loads(entry)
    except ValueError as exc:
        raise LedgerError(where, "the logged entry is not JSON (not a registry leaf)") from exc
    if not isinstance(leaf, dict):
        raise LedgerError(where, "the logged entry is not a registry leaf")
    if leaf.get("type") == LEAF_FULL:
        envelope = leaf.get("envelope")
    elif leaf.get("type") == LEAF_REF:
        envelope = answer.get("envelope")
        try:
            same = json_digest(envelope) == leaf.get("envelope_sha256")
        except ModelkinError:
            same = False
        if not same:
            raise LedgerError(where, "the envelope does not match the digest the leaf logs")
    else:
        raise LedgerError(where, "the logged entry is not a registry leaf")
    try:
        _, statement = envelope_payload(envelope, where)
    except ModelkinError as exc:
        raise LedgerError(where, f"the logged envelope is malformed: {exc.problem}") from exc
    return statement


def verify_answer(
    answer: Answer, policy: Trust, digest: str | None = None, record_id: str | None = None
) -> VerifiedAnswer:
    """Verify one answer under ``policy`` (see module docstring); raises
    :class:`LedgerError` saying what does not hold."""
    from modelkin.statements.canonical import json_digest

    registry = str(answer.get("registry", "?"))
    where = f"answer from {registry}"
    text = answer.get("tlog_proof")
    if not isinstance(text, str):
        raise LedgerError(where, "no tlog_proof")
    proof = parse_proof(text, where)
    verdict = policy.require(proof.checkpoint, where)
    cp = verdict.checkpoint
    entry = _b64(answer.get("entry"), where)
    if proof.index != answer.get("ledger_index"):
        raise LedgerError(where, "the proof is for another index than the answer names")
    if not mk.verify_inclusion(mk.leaf_hash(entry), proof.index, cp.size, proof.proof, cp.root):
        raise LedgerError(where, f"entry {proof.index} is not included in the witnessed tree")
    statement = _statement(entry, answer, where)
    rid = json_digest(statement)
    record = answer.get("record") or {}
    if record.get("id") != rid:
        raise LedgerError(where, "the record id is not the digest of the logged statement")
    if record_id is not None and rid != record_id:
        raise LedgerError(where, f"the logged statement is record {rid}, not {record_id}")
    subjects = statement.get("subject") or []
    digests = {s.get("digest", {}).get("sha256") for s in subjects if isinstance(s, dict)}
    if digest is not None and digest.lower() not in digests:
        raise LedgerError(where, f"the logged statement has no subject with digest {digest}")
    return VerifiedAnswer(
        registry=registry,
        origin=cp.origin,
        record_id=rid,
        kind=str(record.get("kind")),
        name=record.get("name"),
        organisation=record.get("organisation"),
        ledger_index=proof.index,
        tree_size=cp.size,
        vouched_by=tuple(sorted(verdict.vouched)),
        policy=policy.digest,
    )


def _get_json(client: Any, url: str, params: dict[str, Any] | None = None) -> Any:
    import httpx

    try:
        r = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise LedgerError(url, f"cannot reach the peer ({exc})") from exc
    if r.status_code != 200:
        raise LedgerError(url, f"HTTP {r.status_code}: {r.text[:200]}")
    try:
        return r.json()
    except ValueError as exc:
        raise LedgerError(url, "the peer's answer is not JSON") from exc


def federated_lookup(
    local: list[Answer],
    self_url: str,
    peers: list[str],
    digest: str,
    policy: Trust,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """This registry's answers plus every peer's, each verified here under ``policy``
    (the asking client verifies them again: it trusts no registry). Peers are asked for
    their local answers only, so a lookup never loops through the federation."""
    import httpx

    answers: list[Answer] = [dict(a, registry=self_url) for a in local]
    errors: list[dict[str, str]] = []

    def ask(peer: str) -> tuple[str, list[Answer] | str]:
        with httpx.Client(timeout=timeout) as client:
            try:
                got = _get_json(client, f"{peer}/api/v1/federation/local", {"digest": digest})
            except LedgerError as exc:
                return peer, f"{exc.where}: {exc.problem}"
        items = got.get("answers") if isinstance(got, dict) else None
        if not isinstance(items, list):
            return peer, "the peer's answer has no answers list"
        return peer, [dict(a, registry=peer) for a in items[:MAX_ANSWERS] if isinstance(a, dict)]

    if peers:
        with ThreadPoolExecutor(min(8, len(peers))) as pool:
            for peer, res in pool.map(ask, peers):
                if isinstance(res, str):
                    errors.append({"registry": peer, "error": res})
                else:
                    answers.extend(res)
    verified, refused = [], []
    for a in answers:
        try:
            v = verify_answer(a, policy, digest=digest)
            verified.append({**a, "verified": v.to_dict()})
        except LedgerError as exc:
            refused.append({"registry": a.get("registry"), "reason": exc.problem, "answer": a})
    return {
        "digest": digest,
        "policy": policy.digest,
        "answers": verified,
        "refused": refused,
        "errors": errors,
    }


def federated_candidates(
    fingerprint: bytes,
    filename: str,
    peers: list[str],
    policy: Trust,
    limit: int = 10,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Nearest neighbours of a fingerprint from every peer's search API, each candidate
    with a self-proving answer for its record (the score is the peer's: see module
    docstring)."""
    import httpx

    results: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []

    def ask(peer: str) -> tuple[str, list[dict[str, Any]] | str]:
        with httpx.Client(timeout=timeout) as client:
            url = f"{peer}/api/v1/forensics/candidates"
            try:
                r = client.post(url, params={"limit": limit},
                                files={"fingerprint": (filename, fingerprint)})  # fmt: skip
            except httpx.HTTPError as exc:
                return peer, f"{url}: cannot reach the peer ({exc})"
            if r.status_code != 200:
                return peer, f"{url}: HTTP {r.status_code}: {r.text[:200]}"
            out = []
            for c in (r.json().get("candidates") or [])[:limit]:
                rid = (c.get("model") or {}).get("id")
                try:
                    ans = _get_json(client, f"{peer}/api/v1/federation/records/{rid}")
                    ans = dict(ans, registry=peer)
                    v = verify_answer(ans, policy, digest=(c.get("model") or {}).get("digest"),
                                      record_id=rid)  # fmt: skip
                    out.append({"candidate": c, "registry": peer, "verified": v.to_dict(),
                                "answer": ans})  # fmt: skip
                except LedgerError as exc:
                    out.append({"candidate": c, "registry": peer, "refused": exc.problem})
            return peer, out

    if peers:
        with ThreadPoolExecutor(min(8, len(peers))) as pool:
            for peer, res in pool.map(ask, peers):
                if isinstance(res, str):
                    errors.append({"registry": peer, "error": res})
                else:
                    results.extend(res)
    return {
        "policy": policy.digest,
        "candidates": results,
        "errors": errors,
        "note": "similarity is computed by each peer; the proofs show each candidate is a "
        "record of that peer's witnessed log",
    }
