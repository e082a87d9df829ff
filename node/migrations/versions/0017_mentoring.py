"""mentoring programmes and education: mentoring pairs, their check-ins, schools' requests

Revision ID: 0017_mentoring
Revises: 0016_bookings
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_mentoring"
down_revision: str | None = "0016_bookings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mentoring_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pair_id", sa.String(length=64), nullable=False),
        sa.Column("coordinator_node", sa.String(length=32), nullable=False),
        sa.Column("programme", sa.String(length=97), nullable=False),
        sa.Column("programme_name", sa.String(length=120), nullable=False),
        sa.Column("mentor", sa.JSON(), nullable=False),
        sa.Column("mentee", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("feedback", sa.JSON(), nullable=False),
        sa.Column("proposed_at", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("reminded_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentoring_pairs")),
        sa.UniqueConstraint("pair_id", name="uq_mentoring_pairs_pair_id"),
    )
    op.create_index("ix_mentoring_pairs_programme", "mentoring_pairs", ["programme"])
    op.create_table(
        "mentoring_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("checkin_id", sa.String(length=64), nullable=False),
        sa.Column("pair_id", sa.String(length=64), nullable=False),
        sa.Column("date", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by_node", sa.String(length=32), nullable=False),
        sa.Column("by_name", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentoring_checkins")),
        sa.UniqueConstraint("origin", "checkin_id", name="uq_mentoring_checkins_ref"),
    )
    op.create_index("ix_mentoring_checkins_pair", "mentoring_checkins", ["pair_id", "date"])
    op.create_table(
        "school_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=False),
        sa.Column("town", sa.String(length=80), nullable=False),
        sa.Column("class_level", sa.String(length=80), nullable=False),
        sa.Column("dates", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("volunteers", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_requests")),
    )
    op.create_index("ix_school_requests_status", "school_requests", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_school_requests_status", table_name="school_requests")
    op.drop_table("school_requests")
    op.drop_index("ix_mentoring_checkins_pair", table_name="mentoring_checkins")
    op.drop_table("mentoring_checkins")
    op.drop_index("ix_mentoring_pairs_programme", table_name="mentoring_pairs")
    op.drop_table("mentoring_pairs")
