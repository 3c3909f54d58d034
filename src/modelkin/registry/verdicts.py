"""Which logged verification of a claim counts: the latest by a trusted verifier.

Anyone may publish a ``verification`` statement about any claim; all of them are kept and
shown. Only the statements signed by a verifier the registry trusts (its operator's
verifier key, :mod:`.verifier`) decide a claim's status; among those the latest statement
(highest ledger index) counts, so re-verifying with a newer engine supersedes the older
verdict without erasing it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from modelkin.registry.results import Verification


def from_row(row: Any, names: dict[str, str]) -> Verification:
    """A :class:`Verification` from a ``verifications`` table row."""
    detail = json.loads(row.detail_json)
    keyid = detail.get("verifier")
    return Verification(
        row.child_sha256,
        row.parent_sha256,
        row.verdict,
        detail,
        names.get(keyid) if isinstance(keyid, str) else None,
    )


def current(history: Iterable[Verification], trusted: frozenset[str]) -> list[Verification]:
    """The pairs of the latest statement signed by a trusted verifier (empty: none)."""
    history = list(history)
    indexes = [
        v.ledger_index
        for v in history
        if v.verifier_keyid in trusted and v.ledger_index is not None
    ]
    if not indexes:
        return []
    latest = max(indexes)
    return [v for v in history if v.ledger_index == latest]
