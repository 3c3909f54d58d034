"""Text the two databases store differently is refused before it reaches the ledger."""

from __future__ import annotations

import pytest

from modelkin.errors import StatementError
from modelkin.registry import Registry
from modelkin.statements import Identity, get_kind, make_statement, sign_envelope, subject


@pytest.mark.parametrize("where", ["name", "subject"])
def test_nul_character_refused_before_logging(reg: Registry, alice: Identity, where: str) -> None:
    """PostgreSQL cannot store U+0000 in text: accepting it into the ledger and then failing
    to write the rows would wedge the registry, so both backends refuse it up front."""
    size = reg.ledger.size()
    name = "a\x00b" if where == "name" else "ok"
    pred = {"name": name, "organisation": "A", "models": [{"sha256": "cd" * 32}]}
    sub = subject("m\x00" if where == "subject" else "m", "cd" * 32)
    st = make_statement([sub], get_kind("product").predicate_type, pred)
    with pytest.raises(StatementError, match="NUL character"):
        reg.submit(sign_envelope(st, alice))
    assert reg.ledger.size() == size and reg.applied_size() == size
