"""Licences along a model's lineage: what each one obliges, and where they conflict.

The knowledge is data (``data/licences.json``); the rules here are pure functions over it.
Licence conditions on model weights travel with derivation (a fine-tune of a Llama model is
bound by the Llama licence; an Open RAIL model's use restrictions must be passed on), so a
label that showed only the model's own licence would hide exactly the obligations a user
inherits. Only lineage edges that forensics did not contradict are followed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from modelkin.labels.model import InheritedLicence


@dataclass(frozen=True)
class LicenceFacts:
    """What the table knows about one licence."""

    spdx: str
    name: str
    commercial: bool
    share_alike: bool
    use_restrictions: bool
    permissive: bool
    obligations: tuple[str, ...]
    name_prefix: str | None = None


@cache
def _table() -> dict[str, LicenceFacts]:
    raw: dict[str, Any] = json.loads(
        resources.files("modelkin.labels").joinpath("data/licences.json").read_text()
    )
    table: dict[str, LicenceFacts] = {}
    for spdx, entry in raw["licences"].items():
        facts = LicenceFacts(
            spdx=spdx,
            name=entry["name"],
            commercial=entry["commercial"],
            share_alike=entry["share_alike"],
            use_restrictions=entry["use_restrictions"],
            permissive=entry["permissive"],
            obligations=tuple(entry["obligations"]),
            name_prefix=entry.get("name_prefix"),
        )
        for key in [spdx, *entry["aliases"]]:
            table[key.lower()] = facts
    return table


def lookup(licence: str | None) -> LicenceFacts | None:
    """Facts for an SPDX id or Hugging Face licence id, or None if unknown/undeclared."""
    if not licence:
        return None
    return _table().get(licence.strip().lower())


def ids_for(licence: str) -> tuple[str, ...]:
    """Every identifier (lower case) the table knows for the same licence as ``licence``."""
    facts = lookup(licence)
    if facts is None:
        return (licence.strip().lower(),)
    return tuple(key for key, other in _table().items() if other is facts)


def inherited_licences(ancestors: Iterable[tuple[str, str | None]]) -> tuple[InheritedLicence, ...]:
    """One entry per (ancestor, licence), with that licence's obligations.

    ``ancestors`` are (model name, declared licence) for every ancestor reached through
    lineage edges that were not contradicted. An undeclared or unknown licence is kept
    (``known=False``): it is itself a finding.
    """
    out: list[InheritedLicence] = []
    seen: set[tuple[str, str]] = set()
    for name, lic in ancestors:
        shown = lic or "undeclared"
        if (name, shown) in seen:
            continue
        seen.add((name, shown))
        facts = lookup(lic)
        out.append(
            InheritedLicence(
                licence=facts.spdx if facts else shown,
                via=name,
                obligations=facts.obligations if facts else (),
                known=facts is not None,
            )
        )
    return tuple(out)


def licence_conflicts(
    model_name: str,
    model_licence: str | None,
    inherited: Sequence[InheritedLicence],
    dataset_licences: Iterable[tuple[str, str | None]] = (),
) -> tuple[str, ...]:
    """Human-readable conflicts between the model's licence and what it inherits.

    Rules (each from the licence text summarised in the table): share-alike parents require
    the same licence; use-restricted parents (RAIL, Llama, Gemma) cannot be relicensed under
    a permissive licence that drops the restrictions; non-commercial parents or training
    data conflict with a licence permitting commercial use; naming rules (Llama) bind
    the derived model's name.
    """
    own = lookup(model_licence)
    conflicts: list[str] = []
    for inh in inherited:
        parent = lookup(inh.licence)
        if parent is None:
            conflicts.append(
                f"{inh.via}: licence {inh.licence!r} is not known, so inherited obligations "
                "cannot be checked"
            )
            continue
        if own is None:
            if model_licence:
                conflicts.append(
                    f"licence {model_licence!r} is not known; cannot check it against "
                    f"{parent.spdx} inherited from {inh.via}"
                )
            continue
        if own.spdx == parent.spdx:
            if parent.name_prefix and not model_name.startswith(parent.name_prefix):
                conflicts.append(
                    f"{parent.spdx} (from {inh.via}) requires derived model names to begin "
                    f"with {parent.name_prefix!r}; this model is named {model_name!r}"
                )
            continue
        if parent.share_alike:
            conflicts.append(
                f"{parent.spdx} (from {inh.via}) is share-alike, but this model is licensed "
                f"{own.spdx}"
            )
        if parent.use_restrictions and own.permissive:
            conflicts.append(
                f"{parent.spdx} (from {inh.via}) carries use restrictions that {own.spdx} "
                "does not pass on"
            )
        if not parent.commercial and own.commercial:
            conflicts.append(
                f"{parent.spdx} (from {inh.via}) forbids commercial use, but {own.spdx} permits it"
            )
        if parent.name_prefix and not model_name.startswith(parent.name_prefix):
            conflicts.append(
                f"{parent.spdx} (from {inh.via}) requires derived model names to begin with "
                f"{parent.name_prefix!r}; this model is named {model_name!r}"
            )
    for ds_name, ds_lic in dataset_licences:
        facts = lookup(ds_lic)
        if facts is not None and not facts.commercial and own is not None and own.commercial:
            conflicts.append(
                f"training dataset {ds_name} is {facts.spdx} (non-commercial), but the model's "
                f"licence {own.spdx} permits commercial use"
            )
    return tuple(dict.fromkeys(conflicts))
