"""onboarding: cases, shared-case parts in transit, members' individual paths

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "onboarding_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("origin_kind", sa.String(length=32), nullable=False),
        sa.Column("target_form", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("shared_with", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_by", sa.String(length=32), nullable=False),
        sa.Column("retention_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_cases")),
        sa.UniqueConstraint("origin", "case_id", name="uq_onboarding_cases_ref"),
    )
    op.create_index("ix_onboarding_cases_stage", "onboarding_cases", ["stage", "updated_at"])
    op.create_index("ix_onboarding_cases_retention_until", "onboarding_cases", ["retention_until"])
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
        "member_path_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("since", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_member_path_steps_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_path_steps")),
    )
    op.create_index("ix_member_path_steps_account", "member_path_steps", ["account_id", "since"])


def downgrade() -> None:
    op.drop_index("ix_member_path_steps_account", table_name="member_path_steps")
    op.drop_table("member_path_steps")
    op.drop_table("onboarding_share_parts")
    op.drop_index("ix_onboarding_cases_retention_until", table_name="onboarding_cases")
    op.drop_index("ix_onboarding_cases_stage", table_name="onboarding_cases")
    op.drop_table("onboarding_cases")
