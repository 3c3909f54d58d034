"""User-facing errors survive the trip across a process boundary (pools, Ray workers)."""

from __future__ import annotations

import pickle

from modelkin.errors import LedgerError, ModelFormatError, ModelkinError
from modelkin.ledger.cosigs import CosignatureRejected


def test_errors_pickle_with_where_and_problem() -> None:
    for err in (
        ModelkinError("model.gguf", "truncated header"),
        ModelFormatError(None, "no tensors"),
        LedgerError("log.db", "root differs"),
        CosignatureRejected("note", "bad cosignature"),
    ):
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert (back.where, back.problem, str(back)) == (err.where, err.problem, str(err))
