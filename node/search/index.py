"""The search index's storage: search documents written into ``search_documents``, their facet sets and the
full-text index, the same on SQLite (FTS5) and PostgreSQL (tsvector + GIN), in the caller's transaction.

What a document holds (its text per audience, facet columns, tags) is decided by
:class:`node.search.documents.SearchDocuments`; this module only stores documents and drops them. Each record is
indexed once per *audience*: ``public`` (what anyone may read), ``network`` (what member nodes may read),
``coop`` (what members of this coop may read). A search names the audiences the viewer belongs to, so a match
can never come from a field the viewer may not read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from node.storage.database import Prepared
from node.storage.models import SearchDocument
from node.storage.search_models import SearchColset, SearchTagset, SearchTagsetValue

_DOCUMENTS: Final = cast(Table, SearchDocument.__table__)
_COLSETS: Final = cast(Table, SearchColset.__table__)
_TAGSETS: Final = cast(Table, SearchTagset.__table__)
_TAGSET_VALUES: Final = cast(Table, SearchTagsetValue.__table__)
_INSERT_DOCUMENTS: Final = Prepared(insert(_DOCUMENTS))
_DELETE_DOCUMENTS: Final = Prepared(
    delete(_DOCUMENTS).where(
        _DOCUMENTS.c.origin == bindparam("d_origin"), _DOCUMENTS.c.record_id == bindparam("d_record_id")
    )
)
_IN_PLACE: Final = (
    "departement", "town", "lat_e6", "lon_e6", "stage", "status", "avail_from", "avail_until", "ts", "colset", "tagset",
)  # fmt: skip
_HELD_DOCUMENTS: Final = {  # a record's documents with their text (on SQLite, the text is in the FTS5 table)
    "sqlite": Prepared(
        text(
            "SELECT d.id, d.audience, d.kind, f.content FROM search_documents d JOIN search_fts f ON f.rowid = d.id "
            "WHERE d.origin = :o AND d.record_id = :r"
        )
    ),
    "postgresql": Prepared(
        select(_DOCUMENTS.c.id, _DOCUMENTS.c.audience, _DOCUMENTS.c.kind, _DOCUMENTS.c.content).where(
            _DOCUMENTS.c.origin == bindparam("o"), _DOCUMENTS.c.record_id == bindparam("r")
        )
    ),
}
_UPDATE_DOCUMENT: Final = Prepared(
    update(_DOCUMENTS).where(_DOCUMENTS.c.id == bindparam("d_id")).values({c: bindparam(c) for c in _IN_PLACE})
)
_DELETE_DOCUMENT: Final = Prepared(delete(_DOCUMENTS).where(_DOCUMENTS.c.id == bindparam("d_id")))
_LAST_ID: Final = "SELECT COALESCE(max(id), 0) FROM search_documents"
_INSERT_TEXT: Final = "INSERT INTO search_fts(rowid, content) VALUES (?, ?)"
MAX_SET_KEY: Final = 300
CHUNK: Final = 400  # keys per IN clause


def col_key(origin: str, kind: str, departement: str | None, stage: str | None) -> str:
    """The key of a document's single-valued facets in ``search_colsets``."""
    return "\x1f".join((origin, kind, departement or "", stage or ""))


def tag_key(tags: Iterable[tuple[str, str]]) -> str | None:
    """The key of a set of (facet, value) in ``search_tagsets`` (None: no tags); long sets go by their digest."""
    key = " ".join(sorted(f"{facet}:{value}" for facet, value in set(tags)))
    if not key:
        return None
    return key if len(key) <= MAX_SET_KEY else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def store_documents(conn: Connection, documents: Sequence[Mapping[str, Any]]) -> None:
    """Insert search documents (:data:`node.search.documents.Document`: the columns of ``search_documents``
    but ``colset`` and ``tagset``, plus ``tags``), naming their facet sets, and bring the full-text index up to
    date, all in the caller's transaction. The caller knows the documents are new (a record without documents).

    Every insert into ``search_documents`` goes through here. On SQLite the text goes to the FTS5 table (which
    keeps it), under the document's id, and the row keeps an empty ``content``: the rows stay narrow, so a search
    looks its matches up in the table itself (migration 0009). Ids are given here (the highest one plus one, in
    the writing transaction: SQLite has one writer), so that the text can be inserted with one ``executemany``
    rather than by an insert trigger (FTS5 flushes its pending terms at every statement savepoint, and a trigger
    runs one per row: six times slower, 100 µs per profile against 16). Deletions go through the delete trigger.
    """
    if documents:
        _insert_named(conn, name_sets(conn, documents))


def name_sets(conn: Connection, documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The documents as rows of ``search_documents``: ``tags`` replaced by the ids of their facet sets (created
    when new)."""
    colsets = _ensure_colsets(conn, documents)
    tag_keys = [tag_key(d.get("tags") or ()) for d in documents]
    tagsets = _ensure_tagsets(conn, {k: d.get("tags") or () for k, d in zip(tag_keys, documents, strict=True) if k})
    rows = []
    for document, key in zip(documents, tag_keys, strict=True):
        row = {name: value for name, value in document.items() if name != "tags"}
        row["colset"] = colsets[col_key(row["origin"], row["kind"], row.get("departement"), row.get("stage"))]
        row["tagset"] = tagsets[key] if key else None
        rows.append(row)
    return rows


def _insert_named(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows of :func:`name_sets` (changed in place: they are this module's own dicts)."""
    texts: list[tuple[int, str]] = []
    if conn.dialect.name == "sqlite":
        last = int(conn.exec_driver_sql(_LAST_ID).scalar() or 0)
        for i, row in enumerate(rows, last + 1):
            texts.append((i, row["content"]))
            row["id"] = i
            row["content"] = ""
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:  # executemany needs the same columns in every row
        by_keys.setdefault(tuple(row), []).append(row)
    for same in by_keys.values():
        _INSERT_DOCUMENTS.executemany(conn, same)
    if texts:
        conn.exec_driver_sql(_INSERT_TEXT, texts)


def _ensure_colsets(conn: Connection, documents: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    wanted: dict[str, dict[str, Any]] = {}
    for d in documents:
        values = {
            "origin": d["origin"],
            "kind": d["kind"],
            "departement": d.get("departement"),
            "stage": d.get("stage"),
        }
        wanted.setdefault(col_key(**values), values)
    return _ensure(conn, _COLSETS, {key: {"key": key, **values} for key, values in wanted.items()}, None)


def _ensure_tagsets(conn: Connection, wanted: Mapping[str, Iterable[tuple[str, str]]]) -> dict[str, int]:
    return _ensure(conn, _TAGSETS, {key: {"key": key} for key in wanted}, wanted)


def _ensure(
    conn: Connection,
    table: Table,
    wanted: Mapping[str, dict[str, Any]],
    values: Mapping[str, Iterable[tuple[str, str]]] | None,
) -> dict[str, int]:
    """Ids of the sets ``wanted`` (key -> row), creating the missing ones (and, for tagsets, their values).
    ``ON CONFLICT DO NOTHING``: two PostgreSQL transactions creating the same set both end with its id."""
    ids = _set_ids(conn, table, list(wanted))
    missing = [wanted[key] for key in wanted if key not in ids]
    if missing:
        conn.execute(_insert_ignore(conn, table, ("key",)), missing)
        created = _set_ids(conn, table, [row["key"] for row in missing])
        if values is not None:
            rows = [
                {"tagset": created[row["key"]], "facet": facet, "value": value}
                for row in missing
                for facet, value in sorted(set(values[row["key"]]))
            ]
            if rows:
                conn.execute(_insert_ignore(conn, _TAGSET_VALUES, ("tagset", "facet", "value")), rows)
        ids.update(created)
    return ids


_SET_ID: Final = {
    table.name: Prepared(select(table.c.id).where(table.c.key == bindparam("key"))) for table in (_COLSETS, _TAGSETS)
}
FEW_KEYS: Final = 8  # up to this many keys, one prepared lookup each (a statement with IN is built per call)


def _set_ids(conn: Connection, table: Table, keys: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    if len(keys) <= FEW_KEYS:  # one record's documents: the common case on the write path of a single record
        lookup = _SET_ID[table.name]
        for key in keys:
            found = lookup.first(conn, {"key": key})
            if found is not None:
                out[key] = int(found[0])
        return out
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        out.update(
            (key, int(id_)) for id_, key in conn.execute(select(table.c.id, table.c.key).where(table.c.key.in_(chunk)))
        )
    return out


def _insert_ignore(conn: Connection, table: Table, keys: tuple[str, ...]) -> Any:
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)
    return ins.on_conflict_do_nothing(index_elements=list(keys))


async def unindex_record(session: AsyncSession, origin: str, record_id: str) -> None:
    await session.run_sync(lambda sync: unindex_record_sync(sync.connection(), origin, record_id))


def replace_documents(conn: Connection, origin: str, record_id: str, documents: Sequence[Mapping[str, Any]]) -> None:
    """Make ``documents`` (all of one record, at most one per audience) the record's documents: the audiences it
    no longer has lose theirs.

    A document whose text did not change is updated in place (facets, sets, freshness): the full-text index
    is only touched for the texts that changed (a member editing their bio leaves their public document's text
    as it was, and a full-text delete and insert cost more than the rest of the update of that document)."""
    held_documents = _HELD_DOCUMENTS["sqlite" if conn.dialect.name == "sqlite" else "postgresql"]
    held = {
        audience: (int(id_), held_kind, content)
        for id_, audience, held_kind, content in held_documents.all(conn, {"o": origin, "r": record_id})
    }
    rows = name_sets(conn, documents)
    fresh: list[dict[str, Any]] = []
    for row in rows:
        found = held.pop(row["audience"], None)
        if found is not None and found[1] == row["kind"] and found[2] == row["content"]:
            _UPDATE_DOCUMENT.execute(conn, {**{c: row.get(c) for c in _IN_PLACE}, "d_id": found[0]})
            continue
        if found is not None:
            _DELETE_DOCUMENT.execute(conn, {"d_id": found[0]})
        fresh.append(row)
    for id_, _, _ in held.values():  # audiences the record no longer has
        _DELETE_DOCUMENT.execute(conn, {"d_id": id_})
    if fresh:
        _insert_named(conn, fresh)


def unindex_record_sync(conn: Connection, origin: str, record_id: str) -> None:
    _DELETE_DOCUMENTS.execute(conn, {"d_origin": origin, "d_record_id": record_id})
