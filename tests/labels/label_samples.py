"""Realistic labels built from records, shared by the label tests.

The MiniLM example mirrors the real all-MiniLM-L6-v2 fixture's published history (MiniLM
parent, sentence-pair fine-tuning data); shares and compute are illustrative records.
"""

from __future__ import annotations

from modelkin.labels.assemble import assemble_label
from modelkin.labels.model import Compute, Dataset, Identity, Label, Parent, Provenance, Use

DIGEST = "sha256:" + "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def minilm_label() -> Label:
    """A well-documented derivative with a verified parent and three datasets."""
    return assemble_label(
        Identity(
            name="all-MiniLM-L6-v2",
            version="1.0",
            organisation="sentence-transformers",
            licence="Apache-2.0",
            weight_digest=DIGEST,
            ledger_index=12,
            inclusion_proof="verified",
            tree_size=40,
            provenance=Provenance("verified", 12),
        ),
        parents=[
            Parent(
                name="microsoft/MiniLM-L12-H384-uncased",
                relation="finetune",
                status="verified",
                p_value=3.2e-14,
                licence="MIT",
                provenance=Provenance("verified", 15),
            )
        ],
        datasets=[
            Dataset(
                name="reddit-comments-2015-2018",
                tokens=7_260_000_000,
                licence=None,
                source="https://files.pushshift.io/reddit/",
                consent="none sought",
                opt_out=None,
                personal_data=True,
                provenance=Provenance("claimed", 9),
            ),
            Dataset(
                name="s2orc-citation-pairs",
                tokens=1_160_000_000,
                licence="ODC-By-1.0",
                source="https://github.com/allenai/s2orc",
                consent="publisher licences",
                opt_out="removal on request",
                personal_data=False,
                provenance=Provenance("claimed", 10),
            ),
            Dataset(
                name="stackexchange-title-body",
                tokens=580_000_000,
                licence="CC-BY-SA-4.0",
                source="https://archive.org/details/stackexchange",
                consent="site terms of service",
                opt_out=None,
                personal_data=False,
                provenance=Provenance("claimed", 11),
            ),
        ],
        compute=Compute(
            accelerator="TPU v3-8",
            accelerator_hours=120.0,
            flops=1.9e19,
            energy_kwh=None,
            provenance=Provenance("claimed", 13),
        ),
        use=Use(
            intended=(
                "Sentence and short paragraph embeddings for semantic search and clustering",
            ),
            out_of_scope=("Texts longer than 256 word pieces (input is truncated)",),
            limitations=("English only", "Trained on web text that contains social biases"),
            provenance=Provenance("claimed", 14),
        ),
        generated_at="2026-11-23T08:30:00Z",
    )


def gemma_conflict_label() -> Label:
    """A fine-tune of a Gemma model relicensed as MIT, with a contradicted second parent."""
    return assemble_label(
        Identity(name="acme-chat-270m", licence="MIT", organisation="Acme"),
        parents=[
            Parent(
                name="google/gemma-3-270m",
                relation="finetune",
                status="verified",
                p_value=1e-30,
                licence="gemma",
                provenance=Provenance("verified", 3),
            ),
            Parent(
                name="meta-llama/Llama-3.2-1B",
                relation="merge",
                status="contradicted",
                p_value=0.62,
                licence="llama3.2",
                detail="no layer of the child aligns with the claimed parent",
                provenance=Provenance("claimed", 4),
            ),
        ],
        datasets=[Dataset(name="acme-support-tickets", licence="CC-BY-NC-4.0", tokens=1000)],
        generated_at="2026-11-23T08:30:00Z",
    )
