"""search (SQLite): the full-text index keeps the text; search documents become narrow rows

Until now FTS5 indexed the ``content`` column of ``search_documents`` as an external-content table, so the
documents' rows carried the text (most of their size) and a covering index of every other column was kept for the
search statement (a lookup by id in a table of wide rows reads far more pages). FTS5 now holds the text itself
(a regular FTS5 table, rowid = the document's id): a document row is about a hundred bytes, a search looks each
match up by rowid in the table itself (cheaper than a seek in an index), the covering index goes, and so does the
work of keeping it on every write. ``search_documents.content`` stays, empty on SQLite (PostgreSQL still computes
its tsvector from it). A deleted document leaves the index through the delete trigger (a regular FTS5 table
deletes by rowid, without the old text).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"
COVER = "ix_search_documents_cover"
COVER_COLUMNS = (  # as migration 0008 made it
    "id",
    "audience",
    "origin",
    "colset",
    "tagset",
    "ts",
    "kind",
    "record_id",
    "departement",
    "stage",
    "town",
    "status",
    "avail_from",
    "avail_until",
    "lat_e6",
    "lon_e6",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"CREATE VIRTUAL TABLE search_text USING fts5(content, {TOKENIZE})")
    op.execute("INSERT INTO search_text(rowid, content) SELECT id, content FROM search_documents")
    for trigger in ("search_documents_ad", "search_documents_au", "search_documents_ai"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE search_fts")
    op.execute("ALTER TABLE search_text RENAME TO search_fts")
    op.execute("UPDATE search_documents SET content = ''")
    op.drop_index(COVER, table_name="search_documents")
    op.execute(
        "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
        "DELETE FROM search_fts WHERE rowid = old.id; END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER IF EXISTS search_documents_ad")
    op.execute(
        "UPDATE search_documents SET content = COALESCE((SELECT f.content FROM search_fts f "
        "WHERE f.rowid = search_documents.id), '')"
    )
    op.execute("DROP TABLE search_fts")
    op.execute(
        f"CREATE VIRTUAL TABLE search_fts USING fts5(content, content='search_documents', content_rowid='id', "
        f"{TOKENIZE})"
    )
    op.execute("INSERT INTO search_fts(search_fts) VALUES ('rebuild')")
    op.execute(
        "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, content) VALUES ('delete', old.id, old.content); END"
    )
    op.execute(
        "CREATE TRIGGER search_documents_au AFTER UPDATE OF content ON search_documents BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, content) VALUES ('delete', old.id, old.content); "
        "INSERT INTO search_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    op.create_index(COVER, "search_documents", list(COVER_COLUMNS))
