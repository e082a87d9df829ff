"""typed direct records: the part tables go, the outbox has one kind for direct records and keeps refusals

Moves, shared cases and event registrations travel as typed direct records (docs/PROTOCOL.md §8.1), one record
per envelope, so the tables that held the parts of split ``message`` texts until all had arrived are dropped
(parts still held belonged to records that had not arrived whole; the sending node still has them queued, and
an old-style part is now refused with ``obsolete_message``). Queued direct records change kind from
``message`` to ``direct``; an item the peer refused for good is kept, set aside (``refused_at``), with the
reason in ``last_error``. The signed envelopes kept as proof in ``member_moves`` are untouched.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("member_move_parts")
    op.drop_table("onboarding_share_parts")
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("refused_at", sa.BigInteger(), nullable=True))
    op.execute(sa.text("UPDATE outbox SET kind = 'direct' WHERE kind = 'message'"))


def downgrade() -> None:
    # refused items go back to the queue as ordinary ones: the older code has no notion of a refusal
    op.execute(sa.text("UPDATE outbox SET kind = 'message' WHERE kind = 'direct'"))
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("refused_at")
    op.create_table(
        "onboarding_share_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_share_parts")),
        sa.UniqueConstraint("sender", "digest", "part", name="uq_onboarding_share_parts_part"),
    )
    op.create_table(
        "member_move_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_move_parts")),
        sa.UniqueConstraint("sender", "digest", "part", name="uq_member_move_parts_part"),
    )
