"""Self-contained HTML rendering (inline CSS, no scripts, no external resources).

Semantic markup (headings per section, tables with row headers, a ``<meter>`` for the
score) so the label reads well with a screen reader as well as at a glance; Jinja2
autoescaping keeps registrant-supplied text from injecting markup.
"""

from __future__ import annotations

from functools import cache

import jinja2

from modelkin.labels.format import (
    DISCLOSURE_NOTE,
    FOOTER,
    NOT_DECLARED,
    disclosure_text,
    evaluation_lines,
    identity_rows,
    number,
    parent_verdict,
    percent,
    plain_verdict,
    provenance_text,
    short_digest,
    yes_no,
)
from modelkin.labels.model import Label


@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("modelkin.labels", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(label: Label) -> str:
    """The label as one standalone HTML page."""
    i = label.identity
    entry = NOT_DECLARED if i.ledger_index is None else f"#{i.ledger_index}"
    if i.ledger_index is not None and i.tree_size is not None:
        entry += f" of {i.tree_size:,}"
    sub = " · ".join(x for x in (i.version and f"version {i.version}", i.organisation) if x)
    return (
        _env()
        .get_template("label.html.j2")
        .render(
            label=label,
            i=i,
            lin=label.lineage,
            td=label.training_data,
            c=label.compute,
            u=label.use,
            d=label.disclosure,
            sub=sub,
            ledger_entry=entry,
            ND=NOT_DECLARED,
            prov=provenance_text,
            short_digest=short_digest,
            verdict=parent_verdict,
            percent=percent,
            number=number,
            yes_no=yes_no,
            identity_rows=identity_rows(label),
            plain=plain_verdict,
            evaluation=evaluation_lines(label),
            disclosure=disclosure_text(label.disclosure.answered, label.disclosure.total),
            disclosure_note=DISCLOSURE_NOTE,
            footer=FOOTER,
        )
    )
