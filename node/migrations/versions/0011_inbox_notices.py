"""inbox messages say what they are: a member's message, or a notice the node wrote from a coop's signed answer

Before, a notice was told apart by its ``about`` naming its own sender (``origin/from_member``), which a member
could imitate; now the node that writes the row says which it is. Existing rows that matched the old rule were
written by the node (the rule was only ever produced by registration answers), so they become notices.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox_messages") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="message"))
    op.execute(
        "UPDATE inbox_messages SET kind = 'notice' WHERE about IS NOT NULL AND about = origin || '/' || from_member"
    )


def downgrade() -> None:
    with op.batch_alter_table("inbox_messages") as batch:
        batch.drop_column("kind")
