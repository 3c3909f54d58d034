"""Fingerprinting whole model collections, in parallel, resumably.

A hub or a regulator holds hundreds of model directories; this package fingerprints them
all on a process pool or an existing Ray cluster (never a home-made one):

* :mod:`.collection` finds the models (a directory tree, or a list file of paths);
* :mod:`.work` is what one worker does with one path (it reads its own files: workers
  receive paths, never weights);
* :mod:`.runners` runs that work serially, on a spawned process pool, or as Ray tasks,
  with a bounded number in flight;
* :mod:`.journal` is the append-only JSONL progress journal that makes a scan resumable;
* :mod:`.register` turns each fingerprint into a signed model registration (in the
  driver: the registry has a single writer);
* :mod:`.scan` ties them together (:func:`scan_collection`).

The names below are loaded on first use: a worker process imports
:mod:`modelkin.scan.work` through this package and must not pay for the driver's
imports (registry, SQL, JSON Schema).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelkin.scan.collection import ModelEntry, collect, discover, read_list
    from modelkin.scan.journal import Journal, JournalEntry
    from modelkin.scan.runners import PoolRunner, RayRunner, Runner, SerialRunner
    from modelkin.scan.scan import ScanEvent, ScanOptions, ScanSummary, scan_collection

_WHERE = {
    "ModelEntry": "collection",
    "collect": "collection",
    "discover": "collection",
    "read_list": "collection",
    "Journal": "journal",
    "JournalEntry": "journal",
    "PoolRunner": "runners",
    "RayRunner": "runners",
    "Runner": "runners",
    "SerialRunner": "runners",
    "ScanEvent": "scan",
    "ScanOptions": "scan",
    "ScanSummary": "scan",
    "scan_collection": "scan",
}

__all__ = [
    "Journal",
    "JournalEntry",
    "ModelEntry",
    "PoolRunner",
    "RayRunner",
    "Runner",
    "ScanEvent",
    "ScanOptions",
    "ScanSummary",
    "SerialRunner",
    "collect",
    "discover",
    "read_list",
    "scan_collection",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"modelkin.scan.{module}"), name)
