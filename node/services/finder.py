"""Finding people and offers across the network: faceted search, rendering for the viewer, and matching.

Everything comes from the local replica (no fan-out to peers at query time): one read transaction runs the
search statement of :mod:`node.search.query` and reads the page's records in bulk, on a reader thread
on SQLite (:meth:`~node.storage.database.Database.run_read`), so a search is one thread hop and two or three
statements whatever the size of the page.

Rendering follows the directory's rules: this node's profiles show the fields the viewer's level reaches
(:func:`node.services.profiles.visible_fields`, all of them to their owner); other coops' profiles show their
network body to members and only its ``public`` fields to anonymous visitors; offers and events only when the
viewer may see them (anonymous: public ones), mentoring to members only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from node.errors import InvalidInput, NotFound
from node.reference.data import Reference
from node.reference.departements import departement_in, find_departement
from node.search.query import Filters, Found, Near, Scope, find, fits, query_words
from node.services import profiles
from node.storage.database import Database, connection
from node.viewer import Viewer

TYPES: Final = ("profile", "offer", "mentoring", "event")
#: what a search asks, as the API's query string, the search page and saved searches name it (page and size apart)
QUERY_KEYS: Final = (
    "q",
    "type",
    "trade",
    "origin",
    "departement",
    "town",
    "near",
    "radius_km",
    "language",
    "stage",
    "available_on",
)
PAGE_SIZE: Final = 20
MAX_PAGE_SIZE: Final = 100
DEFAULT_RADIUS_KM: Final = 30.0
_OWN_THINGS: Final = {"offer": "offers", "mentoring": "mentorings", "event": "events"}
_TAKEN_BACK: Final = frozenset({"profile", *_OWN_THINGS})  # own kinds rendered from a local row, when it has one


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A parsed search: the words, the filters, the page."""

    q: str = ""
    filters: Filters = field(default_factory=Filters)
    page: int = 1
    size: int = PAGE_SIZE


class Finder:
    def __init__(self, db: Database, origin: str, reference: Reference) -> None:
        self.db = db
        self.origin = origin
        self.reference = reference
        self.places = reference.places

    # --------------------------------------------------------------------------------------------- parsing

    def with_departement(self, query: Mapping[str, str]) -> dict[str, str] | None:
        """``query`` with a département it names turned into the ``departement`` filter, or None if it names
        none: "Près de : 93" or "Près de : Seine-Saint-Denis" (``near`` that is a département, not a town) and
        "menuisier Seine-Saint-Denis" (a département's name among the words, which no record's text holds)."""
        out = dict(query)
        chosen = [d for d in _split(out.get("departement", "")) if d]
        near = out.get("near", "").strip()
        if near:
            code = find_departement(near) if not near.isdigit() or len(near) <= 3 else None
            if code is not None and (near.isdigit() or near.upper() in ("2A", "2B") or self.places.find(near) is None):
                out.pop("near", None)
                out.pop("radius_km", None)
                chosen.append(code)
        found = departement_in(out.get("q", ""))
        if found is not None:
            code, rest = found
            out["q"] = rest
            chosen.append(code)
        if tuple(chosen) == _split(query.get("departement", "")):
            return None
        out["departement"] = ",".join(dict.fromkeys(chosen))
        return {k: v for k, v in out.items() if v}

    def parse(self, query: Mapping[str, str]) -> SearchRequest:
        """A search from query-string parameters (``q``, ``trade``, ``origin``, ``departement``, ``town``,
        ``near``, ``radius_km``, ``language``, ``stage``, ``available_on``, ``type``, ``page``, ``limit``); a
        département named in ``near`` or among the words is a ``departement`` filter (:meth:`with_departement`)."""
        query = self.with_departement(query) or query
        q = query.get("q", "").strip()
        if len(q) > 200:
            raise InvalidInput.field("q", "at most 200 characters")
        types = _split(query.get("type", "") or query.get("kind", ""))
        if set(types) - set(TYPES):
            raise InvalidInput.field("type", f"one or more of {', '.join(TYPES)} (comma-separated)")
        trades = tuple(self._trade_code(t) for t in _split(query.get("trade", "")))
        near = None
        if query.get("near"):
            place = self.reference.centre(query["near"], field="near")
            near = Near(place.lat_e6, place.lon_e6, _number(query, "radius_km", DEFAULT_RADIUS_KM, 0.0, 1000.0))
        available_on = query.get("available_on") or None
        if available_on is not None:
            try:
                dt.date.fromisoformat(available_on)
            except ValueError:
                raise InvalidInput.field("available_on", "a date YYYY-MM-DD") from None
        filters = Filters(
            kinds=types,
            origins=_split(query.get("origin", "")),
            trades=trades,
            languages=tuple(v.lower() for v in _split(query.get("language", ""))),
            departements=tuple(v.upper() for v in _split(query.get("departement", ""))),
            towns=_split(query.get("town", "")),
            stages=_split(query.get("stage", "")),
            available_on=available_on,
            near=near,
        )
        page = int(_number(query, "page", 1, 1, 1000))
        size = int(_number(query, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE))
        if not q and filters == Filters():
            raise InvalidInput.field("q", "give words to search for, or at least one filter")
        return SearchRequest(q, filters, page, size)

    def _trade_code(self, value: str) -> str:
        trade = self.reference.trades.by_code(value)
        if trade is not None:
            return trade.rome
        found = self.reference.trades.search(value, limit=1)
        if not found:
            raise InvalidInput.field("trade", f"unknown trade {value!r}")
        return found[0].rome

    # ---------------------------------------------------------------------------------------------- search

    async def search(self, viewer: Viewer, request: SearchRequest, *, facets: bool = True) -> dict[str, Any]:
        """``{"results", "facets", "total", "page"}`` for this viewer (see the module docstring)."""
        scope = Scope(self.origin, viewer.anonymous)
        words = query_words(request.q)

        def read(session: Session) -> tuple[Found, list[dict[str, Any]]]:
            conn = connection(session)
            found = find(
                conn,
                words,
                scope,
                request.filters,
                limit=request.size,
                offset=(request.page - 1) * request.size,
                facets=facets,
            )
            keys = [(h.kind, h.origin, h.record_id, h.distance_km) for h in found.hits]
            return found, self._render(conn, viewer, keys)

        found, results = await self.db.run_read(read)
        return {
            "results": results,
            "facets": self._facet_json(found.facets, viewer) if facets else {},
            "total": found.total,
            "page": request.page,
        }

    def _facet_json(self, facets: Mapping[str, list[tuple[str, int]]], viewer: Viewer) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, values in facets.items():
            rows: list[dict[str, Any]] = []
            for value, count in values[:30]:
                row: dict[str, Any] = {"value": value, "count": count}
                if name == "trade":
                    row["label"] = self.reference.trades.label(value, "fr")
                    row["label_en"] = self.reference.trades.label(value, "en")
                rows.append(row)
            out[name] = rows
        return out

    # ------------------------------------------------------------------------------------------- rendering

    def _render(
        self, conn: Connection, viewer: Viewer, keys: Sequence[tuple[str, str, str, float | None]]
    ) -> list[dict[str, Any]]:
        """The visible fields of each hit, in order; a hit the viewer may not see (any more) is left out."""
        fields: dict[tuple[str, str], dict[str, Any]] = {}
        remote: dict[str, list[str]] = {}
        own: dict[str, list[str]] = {}
        local: set[str] = set()  # our own records that have their row here (whether the viewer may see it or not)
        for kind, origin, record_id, _ in keys:
            (own.setdefault(kind, []) if origin == self.origin else remote.setdefault(origin, [])).append(record_id)
        if own.get("profile"):
            rows = conn.execute(
                text(
                    "SELECT p.record_id, p.account_id, p.data, p.visibility, a.disabled FROM member_profiles p "
                    "JOIN accounts a ON a.id = p.account_id WHERE p.record_id IN :ids"
                ).bindparams(_expanding("ids")),
                {"ids": own["profile"]},
            )
            for record_id, account_id, data, visibility, disabled in rows:
                local.add(record_id)
                if disabled:
                    continue
                level = viewer.level_for(account_id)
                shown = profiles.visible_fields(_json(data) or {}, _json(visibility) or {}, level)
                if shown:
                    fields[(self.origin, record_id)] = shown
        for kind, table in _OWN_THINGS.items():
            if not own.get(kind) or (viewer.anonymous and kind == "mentoring"):
                continue
            visibility = "visibility" if kind != "mentoring" else "'network'"
            sql = f"SELECT record_id, data, {visibility} FROM {table} WHERE record_id IN :ids"  # noqa: S608
            rows = conn.execute(text(sql).bindparams(_expanding("ids")), {"ids": own[kind]})
            for record_id, data, seen_by in rows:
                local.add(record_id)
                if viewer.anonymous and seen_by != "public":
                    continue
                fields[(self.origin, record_id)] = _json(data) or {}
        # one of our own records known only as published (taken back from peers after a restore from an older
        # backup: no local row): shown as the network sees it
        missing = [rid for kind, ids in own.items() for rid in ids if rid not in local and kind in _TAKEN_BACK]
        if missing:
            remote[self.origin] = missing
        for origin, ids in remote.items():
            rows = conn.execute(
                text(
                    "SELECT record_id, type, body FROM records WHERE origin = :o AND deleted = :f AND record_id IN :ids"
                ).bindparams(_expanding("ids")),
                {"o": origin, "f": False, "ids": ids},
            )
            for record_id, kind, body in rows:
                body = _json(body)
                if body is None:
                    continue
                if viewer.anonymous:
                    if kind != "profile":
                        continue
                    public = set(body.get("public") or ())
                    body = {k: v for k, v in body.items() if k in public}
                else:
                    body = {k: v for k, v in body.items() if k != "public"}
                fields[(origin, record_id)] = body
        results: list[dict[str, Any]] = []
        for kind, origin, record_id, distance in keys:
            visible = fields.get((origin, record_id))
            if visible is None:
                continue
            result: dict[str, Any] = {"origin": origin, "type": kind, "id": record_id, "fields": visible}
            if distance is not None:
                result["distance_km"] = round(distance, 1)
            results.append(result)
        return results

    # -------------------------------------------------------------------------------------------- matching

    async def offer_matches(self, viewer: Viewer, origin: str, record_id: str, limit: int = 20) -> dict[str, Any]:
        """The members across the network who best fit an offer: shared trades (related ones count half),
        then distance to the offer's town (unless it is remote), then availability over its dates."""
        scope = Scope(self.origin, viewer.anonymous)

        def read(session: Session) -> list[dict[str, Any]]:
            conn = connection(session)
            offer = self._facets_of(conn, scope, "offer", origin, record_id)
            if offer is None:
                raise NotFound(f"no offer {origin}/{record_id}")
            exact, related = self._codes(offer["trades"])
            near = None
            if offer["lat_e6"] is not None and not offer["remote"]:
                near = Near(offer["lat_e6"], offer["lon_e6"], None)
            filters = Filters(kinds=("profile",), near=near, period=(offer["avail_from"], offer["avail_until"]))
            found = fits(conn, exact, related, scope, filters, limit=limit)
            return self._with_fit(conn, viewer, found)

        return {"results": await self.db.run_read(read)}

    async def member_matches(self, viewer: Viewer, limit: int = 20) -> dict[str, Any]:
        """The open offers and requests that fit the viewer's own trades, town and availability."""
        if viewer.member_id is None:
            raise NotFound("no profile")
        member_id = viewer.member_id
        scope = Scope(self.origin, viewer.anonymous)

        def read(session: Session) -> list[dict[str, Any]]:
            conn = connection(session)
            me = self._facets_of(conn, scope, "profile", self.origin, member_id)
            if me is None:
                return []
            exact, related = self._codes(me["trades"])
            near = Near(me["lat_e6"], me["lon_e6"], None) if me["lat_e6"] is not None else None
            filters = Filters(
                kinds=("offer",), statuses=("open",), near=near, period=(me["avail_from"], me["avail_until"])
            )
            return self._with_fit(conn, viewer, fits(conn, exact, related, scope, filters, limit=limit))

        return {"results": await self.db.run_read(read)}

    def _codes(self, trades: Sequence[str]) -> tuple[list[str], list[str]]:
        related: list[str] = []
        for code in trades:
            trade = self.reference.trades.by_code(code)
            if trade is not None:
                related += [r for r in trade.related if r not in trades and r not in related]
        return list(trades), related

    def _facets_of(
        self, conn: Connection, scope: Scope, kind: str, origin: str, record_id: str
    ) -> dict[str, Any] | None:
        audience = "public" if scope.anonymous else ("coop" if origin == self.origin else "network")
        row = conn.execute(
            text(
                "SELECT lat_e6, lon_e6, avail_from, avail_until FROM search_documents WHERE origin = :o "
                "AND record_id = :r AND audience = :a AND kind = :k"
            ),
            {"o": origin, "r": record_id, "a": audience, "k": kind},
        ).first()
        if row is None:
            return None
        trades = [
            v
            for (v,) in conn.execute(
                text(
                    "SELECT v.value FROM search_documents d JOIN search_tagset_values v ON v.tagset = d.tagset "
                    "WHERE d.origin = :o AND d.record_id = :r AND d.audience = :a AND d.kind = :k "
                    "AND v.facet = 'trade' ORDER BY v.value"
                ),
                {"o": origin, "r": record_id, "a": audience, "k": kind},
            )
        ]
        remote = False
        if kind == "offer":
            body = conn.execute(
                text("SELECT body FROM records WHERE origin = :o AND record_id = :r"), {"o": origin, "r": record_id}
            ).scalar()
            remote = bool((_json(body) or {}).get("remote"))
        return {
            "lat_e6": row[0],
            "lon_e6": row[1],
            "avail_from": row[2],
            "avail_until": row[3],
            "trades": trades,
            "remote": remote,
        }

    def _with_fit(self, conn: Connection, viewer: Viewer, found: Sequence[Any]) -> list[dict[str, Any]]:
        rendered = self._render(conn, viewer, [(f.kind, f.origin, f.record_id, f.distance_km) for f in found])
        overlap = {(f.origin, f.record_id): f.overlap for f in found}
        for result in rendered:
            result["fit"] = overlap[(result["origin"], result["id"])]
        return rendered


def legacy_items(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``items`` of the first search API (``kind``, ``origin``, ``id``, ``item``), kept for its callers."""
    return [{"kind": r["type"], "origin": r["origin"], "id": r["id"], "item": r["fields"]} for r in results]


def _expanding(name: str) -> Any:
    from sqlalchemy import bindparam

    return bindparam(name, expanding=True)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        import json

        return json.loads(value)
    return value


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _number(query: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput.field(name, "must be a number") from None
    if not low <= value <= high:
        raise InvalidInput.field(name, f"must be between {low:g} and {high:g}")
    return value
