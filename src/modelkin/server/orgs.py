"""Binding API tokens to organisations: whose organisation is signing this write?

With ``--tokens`` a token admits one organisation, and the DSSE signature says who signed.
The rule: the signer's *registered* organisation must equal the token's. Identity records
carry the organisation in their predicate (the registry stores it on the identity's
record), so:

* an identity statement is self-signed by a key the registry does not know yet: its
  organisation is the one it is about to register (``predicate.organisation``);
* every other statement is signed by a registered identity: its organisation is the one
  on that identity's record (an identity registered without one matches no token).

The signature is verified here (with the same keys the registry trusts) only to learn the
signer; the registry verifies it again when it logs the statement.
"""

from __future__ import annotations

from typing import Any

from modelkin.errors import StatementError
from modelkin.registry import Registry, pages
from modelkin.statements.dsse import envelope_payload, verify_envelope
from modelkin.statements.identity import PublicIdentity, keyid_of, load_public_key_pem
from modelkin.statements.kinds import get_kind


def identity_organisation(registry: Registry, keyid: str) -> str | None:
    """The organisation on the registered identity with ``keyid`` (None if none/unknown)."""
    ident = pages.identity(registry, keyid)
    if ident is None or ident["status"] != "active":
        return None
    return registry.record(str(ident["record_id"])).organisation


def signer_organisation(registry: Registry, envelope: dict[str, Any]) -> str | None:
    """The registered (or, for an identity statement, to-be-registered) organisation of the
    envelope's verified signer; raises :class:`StatementError` if no trusted key signed."""
    _, raw = envelope_payload(envelope)
    pred = raw.get("predicate") or {}
    if raw.get("predicateType") == get_kind("identity").predicate_type:
        pem = pred.get("public_key")
        if not isinstance(pem, str):
            raise StatementError("envelope", "identity statement lacks public_key")
        key = load_public_key_pem(pem, "envelope")
        verify_envelope(envelope, {keyid_of(key): PublicIdentity(str(pred.get("name")), key)})
        org = pred.get("organisation")
        return org if isinstance(org, str) else None
    trusted: dict[str, PublicIdentity] = {}
    sigs = envelope.get("signatures")
    for sig in (sigs if isinstance(sigs, list) else [])[:16]:  # only the keys that signed
        ident = pages.identity(registry, str(sig.get("keyid"))) if isinstance(sig, dict) else None
        if ident is not None and ident["status"] == "active":
            trusted[ident["keyid"]] = PublicIdentity.from_pem(
                ident["name"], ident["public_key_pem"]
            )
    st = verify_envelope(envelope, trusted)
    return identity_organisation(registry, st.signer_keyid)
