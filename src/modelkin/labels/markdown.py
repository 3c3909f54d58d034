"""Markdown rendering: the same six sections as GitHub-flavoured Markdown tables and lists."""

from __future__ import annotations

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
    yes_no,
)
from modelkin.labels.model import Label


def _cell(text: str) -> str:
    """Escape what would break a table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def render_markdown(label: Label) -> str:
    """The label as Markdown (numbers in right-aligned table columns)."""
    i, lin, td, c, u, d = (
        label.identity,
        label.lineage,
        label.training_data,
        label.compute,
        label.use,
        label.disclosure,
    )
    entry = NOT_DECLARED if i.ledger_index is None else f"#{i.ledger_index}"
    if i.ledger_index is not None and i.tree_size is not None:
        entry += f" of {i.tree_size:,}"
    out: list[str] = [f"# Model Facts: {_cell(i.name)}", ""]
    out += ["## 1. Identity", "", f"_Source: {provenance_text(i.provenance)}_", ""]
    out += ["| | |", "|:--|--:|"]
    for key, value, _checked in identity_rows(label):
        if key == "Weight digest":
            value = f"`{i.weight_digest or NOT_DECLARED}`"
        elif key == "Ledger entry":
            value = entry
        else:
            value = _cell(value)
        out.append(f"| **{key}** | {value} |")
    out.append("")
    out += ["## 2. IP lineage", ""]
    if lin.parents:
        out += [
            "| Parent | Relation and forensic verdict | Licence | Source | What forensics found |",
            "|:--|--:|:--|:--|:--|",
        ]
        for p in lin.parents:
            out.append(
                f"| **{_cell(p.name)}** | {_cell(parent_verdict(p))} | "
                f"{_cell(p.licence or NOT_DECLARED)} | {provenance_text(p.provenance)} | "
                f"{_cell(plain_verdict(p))} |"
            )
        out.append("")
        out += [f"- {_cell(p.name)}: {_cell(v)}" for p in lin.parents for v in p.verifications]
    else:
        out.append("Parents: none, trained from scratch." if lin.from_scratch else
                   f"Parents: {NOT_DECLARED}.")  # fmt: skip
    out.append("")
    if lin.licences:
        out += ["**Inherited licences and obligations**", ""]
        for x in lin.licences:
            known = "" if x.known else " (unknown licence)"
            out.append(f"- **{_cell(x.licence)}** via {_cell(x.via)}{known}")
            out += [f"  - {_cell(ob)}" for ob in x.obligations]
        out.append("")
    if lin.conflicts:
        out += [f"**Licence conflicts: {len(lin.conflicts)}**", ""]
        out += [f"- ⚠ {_cell(x)}" for x in lin.conflicts]
    else:
        out.append("**Licence conflicts:** none found")
    out.append("")
    out += ["## 3. Training data", ""]
    if td.datasets:
        out += [
            "| Dataset | Share of tokens | Licence | Source | Consent | Opt-out | Personal data | Record |",
            "|:--|--:|:--|:--|:--|:--|:--|:--|",
        ]
        for ds in td.datasets:
            out.append(
                f"| **{_cell(ds.name)}** | {percent(ds.share_of_tokens)} | "
                f"{_cell(ds.licence or NOT_DECLARED)} | {_cell(ds.source or NOT_DECLARED)} | "
                f"{_cell(ds.consent or NOT_DECLARED)} | {_cell(ds.opt_out or NOT_DECLARED)} | "
                f"{yes_no(ds.personal_data)} | {provenance_text(ds.provenance)} |"
            )
    else:
        out.append(f"Datasets: {NOT_DECLARED}.")
    out += ["", f"**Known licence share:** {percent(td.known_licence_share)}", ""]
    out += ["## 4. Compute", "", f"_Source: {provenance_text(c.provenance)}_", ""]
    out += [
        "| | |",
        "|:--|--:|",
        f"| **Accelerator** | {_cell(c.accelerator or NOT_DECLARED)} |",
        f"| **Accelerator-hours** | {number(c.accelerator_hours, 'h')} |",
        f"| **Training FLOPs** | {number(c.flops)} |",
        f"| **Energy** | {number(c.energy_kwh, 'kWh')} |",
        "",
    ]
    out += ["## 5. Intended use and limits", "", f"_Source: {provenance_text(u.provenance)}_", ""]
    for title, items in (
        ("Intended use", u.intended),
        ("Out of scope", u.out_of_scope),
        ("Limitations", u.limitations),
    ):
        out.append(f"**{title}**" + ("" if items else f": {NOT_DECLARED}"))
        out += [f"- {_cell(x)}" for x in items]
        out.append("")
    if u.evaluation:
        out += [
            "**Evaluation results (declared)**",
            *(f"- {_cell(x)}" for x in evaluation_lines(label)),
            "",
        ]
    out += [
        "## 6. Disclosure completeness",
        "",
        f"**{disclosure_text(d.answered, d.total)}: {percent(d.score)}**",
        "",
        f"_{DISCLOSURE_NOTE}_",
        "",
    ]
    if d.missing:
        out += ["Not answered: " + ", ".join(d.missing), ""]
    out.append(f"_Generated {label.generated_at} by modelkin from ledger records. {FOOTER}_")
    return "\n".join(out) + "\n"
