"""member moves: a member leaving for another coop, and the move records' parts in transit

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("move_id", sa.String(length=64), nullable=False),
        sa.Column("to_node", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("new_member_id", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("request", sa.LargeBinary(), nullable=False),
        sa.Column("acceptance", sa.LargeBinary(), nullable=True),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("accepted_at", sa.BigInteger(), nullable=True),
        sa.Column("done_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_moves")),
        sa.UniqueConstraint("origin", "move_id", name="uq_member_moves_ref"),
    )
    op.create_index("ix_member_moves_status", "member_moves", ["direction", "status"])
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


def downgrade() -> None:
    op.drop_table("member_move_parts")
    op.drop_index("ix_member_moves_status", table_name="member_moves")
    op.drop_table("member_moves")
