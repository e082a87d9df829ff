"""search: a narrow covering index of search documents by id (SQLite), so a full-text match never reads the text

A match on SQLite's FTS5 gives document ids; the search statement then needs each matched document's audience,
origin, kind, facet and filter columns. Read from the table, every one of those lookups loads a wide row (the
indexed text is most of it), so a broad match reads most of the table's pages; from this index (about a seventh
of the size) it does not. :mod:`node.search.query` names it with ``INDEXED BY``. PostgreSQL matches
through its GIN index and needs none.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-22
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id",
    "audience",
    "origin",
    "kind",
    "record_id",
    "departement",
    "stage",
    "ts",
    "town",
    "status",
    "avail_from",
    "avail_until",
    "lat_e6",
    "lon_e6",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_search_documents_cover", "search_documents", list(COLUMNS))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_search_documents_cover", table_name="search_documents")
