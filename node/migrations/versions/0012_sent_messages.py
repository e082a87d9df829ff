"""sent messages: the sender's copy of each message, for conversations in the inbox

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sent_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("to_node", sa.String(length=32), nullable=False),
        sa.Column("to_member", sa.String(length=64), nullable=False),
        sa.Column("to_name", sa.String(length=120), nullable=False),
        sa.Column("subject", sa.String(length=140), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("about", sa.String(length=97), nullable=True),
        sa.Column("sent_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_messages")),
        sa.UniqueConstraint("message_id", name="uq_sent_messages_message_id"),
    )
    op.create_index("ix_sent_messages_account", "sent_messages", ["account_id", "sent_at"])
    # the inbox's unread count is read on every page a member opens
    op.create_index("ix_inbox_messages_unread", "inbox_messages", ["account_id", "read"])


def downgrade() -> None:
    op.drop_index("ix_inbox_messages_unread", table_name="inbox_messages")
    op.drop_index("ix_sent_messages_account", table_name="sent_messages")
    op.drop_table("sent_messages")
