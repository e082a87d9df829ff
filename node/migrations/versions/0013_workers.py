"""federation nonces: the replay guard shared by a node's worker processes

Revision ID: 0013_workers
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_workers"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation_nonces",
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "nonce", name=op.f("pk_federation_nonces")),
    )
    op.create_index(op.f("ix_federation_nonces_seen_at"), "federation_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_federation_nonces_seen_at"), table_name="federation_nonces")
    op.drop_table("federation_nonces")
