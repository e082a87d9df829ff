"""Faceted search and matching in SQL, the same on SQLite (FTS5) and PostgreSQL (tsvector).

One statement per search: the matched set (full-text match, the viewer's audience, filters) is a materialised
CTE, and the page of hits, the total and the count of every facet value are ``UNION ALL`` branches over it. So
the full-text match runs once, and counts are ``GROUP BY`` in the database, never a loop over rows in Python.
On SQLite each match is looked up by rowid in the documents' narrow rows (the text lives in the FTS5 table), the
materialised set holds only ids, sets, score and freshness, and the counts of a matched set are kept per
connection until the index changes, so the next page or the same words searched again cost one pass over the
match for the page alone.

Cost on SQLite (``bench/search_bench.py``, 100,000 profiles): the bare ranked match (bm25 of every matched
document, then the top 20) is the floor; the lookup of each match's row, the page and the counts add to it.
Counts group the matched set by two small integers (each document's colset and tagset, see
:mod:`node.storage.search_models`) and expand each distinct set once, so a broad query (18,000 documents)
computed from scratch costs about twice the bare match (it was 3.5 times with one tag row per document and
value), and with its counts known about 1.5 times.

Audience: each record is matched through exactly one of its documents, the widest the viewer may read (public
for anonymous viewers; for members, ``coop`` for this node's records and ``network`` for the others'), so no
``GROUP BY record`` is needed to drop duplicates.

Words: normalised (accents and case folded), each matched as a *prefix* (typing "menuis" finds "menuisier"),
after a light French/English suffix folding (plurals, feminine endings: "menuisières" -> "menuisier*"). Full
stemmers were not used: SQLite's FTS5 has none for French, and prefix matching on folded words gives the same
recall for trade and town names without a second tokenizer; bilingual trade names come from the vocabulary
added to the text at index time (:mod:`node.search.documents`).

Ranking: text relevance in coarse steps (so that equally good matches are not ordered by noise in the
score), then distance when a place is given, then freshness.

Distance: a bounding box on the microdegree columns, then the equirectangular approximation (exact enough at a
town-to-town scale of tens of km) computed in SQL; kilometres for the page's hits are computed from it.
"""

# ruff: noqa: S608 - statements are assembled from constant fragments; every value is a bound parameter
from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, text

from node.search.text import terms
from node.storage import search_models  # noqa: F401 - search_models: its tables are part of the schema

KM_PER_E6: Final = 111.195 / 1e6  # kilometres per microdegree of latitude
FACETS: Final = ("origin", "kind", "trade", "departement", "language", "stage")
UNAVAILABLE: Final = ("unavailable", "busy", "closed", "fulfilled", "cancelled", "paired")
_SUFFIXES: Final = (("ieres", "ier"), ("iere", "ier"), ("euses", "eu"), ("euse", "eu"), ("trices", "t"), ("trice", "t"))


def query_words(query: str) -> list[str]:
    """The words of a query as matched (folded suffixes; each is then matched as a prefix)."""
    words: list[str] = []
    for word in terms(query):
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) > len(suffix) + 2:
                word = word[: -len(suffix)] + replacement
                break
        else:
            if len(word) > 3 and word[-1] in "sx":
                word = word[:-1]
        words.append(word)
    return words


@dataclass(frozen=True, slots=True)
class Near:
    lat_e6: int
    lon_e6: int
    radius_km: float | None  # None: rank by distance without a limit


@dataclass(frozen=True, slots=True)
class Filters:
    kinds: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    trades: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    departements: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    available_on: str | None = None  # YYYY-MM-DD
    period: tuple[str | None, str | None] | None = None  # overlaps [from, until] (matching)
    near: Near | None = None
    since_ts: int | None = None  # only records changed after (saved searches)
    exclude: tuple[tuple[str, str], ...] = ()  # (origin, record id)


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose search: an anonymous visitor, or a member of the coop running node ``own``."""

    own: str
    anonymous: bool


@dataclass(frozen=True, slots=True)
class Hit:
    kind: str
    origin: str
    record_id: str
    score: float
    distance_km: float | None
    ts: int


@dataclass(slots=True)
class Found:
    hits: list[Hit]
    total: int
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


class _Sql:
    """A statement under construction: SQL fragments and their named parameters."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._n = 0

    def bind(self, value: Any) -> str:
        self._n += 1
        name = f"p{self._n}"
        self.params[name] = value
        return f":{name}"

    def in_list(self, values: Sequence[Any]) -> str:
        return "(" + ", ".join(self.bind(v) for v in values) + ")"


def _conditions(sql: _Sql, scope: Scope, filters: Filters) -> list[str]:
    where: list[str] = []
    if scope.anonymous:
        where.append("d.audience = 'public'")
    else:
        where.append(f"(d.audience = 'coop' OR (d.audience = 'network' AND d.origin <> {sql.bind(scope.own)}))")
    for column, values in (
        ("kind", filters.kinds),
        ("origin", filters.origins),
        ("departement", filters.departements),
        ("town", filters.towns),
        ("stage", filters.stages),
        ("status", filters.statuses),
    ):
        if values:
            where.append(f"d.{column} IN {sql.in_list(values)}")
    for facet, values in (("trade", filters.trades), ("language", filters.languages)):
        if values:
            where.append(
                f"d.tagset IN (SELECT v.tagset FROM search_tagset_values v WHERE v.facet = '{facet}' "
                f"AND v.value IN {sql.in_list(values)})"
            )
    if filters.available_on:
        day = sql.bind(filters.available_on)
        where.append(
            f"(d.avail_from IS NULL OR d.avail_from <= {day}) AND (d.avail_until IS NULL OR d.avail_until >= {day})"
            f" AND (d.status IS NULL OR d.status NOT IN {sql.in_list(UNAVAILABLE)})"
        )
    if filters.period is not None:
        start, end = filters.period
        if end:
            where.append(f"(d.avail_from IS NULL OR d.avail_from <= {sql.bind(end)})")
        if start:
            where.append(f"(d.avail_until IS NULL OR d.avail_until >= {sql.bind(start)})")
        where.append(f"(d.status IS NULL OR d.status NOT IN {sql.in_list(UNAVAILABLE)})")
    if filters.since_ts is not None:
        where.append(f"d.ts > {sql.bind(filters.since_ts)}")
    for origin, record_id in filters.exclude:
        where.append(f"NOT (d.origin = {sql.bind(origin)} AND d.record_id = {sql.bind(record_id)})")
    return where


def _distance(sql: _Sql, near: Near | None, where: list[str]) -> str:
    """The squared distance in (microdegrees of latitude)² as SQL, adding the radius conditions to ``where``."""
    if near is None:
        return "NULL"
    coslat = math.cos(math.radians(near.lat_e6 / 1e6))
    lat0, lon0, k = sql.bind(float(near.lat_e6)), sql.bind(float(near.lon_e6)), sql.bind(coslat)
    dist2 = (
        f"((CAST(d.lat_e6 AS FLOAT) - {lat0}) * (CAST(d.lat_e6 AS FLOAT) - {lat0}) + "
        f"(CAST(d.lon_e6 AS FLOAT) - {lon0}) * (CAST(d.lon_e6 AS FLOAT) - {lon0}) * {k} * {k})"
    )
    if near.radius_km is not None:
        dlat = near.radius_km / KM_PER_E6
        dlon = dlat / max(0.01, coslat)
        where.append(
            f"d.lat_e6 BETWEEN {sql.bind(int(near.lat_e6 - dlat))} AND {sql.bind(int(near.lat_e6 + dlat))} "
            f"AND d.lon_e6 BETWEEN {sql.bind(int(near.lon_e6 - dlon))} AND {sql.bind(int(near.lon_e6 + dlon))}"
        )
        where.append(f"{dist2} <= {sql.bind(dlat * dlat)}")
    return dist2


def _matched(sql: _Sql, dialect: str, words: Sequence[str], scope: Scope, filters: Filters) -> tuple[str, str]:
    """The SELECT of the matched set (columns: id, colset, tagset, score, dist2, ts: only what the page's order and
    the counts need, so that the materialised set stays narrow; a hit's origin, id and kind are read for the page
    alone) and the ORDER BY of its hits (ties on relevance, distance and freshness go by document id)."""
    where = _conditions(sql, scope, filters)
    dist2 = _distance(sql, filters.near, where)
    columns = f"d.id, d.colset, d.tagset, {{score}} AS score, {dist2} AS dist2, d.ts"
    if words and dialect == "sqlite":
        match = sql.bind(" AND ".join(f'"{w}"*' for w in words))
        # the match drives the join: each match is looked up by rowid in the narrow rows of migration 0009
        source = "search_fts f CROSS JOIN search_documents d ON d.id = f.rowid"
        where.insert(0, f"search_fts MATCH {match}")
        score = "f.rank"
    elif words:
        match = sql.bind(" & ".join(f"{w}:*" for w in words))
        source = f"search_documents d CROSS JOIN to_tsquery('simple', {match}) q"
        where.insert(0, "d.tsv @@ q")
        score = "-ts_rank(d.tsv, q)"
    else:
        source, score = "search_documents d", "0.0"
    select = f"SELECT {columns.format(score=score)} FROM {source} WHERE {' AND '.join(where)}"
    order = "rel DESC, " + ("dist2, " if filters.near is not None else "") + "ts DESC, id"
    return select, order


def find(
    conn: Connection,
    words: Sequence[str],
    scope: Scope,
    filters: Filters = Filters(),
    *,
    limit: int = 20,
    offset: int = 0,
    facets: bool = True,
) -> Found:
    """One page of hits for ``words`` (see :func:`query_words`; none: every record the filters keep), the total,
    and (``facets``) the count of each facet value over the whole matched set."""
    sql = _Sql()
    dialect = conn.dialect.name
    matched, order = _matched(sql, dialect, words, scope, filters)
    cache = _cache_of(conn) if facets else None
    key = (matched, tuple(sorted(sql.params.items())))
    version = _version(conn) if cache is not None else None
    known = cache.get(key) if cache is not None else None
    if known is not None and known[0] == version:
        # The total, the counts and the best score of this matched set are known for this very state of the
        # database: only the page is left to find, in one pass over the match (nothing materialised or grouped).
        cache.move_to_end(key)  # type: ignore[union-attr]
        _, known_total, known_counts, known_best = known
        page = (
            f"SELECT d.origin, d.record_id, d.kind, h.rel, h.dist2, h.ts, h.id FROM (SELECT "
            f"{_HIT.format(best=sql.bind(known_best))} FROM ({matched}) m ORDER BY {order} LIMIT {sql.bind(limit)} "
            f"OFFSET {sql.bind(offset)}) h JOIN search_documents d ON d.id = h.id"
        )
        rows = [(_hit(row[:6]), int(row[6])) for row in conn.execute(text(page), sql.params)]
        page_hits = _in_order(rows, filters.near is not None)
        return Found(page_hits, known_total, {name: list(values) for name, values in known_counts.items()})
    materialized = "MATERIALIZED " if dialect in ("sqlite", "postgresql") else ""
    branches = [
        "SELECT 'hit' AS s, d.origin AS a, d.record_id AS b, d.kind AS c, CAST(h.id AS VARCHAR(20)) AS e, "
        "CAST(h.rel AS FLOAT) AS n, CAST(h.dist2 AS FLOAT) AS x, h.ts AS t FROM (SELECT "
        + _HIT.format(best="(SELECT MIN(score) FROM m)")
        + f" FROM m ORDER BY {order} LIMIT {sql.bind(limit)} OFFSET {sql.bind(offset)}) h "
        "JOIN search_documents d ON d.id = h.id",
    ]
    if cache is not None:
        branches.append("SELECT 'best', NULL, NULL, NULL, NULL, CAST(MIN(score) AS FLOAT), NULL, NULL FROM m")
    if facets:
        # Two integer GROUP BY over the matched set (its documents' colsets and tagsets: at most a few thousand
        # distinct sets), then each distinct set joined once to its values; the colset counts sum to the total.
        branches.append(
            "SELECT 'columns', s.origin, s.kind, s.departement, s.stage, CAST(c.n AS FLOAT), NULL, NULL FROM "
            "(SELECT colset, count(*) AS n FROM m GROUP BY colset) c LEFT JOIN search_colsets s ON s.id = c.colset"
        )
        branches.append(
            "SELECT v.facet, v.value, NULL, NULL, NULL, CAST(sum(g.n) AS FLOAT), NULL, NULL FROM "
            "(SELECT tagset, count(*) AS n FROM m WHERE tagset IS NOT NULL GROUP BY tagset) g "
            "JOIN search_tagset_values v ON v.tagset = g.tagset GROUP BY v.facet, v.value"
        )
    else:
        branches.append("SELECT 'total', NULL, NULL, NULL, NULL, CAST(count(*) AS FLOAT), NULL, NULL FROM m")
    statement = f"WITH m AS {materialized}({matched}) " + " UNION ALL ".join(branches)
    found: list[tuple[Hit, int]] = []
    total = 0
    best: float | None = None
    tallies: dict[str, dict[str, int]] = {name: {} for name in FACETS} if facets else {}
    for section, a, b, c, e, n, x, t in conn.execute(text(statement), sql.params):
        if section == "hit":
            found.append((_hit((a, b, c, n, x, t)), int(e)))
        elif section == "best":
            best = n
        elif section == "total":
            total = int(n)
        elif section == "columns":  # one group of (origin, kind, departement, stage)
            count = int(n)
            total += count
            for name, value in (("origin", a), ("kind", b), ("departement", c), ("stage", e)):
                if value is not None:
                    tally = tallies[name]
                    tally[value] = tally.get(value, 0) + count
        elif section in tallies and a is not None:
            tallies[section][str(a)] = int(n)
    counts = {name: sorted(tally.items(), key=lambda vc: (-vc[1], vc[0])) for name, tally in tallies.items()}
    if cache is not None and _version(conn) == version:  # no write between the two looks: the counts are of it
        cache[key] = (version, total, {name: tuple(values) for name, values in counts.items()}, best)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
    return Found(_in_order(found, filters.near is not None), total, counts)


def _in_order(found: list[tuple[Hit, int]], near: bool) -> list[Hit]:
    """The page's hits (with their document ids) as the SQL ordered them: a UNION or a join returns them in any
    order."""
    if near:
        found.sort(key=lambda hi: (-hi[0].score, hi[0].distance_km or 0.0, -hi[0].ts, hi[1]))
    else:
        found.sort(key=lambda hi: (-hi[0].score, -hi[0].ts, hi[1]))
    return [hit for hit, _ in found]


# Relevance in five steps relative to the best match (scores are negative on both backends: lower is better),
# so that closeness and freshness order the matches that are about as good as each other. The best score is an
# uncorrelated scalar subquery, run once (a window ``MIN(score) OVER ()`` would copy the whole matched set into a
# buffer first: a third of the cost of a broad query's page on SQLite), or a known value.
_HIT: Final = "id, dist2, ts, COALESCE(CAST(4.0 * score / NULLIF({best}, 0) AS INTEGER), 0) AS rel"


def _hit(row: Any) -> Hit:
    origin, record_id, kind, rel, dist2, ts = row
    return Hit(
        kind, origin, record_id, float(rel), math.sqrt(dist2) * KM_PER_E6 if dist2 is not None else None, int(ts)
    )


# Counts of a matched set, kept per SQLite connection and forgotten as soon as the index changes. A search for the
# same words by the same audience with the same filters (the next page, the same popular words typed by many) then
# costs only its page. The state of the index is its generation (``search_generation``, bumped by triggers in any
# transaction that writes documents, so the node's other writes — sessions, outbox, log heads — keep the counts)
# and the connection's own ``total_changes()`` (a rolled-back write of this connection changes it, not the
# generation), read inside the statement's snapshot; counts are kept only when both are the same before and after
# the statement. PostgreSQL has no such cheap marker (a shared counter row would serialise its writers): no cache.
CACHE_SIZE = 256  # matched sets per connection (0: no cache)
_CACHE_KEY: Final = "bigre_search_counts"
_Counts = tuple[tuple[int, int], int, dict[str, tuple[tuple[str, int], ...]], float | None]


def _cache_of(conn: Connection) -> OrderedDict[Any, _Counts] | None:
    if conn.dialect.name != "sqlite" or CACHE_SIZE <= 0:
        return None
    info = conn.connection.info  # lives as long as the DBAPI connection
    cache: OrderedDict[Any, _Counts] | None = info.get(_CACHE_KEY)
    if cache is None:
        cache = info[_CACHE_KEY] = OrderedDict()
    return cache


def _version(conn: Connection) -> tuple[int, int]:
    row = conn.execute(text("SELECT n, total_changes() FROM search_generation WHERE id = 1")).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class Fit:
    kind: str
    origin: str
    record_id: str
    overlap: int  # 2 per exact trade in common, 1 per related trade
    distance_km: float | None
    ts: int


def fits(
    conn: Connection,
    exact: Sequence[str],
    related: Sequence[str],
    scope: Scope,
    filters: Filters,
    *,
    limit: int = 20,
) -> list[Fit]:
    """Records sharing trades with ``exact`` (weight 2) or ``related`` (weight 1), best overlap first, then
    nearest (when ``filters.near``), then freshest: the core of matching offers and members."""
    codes = list(dict.fromkeys([*exact, *related]))
    if not codes:
        return []
    sql = _Sql()
    where = _conditions(sql, scope, filters)
    dist2 = _distance(sql, filters.near, where)
    weight = f"CASE WHEN t.value IN {sql.in_list(list(exact))} THEN 2 ELSE 1 END" if exact else "1"
    statement = (
        f"SELECT d.kind, d.origin, d.record_id, SUM({weight}) AS overlap, {dist2} AS dist2, d.ts "
        "FROM search_tagset_values t JOIN search_documents d ON d.tagset = t.tagset "
        f"WHERE t.facet = 'trade' AND t.value IN {sql.in_list(codes)} AND "
        + " AND ".join(where)
        + " GROUP BY d.id, d.kind, d.origin, d.record_id, d.lat_e6, d.lon_e6, d.ts ORDER BY overlap DESC, "
        + ("CASE WHEN d.lat_e6 IS NULL THEN 1 ELSE 0 END, dist2, " if filters.near is not None else "")
        + f"d.ts DESC, d.origin, d.record_id LIMIT {sql.bind(limit)}"
    )
    return [
        Fit(kind, origin, rid, int(overlap), math.sqrt(x) * KM_PER_E6 if x is not None else None, int(ts))
        for kind, origin, rid, overlap, x, ts in conn.execute(text(statement), sql.params)
    ]
