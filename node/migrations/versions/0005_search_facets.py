"""search: facet columns on search documents, multi-valued facets, saved searches and notifications

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FACET_COLUMNS = (
    ("departement", sa.String(length=3)),
    ("town", sa.String(length=80)),
    ("lat_e6", sa.Integer()),
    ("lon_e6", sa.Integer()),
    ("stage", sa.String(length=16)),
    ("status", sa.String(length=16)),
    ("avail_from", sa.String(length=10)),
    ("avail_until", sa.String(length=10)),
)


def upgrade() -> None:
    # plain ADD COLUMN (no table rebuild): the SQLite FTS table and its triggers keep pointing at the same rowids
    for name, type_ in _FACET_COLUMNS:
        op.add_column("search_documents", sa.Column(name, type_, nullable=True))
    op.add_column("search_documents", sa.Column("ts", sa.BigInteger(), nullable=False, server_default="0"))
    op.create_index("ix_search_documents_place", "search_documents", ["audience", "lat_e6", "lon_e6"])
    op.create_index("ix_search_documents_departement", "search_documents", ["departement"])
    op.create_table(
        "search_tags",
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("origin", "record_id", "audience", "facet", "value", name=op.f("pk_search_tags")),
    )
    op.create_index("ix_search_tags_value", "search_tags", ["facet", "value", "audience"])
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("checked_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_saved_searches_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_searches")),
    )
    op.create_index("ix_saved_searches_account_id", "saved_searches", ["account_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("saved_search_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("read_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_notifications_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["saved_search_id"],
            ["saved_searches.id"],
            name=op.f("fk_notifications_saved_search_id_saved_searches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("account_id", "saved_search_id", "origin", "record_id", name="uq_notifications_match"),
    )
    op.create_index("ix_notifications_account_id", "notifications", ["account_id"])
    op.create_index("ix_notifications_saved_search_id", "notifications", ["saved_search_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("saved_searches")
    op.drop_index("ix_search_tags_value", table_name="search_tags")
    op.drop_table("search_tags")
    op.drop_index("ix_search_documents_departement", table_name="search_documents")
    op.drop_index("ix_search_documents_place", table_name="search_documents")
    with op.batch_alter_table("search_documents") as batch_op:
        for name, _ in reversed(_FACET_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("ts")
