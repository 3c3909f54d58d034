"""Assemble a :class:`Label` from records: derived sections computed, never typed in.

The registry adapter (:mod:`modelkin.labels.from_registry`) and tests both call
:func:`assemble_label` with the records they have; the inherited licences, conflicts,
share of training data under a known licence and the disclosure score are computed here
from those records, so a label can never claim a score its records do not support.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from modelkin.labels.licences import inherited_licences, licence_conflicts
from modelkin.labels.model import (
    Compute,
    Dataset,
    Disclosure,
    Identity,
    Label,
    Lineage,
    Parent,
    TrainingData,
    Use,
)

# What the label asks to be disclosed (the treaty's disclosure list as modelkin reads it):
# one entry per question, in label order; each predicate says whether the records answer it.
_Check = Callable[[Identity, Lineage, TrainingData, Compute, Use], bool]
DISCLOSURE_CHECKLIST: tuple[tuple[str, _Check], ...] = (
    ("organisation", lambda i, lin, td, c, u: bool(i.organisation)),
    ("model licence", lambda i, lin, td, c, u: bool(i.licence)),
    ("weight digest", lambda i, lin, td, c, u: bool(i.weight_digest)),
    ("ledger entry", lambda i, lin, td, c, u: i.ledger_index is not None),
    ("lineage (parents or trained from scratch)", lambda i, lin, td, c, u: bool(lin.parents) or lin.from_scratch),
    ("parent licences", lambda i, lin, td, c, u: all(p.licence for p in lin.parents)),
    ("training datasets", lambda i, lin, td, c, u: bool(td.datasets)),
    ("dataset licences", lambda i, lin, td, c, u: bool(td.datasets) and all(d.licence for d in td.datasets)),
    ("dataset sources", lambda i, lin, td, c, u: bool(td.datasets) and all(d.source for d in td.datasets)),
    ("share of tokens per dataset", lambda i, lin, td, c, u: bool(td.datasets) and all(d.share_of_tokens is not None for d in td.datasets)),
    ("consent / opt-out", lambda i, lin, td, c, u: bool(td.datasets) and all(d.consent or d.opt_out for d in td.datasets)),
    ("personal data", lambda i, lin, td, c, u: bool(td.datasets) and all(d.personal_data is not None for d in td.datasets)),
    ("accelerator-hours", lambda i, lin, td, c, u: c.accelerator_hours is not None),
    ("training FLOPs", lambda i, lin, td, c, u: c.flops is not None),
    ("energy", lambda i, lin, td, c, u: c.energy_kwh is not None),
    ("intended use", lambda i, lin, td, c, u: bool(u.intended)),
    ("out-of-scope use", lambda i, lin, td, c, u: bool(u.out_of_scope)),
    ("limitations", lambda i, lin, td, c, u: bool(u.limitations)),
)  # fmt: skip


def disclosure(
    identity: Identity, lineage: Lineage, training: TrainingData, compute: Compute, use: Use
) -> Disclosure:
    """Score = answered / asked over :data:`DISCLOSURE_CHECKLIST`, listing what is missing."""
    missing = tuple(
        name
        for name, check in DISCLOSURE_CHECKLIST
        if not check(identity, lineage, training, compute, use)
    )
    total = len(DISCLOSURE_CHECKLIST)
    answered = total - len(missing)
    return Disclosure(
        score=round(answered / total, 4), answered=answered, total=total, missing=missing
    )


def _with_shares(datasets: Sequence[Dataset]) -> tuple[Dataset, ...]:
    """Fill each dataset's share from token counts when every dataset declares tokens."""
    if not datasets or any(d.share_of_tokens is not None for d in datasets):
        return tuple(datasets)
    counts = [d.tokens for d in datasets]
    if any(t is None for t in counts):
        return tuple(datasets)
    total = sum(t for t in counts if t is not None)
    if total <= 0:
        return tuple(datasets)
    out = []
    for d in datasets:
        share = round((d.tokens or 0) / total, 6)
        out.append(
            Dataset(
                name=d.name,
                share_of_tokens=share,
                tokens=d.tokens,
                licence=d.licence,
                source=d.source,
                consent=d.consent,
                opt_out=d.opt_out,
                personal_data=d.personal_data,
                provenance=d.provenance,
            )
        )
    return tuple(out)


def known_licence_share(datasets: Sequence[Dataset]) -> float | None:
    """Share of training tokens under a declared licence; None when shares are not known."""
    if not datasets or any(d.share_of_tokens is None for d in datasets):
        return None
    total = sum(d.share_of_tokens or 0.0 for d in datasets)
    if total <= 0:
        return None
    known = sum(d.share_of_tokens or 0.0 for d in datasets if d.licence)
    return round(known / total, 4)


def assemble_label(
    identity: Identity,
    parents: Sequence[Parent] = (),
    datasets: Sequence[Dataset] = (),
    compute: Compute | None = None,
    use: Use | None = None,
    *,
    from_scratch: bool = False,
    ancestors: Iterable[tuple[str, str | None]] | None = None,
    generated_at: str | None = None,
) -> Label:
    """Build a complete label; every derived field is computed from the records given.

    ``ancestors`` are (name, licence) for all ancestors reached through non-contradicted
    edges (grandparents included); by default the non-contradicted parents themselves.
    """
    if ancestors is None:
        ancestors = [(p.name, p.licence) for p in parents if p.status != "contradicted"]
    inherited = inherited_licences(ancestors)
    ds = _with_shares(datasets)
    conflicts = licence_conflicts(
        identity.name, identity.licence, inherited, [(d.name, d.licence) for d in ds]
    )
    lineage = Lineage(
        parents=tuple(parents),
        from_scratch=from_scratch and not parents,
        licences=inherited,
        conflicts=conflicts,
    )
    training = TrainingData(datasets=ds, known_licence_share=known_licence_share(ds))
    compute = compute or Compute()
    use = use or Use()
    return Label(
        identity=identity,
        lineage=lineage,
        training_data=training,
        compute=compute,
        use=use,
        disclosure=disclosure(identity, lineage, training, compute, use),
        generated_at=generated_at
        or datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    )
