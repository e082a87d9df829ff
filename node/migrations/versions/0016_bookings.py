"""shared spaces and machines: resources, bookings (with their no-overlap slots), qualifications, calendar feeds

Revision ID: 0016_bookings
Revises: 0015_erasure
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_bookings"
down_revision: str | None = "0015_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["accounts.id"], name=op.f("fk_resources_author_id_accounts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint("record_id", name=op.f("uq_resources_record_id")),
    )
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("booking_id", sa.String(length=64), nullable=False),
        sa.Column("resource_origin", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("member_origin", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
        sa.Column("end", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("direction", "member_origin", "booking_id", name="uq_bookings_booking"),
    )
    op.create_index("ix_bookings_resource", "bookings", ["direction", "resource_origin", "resource_id", "start"])
    op.create_index("ix_bookings_account", "bookings", ["account_id", "start"])
    op.create_table(
        "booking_slots",
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("slot_start", sa.BigInteger(), nullable=False),
        sa.Column("booking", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking"], ["bookings.id"], name=op.f("fk_booking_slots_booking_bookings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("resource_id", "slot_start", name=op.f("pk_booking_slots")),
    )
    op.create_index(op.f("ix_booking_slots_booking"), "booking_slots", ["booking"])
    op.create_table(
        "qualifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("qualification", sa.String(length=40), nullable=False),
        sa.Column("member_origin", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("given_by", sa.Integer(), nullable=True),
        sa.Column("given_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["given_by"], ["accounts.id"], name=op.f("fk_qualifications_given_by_accounts"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualifications")),
        sa.UniqueConstraint("qualification", "member_origin", "member_id", name="uq_qualifications_member"),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_calendar_feeds_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("calendar_feeds")
    op.drop_table("qualifications")
    op.drop_index(op.f("ix_booking_slots_booking"), table_name="booking_slots")
    op.drop_table("booking_slots")
    op.drop_index("ix_bookings_account", table_name="bookings")
    op.drop_index("ix_bookings_resource", table_name="bookings")
    op.drop_table("bookings")
    op.drop_table("resources")
