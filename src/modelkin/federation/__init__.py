"""Federated lookups: which registered model, anywhere in the federation, is this one?

Each registry answers for its own log; every answer carries the entry bytes, its
inclusion proof and the home log's witnessed checkpoint (a C2SP ``.tlog-proof``), so the
asking client checks it under its own trust policy and trusts no registry, not even the
one it asked (:func:`verify_answer`).
"""

from modelkin.federation.lookup import (
    Answer,
    VerifiedAnswer,
    answer_for_record,
    federated_lookup,
    local_answers,
    verify_answer,
)

__all__ = [
    "Answer",
    "VerifiedAnswer",
    "answer_for_record",
    "federated_lookup",
    "local_answers",
    "verify_answer",
]
