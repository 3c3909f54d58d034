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
            provenance=Provenance("claimed", 12),
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


def full_label() -> Label:
    """Everything the registry can record: details, architecture, evaluation, signature,
    dataset biases, Hub ids, a compound licence with an exception and a custom licence."""
    from modelkin.labels.model import Architecture, Details, Evaluation, Signature

    base = minilm_label()
    identity = Identity(
        name="acme/encoder-small",
        version="2.1",
        organisation="Acme",
        licence="Apache-2.0 WITH LLVM-exception",
        weight_digest=DIGEST,
        ledger_index=21,
        inclusion_proof="verified",
        tree_size=30,
        provenance=Provenance("claimed", 21),
        architecture=Architecture(name="BertModel", family="bert", parameters=22_713_216, layers=6),
        details=Details(
            description="A small sentence encoder.",
            task="feature-extraction",
            library="sentence-transformers",
            languages=("en",),
            contact="models@acme.example",
            hub_id="acme/encoder-small",
            download_location="https://acme.example/models/encoder-small",
            released_at="2026-10-01T00:00:00Z",
            hyperparameters=(("learning_rate", "2e-05"), ("epochs", "1")),
        ),
        signature=Signature(method="key", signer="ECDSA key sha256:" + "ab" * 32),
    )
    parents = [
        Parent(
            name="MiniLM-L12", relation="finetune", status="verified", p_value=1e-20,
            licence="MIT", provenance=Provenance("verified", 15), hub_id="microsoft/MiniLM-L12-H384-uncased",
        ),
        Parent(
            name="bert-small", relation="finetune", status="verified", p_value=1e-9,
            licence="MIT AND (Apache-2.0 OR BSD-3-Clause)", provenance=Provenance("verified", 16),
        ),
        Parent(
            name="llama-7b", relation="finetune", status="contradicted", p_value=1.0,
            licence="llama3.1", provenance=Provenance("claimed", 17),
        ),
    ]  # fmt: skip
    datasets = [
        Dataset(
            name="acme-pairs", tokens=1000, licence="(MIT OR Apache-2.0)", personal_data=False,
            biases="Mostly US English forum posts.", hub_id="acme/pairs",
            provenance=Provenance("claimed", 9),
        ),
        *base.training_data.datasets[1:],
    ]  # fmt: skip
    use = Use(
        intended=("Semantic search",),
        out_of_scope=("Medical advice",),
        limitations=("English only",),
        provenance=Provenance("claimed", 21),
        evaluation=(
            Evaluation(metric="spearman", value=0.82, task="sentence-similarity",
                       dataset="mteb/stsbenchmark-sts", split="test"),
            Evaluation(metric="recall@10", value=0.61),
        ),
    )  # fmt: skip
    return assemble_label(
        identity, parents, datasets, base.compute, use, generated_at="2026-11-23T08:30:00Z"
    )
