"""federation tables: peers, forks, inbox messages, peer invitations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "peers",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("direct", sa.Boolean(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.Column("last_success_at", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.BigInteger(), nullable=True),
        sa.Column("lag", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_peers")),
    )
    op.create_table(
        "forks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("ours", sa.LargeBinary(), nullable=False),
        sa.Column("theirs", sa.LargeBinary(), nullable=False),
        sa.Column("reported_by", sa.String(length=32), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forks")),
    )
    op.create_table(
        "inbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("from_member", sa.String(length=64), nullable=False),
        sa.Column("from_name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=140), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("about", sa.String(length=97), nullable=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("read", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_messages")),
        sa.UniqueConstraint("origin", "message_id", name="uq_inbox_messages_origin"),
    )
    op.create_index("ix_inbox_messages_account", "inbox_messages", ["account_id", "received_at"])
    op.create_table(
        "peer_invitations",
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.BigInteger(), nullable=True),
        sa.Column("used_by", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_peer_invitations")),
    )


def downgrade() -> None:
    op.drop_table("peer_invitations")
    op.drop_index("ix_inbox_messages_account", table_name="inbox_messages")
    op.drop_table("inbox_messages")
    op.drop_table("forks")
    op.drop_table("peers")
