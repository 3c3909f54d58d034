"""Registry tables (SQLAlchemy Core, portable SQL: SQLite and PostgreSQL).

Records are stored generically — one row per accepted statement with the columns every
kind shares — so a new kind needs no new table. Subjects and lineage edges get their own
tables because queries join on digests. Everything here is derived from the ledger and can
be rebuilt from it; ``meta.applied_size`` says how much of the ledger has been applied, in
the same transaction as the rows, so a crash between ledger append and commit is repaired
on open. Schema changes go through Alembic (``migrations/``); a test keeps this file and
the migrations identical.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

records = Table(
    "records",
    metadata,
    # sha256 of the canonical statement payload: content-named, unique.
    Column("id", String(64), primary_key=True),
    Column("kind", String(64), nullable=False, index=True),
    # the kind of the statement that created the row (differs for amendments)
    Column("statement_kind", String(64), nullable=False),
    Column("name", String(512), nullable=True, index=True),
    Column("version", String(512), nullable=True),
    Column("organisation", String(512), nullable=True, index=True),
    Column("signer_keyid", String(64), nullable=False, index=True),
    Column("ledger_index", BigInteger, nullable=False, unique=True),
    Column("received_at", String(40), nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("supersedes", String(64), nullable=True),
    Column("superseded_by", String(64), nullable=True),
    Column("status_reason", Text, nullable=True),
    Column("predicate_json", Text, nullable=False),
    Column("envelope_json", Text, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), ForeignKey("records.id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", String(4096), nullable=False),
    Column("sha256", String(64), nullable=False, index=True),
)

edges = Table(
    "edges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), ForeignKey("records.id"), nullable=False, index=True),
    # node keys: "sha256:<hex>" (artifact) or "record:<id>" (training run, product, work)
    Column("src", String(80), nullable=False, index=True),
    Column("dst", String(80), nullable=False, index=True),
    Column("relation", String(64), nullable=False),
)

identities = Table(
    "identities",
    metadata,
    Column("keyid", String(64), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("public_key_pem", Text, nullable=False),
    Column("record_id", String(64), ForeignKey("records.id"), nullable=False),
    Column("status", String(16), nullable=False),
)

verifications = Table(
    "verifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", String(64), ForeignKey("records.id"), nullable=False, index=True),
    Column("child_sha256", String(64), nullable=False),
    # the parent checked, or for a "trained from scratch" claim the model it was compared to
    Column("parent_sha256", String(64), nullable=True),
    Column("verdict", String(16), nullable=False),
    Column("detail_json", Text, nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

Index("ix_edges_src_dst", edges.c.src, edges.c.dst)

ALL_TABLES = (verifications, edges, subjects, identities, records, meta)
