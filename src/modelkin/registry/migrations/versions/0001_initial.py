"""Initial registry schema: records, subjects, edges, identities, verifications, meta.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("statement_kind", sa.String(64), nullable=False),
        sa.Column("name", sa.String(512), nullable=True),
        sa.Column("version", sa.String(512), nullable=True),
        sa.Column("organisation", sa.String(512), nullable=True),
        sa.Column("signer_keyid", sa.String(64), nullable=False),
        sa.Column("ledger_index", sa.BigInteger, nullable=False, unique=True),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("supersedes", sa.String(64), nullable=True),
        sa.Column("superseded_by", sa.String(64), nullable=True),
        sa.Column("status_reason", sa.Text, nullable=True),
        sa.Column("predicate_json", sa.Text, nullable=False),
        sa.Column("envelope_json", sa.Text, nullable=False),
    )
    for col in ("kind", "name", "organisation", "signer_keyid", "status"):
        op.create_index(f"ix_records_{col}", "records", [col])
    op.create_table(
        "subjects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), sa.ForeignKey("records.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(4096), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_subjects_record_id", "subjects", ["record_id"])
    op.create_index("ix_subjects_sha256", "subjects", ["sha256"])
    op.create_table(
        "edges",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), sa.ForeignKey("records.id"), nullable=False),
        sa.Column("src", sa.String(80), nullable=False),
        sa.Column("dst", sa.String(80), nullable=False),
        sa.Column("relation", sa.String(64), nullable=False),
    )
    op.create_index("ix_edges_record_id", "edges", ["record_id"])
    op.create_index("ix_edges_src", "edges", ["src"])
    op.create_index("ix_edges_dst", "edges", ["dst"])
    op.create_index("ix_edges_src_dst", "edges", ["src", "dst"])
    op.create_table(
        "identities",
        sa.Column("keyid", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("public_key_pem", sa.Text, nullable=False),
        sa.Column("record_id", sa.String(64), sa.ForeignKey("records.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), sa.ForeignKey("records.id"), nullable=False),
        sa.Column("child_sha256", sa.String(64), nullable=False),
        sa.Column("parent_sha256", sa.String(64), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("detail_json", sa.Text, nullable=False),
    )
    op.create_index("ix_verifications_record_id", "verifications", ["record_id"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("meta", "verifications", "identities", "edges", "subjects", "records"):
        op.drop_table(table)
