"""in-toto Statement v1: what a signature speaks about.

Spec: https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md —
``{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name", "digest"}],
"predicateType": URI, "predicate": {...}}``. Subjects carry sha256 digests of the artifacts
(model manifests, dataset Merkle roots, keys) so a statement is bound to content, not names.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from modelkin.errors import StatementError
from modelkin.statements.bounds import check_json_value
from modelkin.statements.canonical import canonical_json

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
MAX_SUBJECTS = 1024


def is_sha256_hex(value: object) -> bool:
    """True for a lowercase 64-digit hex string."""
    return isinstance(value, str) and bool(_HEX64.match(value))


def subject(name: str, sha256: str) -> dict[str, Any]:
    """One in-toto ResourceDescriptor with a sha256 digest."""
    return {"name": name, "digest": {"sha256": sha256}}


def make_statement(
    subjects: list[dict[str, Any]], predicate_type: str, predicate: dict[str, Any]
) -> dict[str, Any]:
    """Build a Statement v1 dict, checking its shape (not the predicate's schema)."""
    st = {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    check_statement_shape(st, "statement")
    return st


def check_statement_shape(st: object, where: str) -> None:
    """Enforce the Statement v1 layer: fields, subject digests, predicate object."""
    if not isinstance(st, dict):
        raise StatementError(where, "statement is not a JSON object")
    check_json_value(st, where)  # what is accepted must stay servable (see .bounds)
    if st.get("_type") != STATEMENT_TYPE:
        raise StatementError(where, f"_type must be {STATEMENT_TYPE}")
    subs = st.get("subject")
    if not isinstance(subs, list) or not subs:
        raise StatementError(where, "subject must be a non-empty list")
    if len(subs) > MAX_SUBJECTS:
        raise StatementError(where, f"more than {MAX_SUBJECTS} subjects")
    for i, s in enumerate(subs):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str):
            raise StatementError(where, f"subject[{i}] needs a string name")
        dig = s.get("digest")
        if not isinstance(dig, dict) or not is_sha256_hex(dig.get("sha256")):
            raise StatementError(where, f"subject[{i}] needs digest.sha256 as 64 lowercase hex")
    if not isinstance(st.get("predicateType"), str) or not st["predicateType"]:
        raise StatementError(where, "predicateType must be a non-empty string")
    if not isinstance(st.get("predicate"), dict):
        raise StatementError(where, "predicate must be a JSON object")
    canonical_json(st)  # refuse what cannot be signed reproducibly (e.g. NaN)


@dataclass(frozen=True)
class Statement:
    """A verified statement: its fields, the signer's key id and the payload digest."""

    subjects: tuple[tuple[str, str], ...]
    predicate_type: str
    predicate: dict[str, Any]
    signer_keyid: str
    digest: str

    @property
    def subject_digests(self) -> list[str]:
        return [d for _, d in self.subjects]

    def to_dict(self) -> dict[str, Any]:
        """The Statement v1 JSON object this was parsed from."""
        return {
            "_type": STATEMENT_TYPE,
            "subject": [subject(n, d) for n, d in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": self.predicate,
        }

    @classmethod
    def from_dict(cls, st: dict[str, Any], signer_keyid: str, where: str) -> Statement:
        check_statement_shape(st, where)
        return cls(
            subjects=tuple((s["name"], s["digest"]["sha256"]) for s in st["subject"]),
            predicate_type=st["predicateType"],
            predicate=st["predicate"],
            signer_keyid=signer_keyid,
            digest=hashlib.sha256(canonical_json(st)).hexdigest(),
        )
