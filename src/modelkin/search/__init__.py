"""1:N lineage search: which registered models may a model derive from?

:func:`index_items` turns a fingerprint into shape-independent index vectors,
:class:`SearchIndex` stores and queries them, :func:`sync` keeps the index of a registry
up to date, and :func:`search` ranks candidates and compares the top ones in full.
"""

from __future__ import annotations

from modelkin.search.engine import Result, SyncResult, record_fingerprint, search, sync
from modelkin.search.features import Items, index_items
from modelkin.search.index import Match, SearchIndex

__all__ = [
    "Items",
    "Match",
    "Result",
    "SearchIndex",
    "SyncResult",
    "index_items",
    "record_fingerprint",
    "search",
    "sync",
]
