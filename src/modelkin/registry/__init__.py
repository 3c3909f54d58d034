"""The registry: signed records of models, datasets, compute, lineage, products and works.

Every record is a verified DSSE-signed in-toto statement, logged in the transparency
ledger (the source of truth) and indexed in SQL tables that can be rebuilt from the ledger.
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
