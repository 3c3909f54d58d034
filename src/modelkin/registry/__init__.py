"""The registry: signed records of models, datasets, compute, lineage, products and works.

Every record is a verified DSSE-signed in-toto statement, logged in the transparency
ledger (the source of truth) and indexed in SQL tables that can be rebuilt from the ledger.

* Submitting: :meth:`Registry.submit` verifies the signature against the signer's
  registered identity (identity statements are self-signed and register the key),
  validates the predicate's JSON Schema, recomputes digests, appends one leaf to the
  ledger and stores the record in one transaction (see :mod:`.core`).
* Amending and withdrawing: a new statement (``amendment``/``withdrawal`` predicate) names
  the earlier record by statement digest and ledger index; only the identity that signed
  it may do so, and only while it is active. An amendment replaces the predicate (same
  kind, same subjects) and becomes the active record; the earlier one is marked
  ``amended``/``withdrawn`` and both stay in the ledger (:meth:`Registry.history`).
* Rebuilding: :meth:`Registry.rebuild` replays the ledger. Envelopes larger than a ledger
  entry are kept in the blob store (``<home>/blobs``) with a bounded leaf in the ledger, so
  a rebuild of those records needs the blob store too (:mod:`.leaf`).
* Lineage: derivation claims are checked against the weights when fingerprints exist
  (:mod:`.verification`); :meth:`Registry.lineage` walks every record kind (:mod:`.lineage`).
"""

from __future__ import annotations

from modelkin.registry.builders import (
    amend,
    register_dataset,
    register_derivation,
    register_identity,
    register_model,
    register_product,
    register_training_run,
    submit_predicate,
    withdraw,
)
from modelkin.registry.core import Registry
from modelkin.registry.croissant import dataset_from_croissant
from modelkin.registry.datasets import dataset_manifest, dataset_predicate, manifest_from_directory
from modelkin.registry.hfcard import dataset_from_hf_card
from modelkin.registry.lineage import GraphEdge, LineageGraph, Node
from modelkin.registry.results import Receipt, Record, Verification
from modelkin.registry.svg import lineage_svg

__all__ = [
    "GraphEdge",
    "LineageGraph",
    "Node",
    "Receipt",
    "Record",
    "Registry",
    "Verification",
    "amend",
    "dataset_from_croissant",
    "dataset_from_hf_card",
    "dataset_manifest",
    "dataset_predicate",
    "lineage_svg",
    "manifest_from_directory",
    "register_dataset",
    "register_derivation",
    "register_identity",
    "register_model",
    "register_product",
    "register_training_run",
    "submit_predicate",
    "withdraw",
]
