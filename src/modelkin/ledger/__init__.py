"""The transparency log: RFC 6962 Merkle tree, C2SP signed checkpoints, witness, tiles.

``Ledger`` is the durable log (SQLite, or PostgreSQL for several servers); ``merkle``
holds the pure hashing and proof functions; ``note``/``checkpoint`` the C2SP text formats;
``witness`` cosigning; ``tiles`` static export; ``monitor`` split-view detection;
``tlogproof`` offline bundles.
"""

from modelkin.ledger.log import MAX_ENTRY, AppendResult, Ledger, VerifyReport

__all__ = ["MAX_ENTRY", "AppendResult", "Ledger", "VerifyReport"]
