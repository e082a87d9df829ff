"""remote event registrations: members of one coop registering for another coop's events

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "remote_event_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("event_origin", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("member_origin", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_remote_event_registrations")),
        sa.UniqueConstraint(
            "direction", "event_origin", "event_id", "member_origin", "member_id", name="uq_remote_event_registrations"
        ),
    )
    op.create_index(
        "ix_remote_event_registrations_event",
        "remote_event_registrations",
        ["direction", "event_origin", "event_id", "status"],
    )


def downgrade() -> None:
    op.drop_index("ix_remote_event_registrations_event", table_name="remote_event_registrations")
    op.drop_table("remote_event_registrations")
