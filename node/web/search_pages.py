"""The search page, saved searches and match notifications, over the same services as the JSON API.

The search page is a form over :class:`node.services.finder.Finder` (the ``GET /api/v1/search`` engine): the
filters live in the query string, so a search is a link that can be shared, bookmarked or saved; facet counts
come from SQL over the whole matched set, never from the page's rows. A facet link sets its filter (or clears it
when it is the current one) and keeps the others; links are built here, already encoded, so the template only
prints them.

Markup contract kept for the browser tests: ``li.result[data-origin]`` per result, ``a[data-facet][data-value]``
per facet value, ``aria-current="true"`` on the chosen one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from node.errors import InvalidInput
from node.reference.departements import departement_name
from node.services.finder import PAGE_SIZE
from node.services.saved_searches import clean_query
from node.web.errors import explain
from node.web.i18n import Lang
from node.web.render import (
    coop_names,
    form_of,
    lang_of,
    node_of,
    rate_limit,
    redirect,
    render,
    signed_in,
    viewer_of,
)

RADII: Final = (5, 10, 25, 50)
DEFAULT_RADIUS: Final = "25"
FACET_PARAMS: Final = {
    "origin": "origin",
    "kind": "type",
    "trade": "trade",
    "departement": "departement",
    "language": "language",
    "stage": "stage",
}


def _query_of(request: web.Request) -> dict[str, str]:
    """The search parameters of the page's query string, as a saved search keeps them (:func:`clean_query`:
    empty ones dropped), ``radius_km`` only with ``near``."""
    query = clean_query(request.query)
    if "near" not in query:
        query.pop("radius_km", None)
    return query


def _href(query: Mapping[str, str], **changes: str | None) -> str:
    merged = {**query, **changes}
    return "/search?" + urlencode({k: v for k, v in merged.items() if v})


async def search_page(request: web.Request) -> web.Response:
    """Search the network: words, a place and radius, facets with counts, pages of 20."""
    rate_limit(request, "searches")
    viewer = viewer_of(request)
    s = node_of(request)
    lang = lang_of(request)
    query = _query_of(request)
    rewritten = s.finder.with_departement(query)
    if rewritten is not None:  # "menuisier Seine-Saint-Denis", "Près de : 93": the département as a filter
        raise redirect(_href(rewritten))
    page = request.query.get("page", "1")
    context: dict[str, Any] = {
        "query": query,
        "q": query.get("q", ""),
        "near": query.get("near", ""),
        "radius": query.get("radius_km", DEFAULT_RADIUS),
        "radii": RADII,
        "hidden": {k: v for k, v in query.items() if k not in ("q", "near", "radius_km")},
        "searched": False,
        "error": None,
        "results": [],
        "facets": [],
        "total": 0,
        "pages": None,
        "clear_href": _href({k: v for k, v in query.items() if k in ("q", "near", "radius_km")}),
        "saved": request.query.get("saved") == "1",
        "can_save": False,
        "active_filters": sum(1 for k in query if k not in ("q", "radius_km")),
        "departement_note": None,
    }
    if query:
        finder = s.finder
        try:
            parsed = finder.parse({**query, "page": page if page.isdigit() else "1"})
            found = await finder.search(viewer, parsed)
        except InvalidInput as exc:
            explained = explain(exc, lang)
            context["error"] = next(iter(explained.fields.values()), explained.summary)
            context["error_field"] = next(iter(exc.fields), "q")
            return render(request, "search.html", context, status=422)
        last = max(1, math.ceil(found["total"] / PAGE_SIZE))
        context.update(
            searched=True,
            results=[_row(r) for r in found["results"]],
            facets=_facets(found["facets"], query, lang, coop_names(request)),
            total=found["total"],
            pages={
                "current": parsed.page,
                "last": last,
                "prev": _href(query, page=str(parsed.page - 1)) if parsed.page > 1 else None,
                "next": _href(query, page=str(parsed.page + 1)) if parsed.page < last else None,
            },
            can_save=not viewer.anonymous,
        )
    return render(request, "search.html", context)


def _facets(
    facets: Mapping[str, list[dict[str, Any]]], query: Mapping[str, str], lang: Lang, names: Mapping[str, str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    base = {k: v for k, v in query.items() if k != "page"}
    for name, param in FACET_PARAMS.items():
        values = facets.get(name) or []
        if not values:
            continue
        chosen = query.get(param)
        rows = []
        for row in values:
            value = str(row["value"])
            current = chosen == value
            if name == "trade":
                label = row.get("label_en" if lang.code == "en" else "label") or value
            elif name == "language":
                label = lang.language(value)
            elif name == "kind":
                label = lang.label("record_type", value)
            elif name == "stage":
                label = lang.label("project_stage", value)
            elif name == "departement":
                label = f"{departement_name(value)} ({value})"
            elif name == "origin":
                label = names.get(value, value)
            else:
                label = value
            rows.append(
                {
                    "value": value,
                    "count": row["count"],
                    "label": label,
                    "current": current,
                    "href": _href(base, **{param: None if current else value}),
                }
            )
        out.append({"name": name, "rows": rows})
    return out


def _row(result: Mapping[str, Any]) -> dict[str, Any]:
    """What a result shows: only fields the finder already kept for this viewer."""
    fields = result.get("fields") or {}
    trades = fields.get("trades") or []
    place = fields.get("place")
    town = place.get("town") if isinstance(place, dict) else (place if isinstance(place, str) else None)
    summary = fields.get("bio") or fields.get("note") or fields.get("text") or ""
    return {
        "kind": result["type"],
        "origin": result["origin"],
        "id": result["id"],
        "title": fields.get("display_name")
        or fields.get("title")
        or fields.get("topic")
        or _topics(fields)
        or result["id"],
        "trades": [t for t in trades if isinstance(t, dict)],
        "town": town,
        "distance_km": result.get("distance_km"),
        "summary": _excerpt(str(summary), 200),
    }


def _excerpt(text: str, limit: int) -> str:
    """``text`` cut at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.") + "…"


def _topics(fields: Mapping[str, Any]) -> str | None:
    """A mentoring offer has no title: its topics stand for one."""
    topics = fields.get("topics")
    return ", ".join(str(t) for t in topics)[:120] if isinstance(topics, list) and topics else None


async def save_search_submit(request: web.Request) -> web.StreamResponse:
    """The "Save this search" button: keeps the page's query, then shows the same search again."""
    viewer = signed_in(request)
    form = await form_of(request)
    query = clean_query(form)
    await node_of(request).saved_searches.save(viewer, {**query, "name": form.get("name", "")})
    raise redirect(_href(query, saved="1"))


async def notifications_page(request: web.Request) -> web.Response:
    viewer = signed_in(request)
    job = node_of(request).saved_searches
    found = await job.notifications(viewer)
    searches = await job.list(viewer)
    return render(
        request,
        "notifications.html",
        {
            "notifications": found["items"],
            "unread": found["unread"],
            "searches": [{**s, "href": _href(s["query"])} for s in searches],
        },
    )


async def notifications_read(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    await node_of(request).saved_searches.mark_read(viewer)
    raise redirect("/notifications")


async def delete_saved_search_submit(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    raw = request.match_info["search_id"]
    if not raw.isdigit():
        raise web.HTTPNotFound()
    await node_of(request).saved_searches.delete(viewer, int(raw))
    raise redirect("/notifications")


def search_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/search", search_page),
        web.post("/search/save", save_search_submit),
        web.get("/notifications", notifications_page),
        web.post("/notifications/read", notifications_read),
        web.post("/notifications/searches/{search_id}/delete", delete_saved_search_submit),
    ]
