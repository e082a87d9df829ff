"""search: facet sets instead of tag rows per document; the FTS5 index kept without an insert trigger

Counting the facets of a broad match (18,000 documents of 100,000 profiles) used to join every matched document
to its ``search_tags`` rows and group about 45,000 (facet, value) strings, and group the four single-valued facet
columns as strings: about 3.5 times the bare ranked full-text query. Documents now name two small integer sets
(``search_colsets``: origin, kind, département, stage; ``search_tagsets``: trades and languages), so a count is
two integer ``GROUP BY`` plus one join per distinct set (a few thousand at most) to its values.

SQLite: the ``AFTER INSERT`` trigger that fed FTS5 is dropped. FTS5 writes its pending terms out at every statement
savepoint and a trigger runs one per inserted row, which made indexing about six times slower than one
``INSERT INTO search_fts ... SELECT`` of the new rows, which :func:`node.search.index.store_documents` now runs.
The update trigger now fires only when the text changes (this migration's backfill updates the set columns).
``search_generation`` counts the changes of the index, so that counts kept between searches outlive the node's
other writes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVER = "ix_search_documents_cover"
# What a search reads of a matched document, the join key first: the index is narrower than the rows (no text)
COVER_COLUMNS = (
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
OLD_COVER_COLUMNS = (
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
GENERATION_TRIGGERS = ("INSERT", "DELETE", "UPDATE OF content, tagset, colset, ts")
MAX_SET_KEY = 300  # node.search.index.MAX_SET_KEY (a migration does not import the code it migrates)


def _tag_key(pairs: set[tuple[str, str]]) -> str | None:
    key = " ".join(sorted(f"{facet}:{value}" for facet, value in pairs))
    if not key:
        return None
    return key if len(key) <= MAX_SET_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _col_key(origin: str, kind: str, departement: str | None, stage: str | None) -> str:
    return "\x1f".join((origin, kind, departement or "", stage or ""))


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS search_documents_au")
        op.execute(
            "CREATE TRIGGER search_documents_au AFTER UPDATE OF content ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, content) VALUES ('delete', old.id, old.content); "
            "INSERT INTO search_fts(rowid, content) VALUES (new.id, new.content); END"
        )
    op.create_table(
        "search_colsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_colsets")),
        sa.UniqueConstraint("key", name=op.f("uq_search_colsets_key")),
    )
    op.create_table(
        "search_tagsets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_tagsets")),
        sa.UniqueConstraint("key", name=op.f("uq_search_tagsets_key")),
    )
    op.create_table(
        "search_tagset_values",
        sa.Column("tagset", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tagset"],
            ["search_tagsets.id"],
            name=op.f("fk_search_tagset_values_tagset_search_tagsets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tagset", "facet", "value", name=op.f("pk_search_tagset_values")),
    )
    op.create_index("ix_search_tagset_values_value", "search_tagset_values", ["facet", "value", "tagset"])
    op.add_column("search_documents", sa.Column("colset", sa.Integer(), nullable=True))
    op.add_column("search_documents", sa.Column("tagset", sa.Integer(), nullable=True))
    _backfill(bind)
    op.create_index("ix_search_documents_tagset", "search_documents", ["tagset"])
    op.drop_index("ix_search_tags_value", table_name="search_tags")
    op.drop_table("search_tags")
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS search_documents_ai")
        op.drop_index(COVER, table_name="search_documents")
        op.create_index(COVER, "search_documents", list(COVER_COLUMNS))
        # The generation of the index: the kept counts of node.search.query are valid while it stays the
        # same, whatever else the node writes (sessions, outbox, log heads); bumped in the writing transaction.
        op.execute("CREATE TABLE search_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)")
        op.execute("INSERT INTO search_generation (id, n) VALUES (1, 0)")
        for when in GENERATION_TRIGGERS:
            name = f"search_generation_{when.split()[0].lower()}"
            bump = "UPDATE search_generation SET n = n + 1 WHERE id = 1"
            op.execute(f"CREATE TRIGGER {name} AFTER {when} ON search_documents BEGIN {bump}; END")


def _backfill(bind: Any) -> None:
    """Name the sets of the documents already indexed, from their columns and their ``search_tags`` rows."""
    tags: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
    for origin, record_id, audience, facet, value in bind.execute(
        sa.text("SELECT origin, record_id, audience, facet, value FROM search_tags")
    ):
        tags.setdefault((origin, record_id, audience), set()).add((facet, value))
    documents = bind.execute(
        sa.text("SELECT id, origin, record_id, audience, kind, departement, stage FROM search_documents")
    ).all()
    colsets: dict[str, int] = {}
    tagsets: dict[str, int] = {}
    updates: list[dict[str, Any]] = []
    for id_, origin, record_id, audience, kind, departement, stage in documents:
        ckey = _col_key(origin, kind, departement, stage)
        if ckey not in colsets:
            colsets[ckey] = len(colsets) + 1
            bind.execute(
                sa.text(
                    "INSERT INTO search_colsets (id, key, origin, kind, departement, stage) "
                    "VALUES (:id, :key, :origin, :kind, :departement, :stage)"
                ),
                {
                    "id": colsets[ckey],
                    "key": ckey,
                    "origin": origin,
                    "kind": kind,
                    "departement": departement,
                    "stage": stage,
                },
            )
        pairs = tags.get((origin, record_id, audience), set())
        tkey = _tag_key(pairs)
        if tkey is not None and tkey not in tagsets:
            tagsets[tkey] = len(tagsets) + 1
            bind.execute(
                sa.text("INSERT INTO search_tagsets (id, key) VALUES (:id, :key)"), {"id": tagsets[tkey], "key": tkey}
            )
            bind.execute(
                sa.text("INSERT INTO search_tagset_values (tagset, facet, value) VALUES (:t, :f, :v)"),
                [{"t": tagsets[tkey], "f": f, "v": v} for f, v in sorted(pairs)],
            )
        updates.append({"c": colsets[ckey], "t": tagsets.get(tkey) if tkey else None, "i": id_})
    if updates:
        bind.execute(sa.text("UPDATE search_documents SET colset = :c, tagset = :t WHERE id = :i"), updates)
    if bind.dialect.name == "postgresql":  # explicit ids were given: move the sequences past them
        for table in ("search_colsets", "search_tagsets"):
            bind.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - constant names
                    f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
            )


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    op.create_table(
        "search_tags",
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("facet", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("origin", "record_id", "audience", "facet", "value", name=op.f("pk_search_tags")),
    )
    op.create_index("ix_search_tags_value", "search_tags", ["facet", "value", "audience"])
    op.execute(
        "INSERT INTO search_tags (origin, record_id, audience, facet, value) SELECT DISTINCT d.origin, d.record_id, "
        "d.audience, v.facet, v.value FROM search_documents d JOIN search_tagset_values v ON v.tagset = d.tagset"
    )
    if sqlite:
        for when in GENERATION_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS search_generation_{when.split()[0].lower()}")
        op.execute("DROP TABLE IF EXISTS search_generation")
        op.drop_index(COVER, table_name="search_documents")
        op.create_index(COVER, "search_documents", list(OLD_COVER_COLUMNS))
        op.execute(
            "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
            "INSERT INTO search_fts(rowid, content) VALUES (new.id, new.content); END"
        )
    op.drop_index("ix_search_documents_tagset", table_name="search_documents")
    for column in ("tagset", "colset"):  # SQLite >= 3.35 drops a column in place: the table keeps its triggers
        op.execute(f"ALTER TABLE search_documents DROP COLUMN {column}")
    op.drop_index("ix_search_tagset_values_value", table_name="search_tagset_values")
    op.drop_table("search_tagset_values")
    op.drop_table("search_tagsets")
    op.drop_table("search_colsets")
    if sqlite:
        op.execute("DROP TRIGGER IF EXISTS search_documents_au")
        op.execute(
            "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, content) VALUES ('delete', old.id, old.content); "
            "INSERT INTO search_fts(rowid, content) VALUES (new.id, new.content); END"
        )
