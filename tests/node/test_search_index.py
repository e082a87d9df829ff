"""The search index's own bookkeeping: the SQLite full-text index kept in step without an insert trigger, facet
sets shared between documents, and migration 0008 turning the tag rows of an existing database into sets.

Every check runs against the real database file; FTS5's ``integrity-check`` compares the index with the
documents it should hold, so a document inserted without being indexed (or indexed twice) fails it.
"""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, create_engine, text

from node.search import index as search
from node.search import query as search_query
from node.search.documents import Bodies, rows
from node.search.query import Filters, Scope
from node.storage.database import alembic_config


def _body(town: str, dep: str, trades: list[str], languages: list[str], stage: str = "established") -> dict[str, Any]:
    return {
        "place": {"town": town, "departement": dep},
        "trades": [{"rome": t} for t in trades],
        "languages": languages,
        "stage": stage,
    }


def _index(conn: Connection, record_id: str, words: str, body: dict[str, Any], origin: str = "smart") -> None:
    _replace(conn, record_id, {"network": words}, {"network": body}, origin=origin)


def _replace(
    conn: Connection, record_id: str, texts: dict[str, str], bodies: Bodies, ts: int = 1, origin: str = "smart"
) -> None:
    search.replace_documents(conn, origin, record_id, rows("profile", origin, record_id, texts, bodies, ts))


def _integrity(conn: Connection) -> None:
    conn.exec_driver_sql("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)")


def _ids(conn: Connection, words: str) -> list[str]:
    found = search_query.find(conn, search_query.query_words(words), Scope("coopaname", anonymous=False), Filters())
    return sorted(h.record_id for h in found.hits)


@pytest.fixture
def migrated(tmp_path: Path) -> Any:
    engine = create_engine(f"sqlite:///{tmp_path / 'node.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    yield engine
    engine.dispose()


def test_index_follows_inserts_updates_and_deletes(migrated: Any) -> None:
    with migrated.begin() as conn:
        _index(conn, "a", "menuisier chene", _body("Montreuil", "93", ["H2206"], ["fr"]))
        _index(conn, "b", "graphiste affiche", _body("Paris", "75", ["E1205"], ["fr", "en"]))
        _integrity(conn)
    with migrated.begin() as conn:
        _index(conn, "b", "graphiste motion", _body("Paris", "75", ["E1205"], ["fr", "en"]))  # an update
        search.unindex_record_sync(conn, "smart", "a")
        _index(conn, "c", "menuisier escalier", _body("Bobigny", "93", ["H2206"], ["fr"]))
        _integrity(conn)
    with migrated.connect() as conn:
        assert _ids(conn, "graphiste") == ["b"]
        assert _ids(conn, "affiche") == []  # the old text left the index with the old document
        assert _ids(conn, "motion") == ["b"]
        assert _ids(conn, "menuisier") == ["c"]
        assert _ids(conn, "chene") == []


def test_a_rolled_back_insert_leaves_nothing_indexed(migrated: Any) -> None:
    with migrated.begin() as conn:
        _index(conn, "a", "menuisier", _body("Montreuil", "93", ["H2206"], ["fr"]))
    with pytest.raises(RuntimeError), migrated.begin() as conn:
        _index(conn, "b", "menuisier charpente", _body("Paris", "75", ["F1503"], ["de"]))
        raise RuntimeError("the transaction fails after the insert")
    with migrated.begin() as conn:
        _integrity(conn)
        assert _ids(conn, "menuisier") == ["a"]
        assert conn.execute(text("SELECT count(*) FROM search_tagsets WHERE key LIKE '%language:de%'")).scalar() == 0
        _index(conn, "c", "menuisier charpente", _body("Paris", "75", ["F1503"], ["de"]))  # the set is made again
        _integrity(conn)
        assert _ids(conn, "charpente") == ["c"]


def test_documents_share_sets_and_counts_expand_them(migrated: Any) -> None:
    with migrated.begin() as conn:
        for i in range(6):
            _index(conn, f"m{i}", "menuisier", _body("Montreuil", "93", ["H2206"], ["fr", "en"][: 1 + i % 2]))
        _index(conn, "g", "graphiste menuisier", _body("Paris", "75", ["E1205", "H2206"], ["en"], stage="starting"))
    with migrated.connect() as conn:
        assert conn.execute(text("SELECT count(DISTINCT tagset) FROM search_documents")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM search_colsets")).scalar() == 2
        found = search_query.find(conn, ["menuisier"], Scope("coopaname", anonymous=False), Filters())
        assert found.total == 7
        assert dict(found.facets["trade"]) == {"H2206": 7, "E1205": 1}
        assert dict(found.facets["language"]) == {"fr": 6, "en": 4}
        assert dict(found.facets["departement"]) == {"93": 6, "75": 1}
        assert dict(found.facets["stage"]) == {"established": 6, "starting": 1}
        only_en = search_query.find(conn, ["menuisier"], Scope("coopaname", False), Filters(languages=("en",)))
        assert only_en.total == 4
        assert dict(only_en.facets["trade"]) == {"H2206": 4, "E1205": 1}


def test_long_tag_sets_go_by_digest() -> None:
    many = {("trade", f"X{i:04d}") for i in range(80)}
    key = search.tag_key(many)
    assert key is not None and key.startswith("sha256:") and len(key) <= search.MAX_SET_KEY
    assert search.tag_key(set()) is None
    assert search.tag_key({("trade", "A"), ("language", "fr")}) == "language:fr trade:A"


def test_migration_0008_turns_tag_rows_into_sets(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0007")
    db = sqlite3.connect(path)  # what a 0007 node wrote: documents (indexed by the insert trigger) and tag rows
    rows = [
        (1, "profile", "smart", "p1", "network", "menuisier chene", "93", "established"),
        (2, "profile", "smart", "p1", "public", "menuisier", None, None),
        (3, "profile", "oxalis", "p2", "network", "menuisier escalier", "93", "established"),
        (4, "offer", "oxalis", "o1", "network", "cherche menuisier", "75", None),
    ]
    db.executemany(
        "INSERT INTO search_documents (id, kind, origin, record_id, audience, content, departement, stage, ts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
        rows,
    )
    db.executemany(
        "INSERT INTO search_tags (origin, record_id, audience, facet, value) VALUES (?, ?, ?, ?, ?)",
        [
            ("smart", "p1", "network", "trade", "H2206"),
            ("smart", "p1", "network", "language", "fr"),
            ("smart", "p1", "public", "trade", "H2206"),
            ("oxalis", "p2", "network", "trade", "H2206"),
            ("oxalis", "p2", "network", "language", "fr"),
        ],
    )
    db.commit()
    db.close()
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
    with engine.begin() as conn:
        _integrity(conn)
        sets: dict[str, int | None] = dict(
            (str(key), value)
            for key, value in conn.execute(
                text("SELECT origin || '/' || record_id || '/' || audience, tagset FROM search_documents")
            )
        )
        assert sets["smart/p1/network"] == sets["oxalis/p2/network"] != sets["smart/p1/public"]
        assert sets["oxalis/o1/network"] is None
        found = search_query.find(conn, ["menuisier"], Scope("coopaname", anonymous=False), Filters())
        assert found.total == 3
        assert dict(found.facets["trade"]) == {"H2206": 2}
        assert dict(found.facets["kind"]) == {"profile": 2, "offer": 1}
        # documents written after the migration get the next set ids and are indexed without the old trigger
        _index(conn, "p3", "menuisier parquet", _body("Paris", "75", ["H2206"], ["fr"]))
        _integrity(conn)
        assert _ids(conn, "parquet") == ["p3"]
        assert (
            conn.execute(text("SELECT tagset FROM search_documents WHERE record_id = 'p3'")).scalar()
            == sets["smart/p1/network"]
        )
    with engine.begin() as conn:  # and back: the tag rows and the insert trigger return
        command.downgrade(alembic_config(conn), "0007")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM search_tags")).scalar() == 7  # five, and p3's two
        conn.execute(
            text(
                "INSERT INTO search_documents (kind, origin, record_id, audience, content, ts) VALUES "
                "('profile', 'smart', 'p9', 'network', 'ebeniste', 1)"
            )
        )
        _integrity(conn)
    engine.dispose()


def test_unchanged_texts_are_updated_in_place(migrated: Any) -> None:
    both = {"network": "menuisier chene", "public": "menuisier"}
    with migrated.begin() as conn:
        _replace(conn, "a", both, {a: _body("Montreuil", "93", ["H2206"], ["fr"]) for a in both}, ts=1)
        before = dict(conn.execute(text("SELECT audience, id FROM search_documents")).all())
        # the same texts, another place: the rows stay (same ids), their facets and freshness follow
        _replace(conn, "a", both, {a: _body("Paris", "75", ["H2206"], ["en"]) for a in both}, ts=2)
        assert dict(conn.execute(text("SELECT audience, id FROM search_documents")).all()) == before
        assert conn.execute(text("SELECT DISTINCT departement, ts FROM search_documents")).all() == [("75", 2)]
        found = search_query.find(conn, ["menuisier"], Scope("coopaname", anonymous=False), Filters())
        assert dict(found.facets["departement"]) == {"75": 1} and dict(found.facets["language"]) == {"en": 1}
        # a new text for one audience, and an audience gone
        _replace(conn, "a", {"network": "menuisier escalier"}, {"network": _body("Paris", "75", [], [])})
        assert conn.execute(text("SELECT audience FROM search_documents")).scalars().all() == ["network"]
        _integrity(conn)
        assert _ids(conn, "escalier") == ["a"] and _ids(conn, "chene") == []


def _pg_scenario(conn: Connection) -> None:
    """0007 -> head -> 0007 on PostgreSQL with documents and tag rows (run on one connection, committed between
    steps as the node's migration does)."""
    command.upgrade(alembic_config(conn), "0007")
    conn.commit()
    conn.execute(
        text(
            "INSERT INTO search_documents (kind, origin, record_id, audience, content, departement, stage, ts) VALUES "
            "('profile', 'smart', 'p1', 'network', 'menuisier chene', '93', 'established', 1), "
            "('profile', 'oxalis', 'p2', 'network', 'menuisier escalier', '93', 'established', 2), "
            "('offer', 'oxalis', 'o1', 'network', 'cherche menuisier', '75', NULL, 3)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO search_tags (origin, record_id, audience, facet, value) VALUES "
            "('smart', 'p1', 'network', 'trade', 'H2206'), ('smart', 'p1', 'network', 'language', 'fr'), "
            "('oxalis', 'p2', 'network', 'trade', 'H2206'), ('oxalis', 'p2', 'network', 'language', 'fr')"
        )
    )
    conn.commit()
    command.upgrade(alembic_config(conn), "head")
    conn.commit()
    found = search_query.find(conn, ["menuisier"], Scope("coopaname", anonymous=False), Filters())
    assert found.total == 3
    assert dict(found.facets["trade"]) == {"H2206": 2} and dict(found.facets["kind"]) == {"profile": 2, "offer": 1}
    # new documents take the next set ids (the sequences were moved past the backfill's explicit ids)
    _index(conn, "p3", "menuisier parquet", _body("Paris", "75", ["E1205"], ["en"]))
    _index(conn, "p4", "menuisier parquet", _body("Paris", "75", ["H2206"], ["fr"]))
    conn.commit()
    assert conn.execute(text("SELECT count(*) FROM search_tagsets")).scalar() == 2
    assert sorted(h.record_id for h in search_query.find(conn, ["parquet"], Scope("x", False), Filters()).hits) == [
        "p3",
        "p4",
    ]
    command.downgrade(alembic_config(conn), "0007")
    conn.commit()
    assert conn.execute(text("SELECT count(*) FROM search_tags")).scalar() == 8


async def test_migrations_0008_0009_on_postgresql(pg_url: str | None) -> None:
    if pg_url is None:
        pytest.skip("PostgreSQL is not reachable")
    from sqlalchemy.ext.asyncio import create_async_engine

    from .conftest import PG_HOST, _pg

    name = f"bigre_migration_{secrets.token_hex(4)}"
    await _pg(f'CREATE DATABASE "{name}"')
    engine = create_async_engine(f"postgresql+asyncpg://{PG_HOST}/{name}")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_pg_scenario)
    finally:
        await engine.dispose()
        await _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
