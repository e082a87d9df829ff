"""Full-text search over profiles and offers, the same on SQLite (FTS5) and PostgreSQL (tsvector + GIN).

Text is normalised here before it is stored or searched (Unicode NFKD, accents and case dropped, anything but
letters and digits turned into spaces), so "Menuisière" finds "menuisiere" on both backends. Each record is
indexed once per *audience*: ``public`` (what anyone may read), ``network`` (what member nodes may read),
``coop`` (what members of this coop may read). A search names the audiences the viewer belongs to, so a match
can never come from a field the viewer may not read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from .database import Prepared
from .models import SearchDocument

AUDIENCES: Final = ("public", "network", "coop")
MAX_QUERY_TERMS: Final = 8
_NON_WORD: Final = re.compile(r"[^0-9a-z]+")


# Fast path of normalise(): text whose decomposed form is ASCII plus the combining accents of U+0300..U+036F
# (all of them combining except U+034F), which covers French and English; anything else takes the general path.
_NOT_LATIN_ACCENTED: Final = re.compile("[^\x00-\x7f\u0300-\u034e\u0350-\u036f]")
_ASCII_WORDS: Final = {c: c if chr(c) in "0123456789abcdefghijklmnopqrstuvwxyz" else 32 for c in range(128)}


def normalise(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    if decomposed.isascii():
        stripped = decomposed
    elif _NOT_LATIN_ACCENTED.search(decomposed) is None:
        stripped = decomposed.encode("ascii", "ignore").decode("ascii")  # drops exactly the accents
    else:
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
        return _NON_WORD.sub(" ", stripped).strip()
    return " ".join(stripped.translate(_ASCII_WORDS).split())


def terms(query: str) -> list[str]:
    """The words of a query, normalised, at most :data:`MAX_QUERY_TERMS` of them."""
    return [t for t in normalise(query).split() if t][:MAX_QUERY_TERMS]


def flatten(value: object) -> Iterable[str]:
    """Every string and number in a JSON-like value, for indexing."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        yield str(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from flatten(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from flatten(item)


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: str
    origin: str
    record_id: str


_DOCUMENTS: Final = cast(Table, SearchDocument.__table__)
_INSERT_DOCUMENTS: Final = insert(_DOCUMENTS)
_DELETE_DOCUMENTS: Final = delete(_DOCUMENTS).where(
    _DOCUMENTS.c.origin == bindparam("d_origin"), _DOCUMENTS.c.record_id == bindparam("d_record_id")
)
_INSERT_DOCUMENTS_PREPARED: Final = Prepared(_INSERT_DOCUMENTS)
_DELETE_DOCUMENTS_PREPARED: Final = Prepared(_DELETE_DOCUMENTS)
_DELETE_TAGS_SQL: Final = "DELETE FROM search_tags WHERE origin = :t_origin AND record_id = :t_record_id"
_DELETE_TAGS: Final = Prepared(text(_DELETE_TAGS_SQL))
_INSERT_TAGS_SQL: Final = (
    "INSERT INTO search_tags (origin, record_id, audience, facet, value) "
    "VALUES (:origin, :record_id, :audience, :facet, :value)"
)
_INSERT_TAGS: Final = Prepared(text(_INSERT_TAGS_SQL))

Bodies = Mapping[str, Mapping[str, Any]]


def _rows(
    kind: str, origin: str, record_id: str, texts: Mapping[str, str], bodies: Bodies | None, ts: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    from . import search_facets  # it imports this module (normalise)

    return search_facets.rows(kind, origin, record_id, texts, bodies or {}, ts)


async def index_record(
    session: AsyncSession,
    kind: str,
    origin: str,
    record_id: str,
    texts: Mapping[str, str],
    bodies: Bodies | None = None,
    ts: int = 0,
) -> None:
    """Replace the documents of one record by ``texts`` (audience → text); empty texts are not indexed.
    ``bodies`` (audience → the fields it may read) give the facet columns and tags; ``ts`` the freshness."""
    await unindex_record(session, origin, record_id)
    documents, tags = _rows(kind, origin, record_id, texts, bodies, ts)
    if documents:
        await session.execute(_INSERT_DOCUMENTS, documents)
    if tags:
        await session.execute(text(_INSERT_TAGS_SQL), tags)


async def unindex_record(session: AsyncSession, origin: str, record_id: str) -> None:
    await session.execute(_DELETE_DOCUMENTS, {"d_origin": origin, "d_record_id": record_id})
    await session.execute(text(_DELETE_TAGS_SQL), {"t_origin": origin, "t_record_id": record_id})


def index_record_sync(
    conn: Connection,
    kind: str,
    origin: str,
    record_id: str,
    texts: Mapping[str, str],
    bodies: Bodies | None = None,
    ts: int = 0,
) -> None:
    """:func:`index_record` on a sync connection (inside :meth:`~node.storage.database.Database.run_write`)."""
    unindex_record_sync(conn, origin, record_id)
    documents, tags = _rows(kind, origin, record_id, texts, bodies, ts)
    _INSERT_DOCUMENTS_PREPARED.executemany(conn, documents)
    _INSERT_TAGS.executemany(conn, tags)


def unindex_record_sync(conn: Connection, origin: str, record_id: str) -> None:
    _DELETE_DOCUMENTS_PREPARED.execute(conn, {"d_origin": origin, "d_record_id": record_id})
    _DELETE_TAGS.execute(conn, {"t_origin": origin, "t_record_id": record_id})


async def search(
    session: AsyncSession,
    query: str,
    audiences: Sequence[str],
    *,
    kinds: Sequence[str] = (),
    limit: int = 20,
    offset: int = 0,
) -> list[SearchHit]:
    """Records whose text for one of ``audiences`` holds every word of ``query`` (as a prefix), best first."""
    words = terms(query)
    if not words or not audiences:
        return []
    params: dict[str, object] = {"limit": limit, "offset": offset, "audiences": list(audiences)}
    params["kinds"] = list(kinds) if kinds else ["profile", "offer", "event", "mentoring", "help_request"]
    if session.get_bind().dialect.name == "sqlite":
        params["match"] = " AND ".join(f'"{w}"*' for w in words)
        sql = _SQLITE_SEARCH
    else:
        params["match"] = " & ".join(f"{w}:*" for w in words)
        sql = _POSTGRES_SEARCH
    result = await session.execute(sql, params)
    return [SearchHit(kind, origin, record_id) for kind, origin, record_id, _ in result.all()]


_SQLITE_SEARCH: Final = text(
    "SELECT d.kind, d.origin, d.record_id, MIN(f.rank) AS score FROM search_fts f "
    "JOIN search_documents d ON d.id = f.rowid "
    "WHERE search_fts MATCH :match AND d.audience IN :audiences AND d.kind IN :kinds "
    "GROUP BY d.kind, d.origin, d.record_id ORDER BY score, d.origin, d.record_id "
    "LIMIT :limit OFFSET :offset"
).bindparams(bindparam("audiences", expanding=True), bindparam("kinds", expanding=True))
_POSTGRES_SEARCH: Final = text(
    "SELECT d.kind, d.origin, d.record_id, MAX(ts_rank(d.tsv, q)) AS score "
    "FROM search_documents d, to_tsquery('simple', :match) q "
    "WHERE d.tsv @@ q AND d.audience IN :audiences AND d.kind IN :kinds "
    "GROUP BY d.kind, d.origin, d.record_id ORDER BY score DESC, d.origin, d.record_id "
    "LIMIT :limit OFFSET :offset"
).bindparams(bindparam("audiences", expanding=True), bindparam("kinds", expanding=True))
