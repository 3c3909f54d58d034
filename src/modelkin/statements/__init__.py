"""Signed statements: in-toto Statement v1 in DSSE envelopes, RFC 8785 JSON, Ed25519 keys.

Every registry record is one of these. The public API is re-exported here; see the modules
for the specs each part implements.
"""

from __future__ import annotations

from modelkin.statements.canonical import canonical_json, json_digest
from modelkin.statements.dsse import PAYLOAD_TYPE, pae, sign_envelope, verify_envelope
from modelkin.statements.identity import Identity, PublicIdentity, keyid_of
from modelkin.statements.kinds import (
    KINDS,
    SELF,
    Edge,
    Kind,
    get_kind,
    kind_for_predicate_type,
    predicate_type_for,
    register_kind,
)
from modelkin.statements.manifest import manifest_digest, scan_directory, sha256_file
from modelkin.statements.statement import STATEMENT_TYPE, Statement, make_statement, subject

__all__ = [
    "KINDS",
    "PAYLOAD_TYPE",
    "SELF",
    "STATEMENT_TYPE",
    "Edge",
    "Identity",
    "Kind",
    "PublicIdentity",
    "Statement",
    "canonical_json",
    "get_kind",
    "json_digest",
    "keyid_of",
    "kind_for_predicate_type",
    "make_statement",
    "manifest_digest",
    "pae",
    "predicate_type_for",
    "register_kind",
    "scan_directory",
    "sha256_file",
    "sign_envelope",
    "subject",
    "verify_envelope",
]
