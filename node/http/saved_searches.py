"""Saved searches and the notifications of their new matches (the job that finds them is in
:mod:`node.jobs`)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.errors import InvalidInput
from node.http.routing import Route, json_response, member, node_of, path_int, read_json, read_object

# ------------------------------------------------------------------------------------------------ handlers


async def save_search(request: web.Request) -> web.Response:
    """Save a search ({q, name?, and the search filters}); new matches become notifications"""
    body = await read_object(request)
    saved = await node_of(request).saved_searches.save(member(request), body)
    return json_response(saved, 201)


async def list_saved_searches(request: web.Request) -> web.Response:
    """My saved searches"""
    items = await node_of(request).saved_searches.list(member(request))
    return json_response({"items": items})


async def delete_saved_search(request: web.Request) -> web.Response:
    """Delete one of my saved searches and its notifications"""
    await node_of(request).saved_searches.delete(member(request), path_int(request, "search_id"))
    return web.Response(status=204)


async def list_notifications(request: web.Request) -> web.Response:
    """My notifications (new matches of my saved searches), newest first; ?unread=1 for unread ones only"""
    unread_only = request.query.get("unread") in ("1", "true")
    found = await node_of(request).saved_searches.notifications(member(request), unread_only=unread_only)
    return json_response(found)


async def read_notifications(request: web.Request) -> web.Response:
    """Mark notifications as read ({ids?}: all of mine when absent)"""
    body = await read_json(request)
    ids = body.get("ids") if isinstance(body, dict) else None
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise InvalidInput.field("ids", "must be a list of integers")
    changed = await node_of(request).saved_searches.mark_read(member(request), ids)
    return json_response({"marked": changed})


BASE: Final = "/api/v1/me"
ROUTES: Final = (
    Route(
        "POST",
        f"{BASE}/saved-searches",
        save_search,
        str(save_search.__doc__),
        "member",
        "me",
        body="{q, name, type, trade, origin, departement, town, near, radius_km, language, stage}",
        status=201,
    ),
    Route("GET", f"{BASE}/saved-searches", list_saved_searches, str(list_saved_searches.__doc__), "member", "me"),
    Route(
        "DELETE",
        f"{BASE}/saved-searches/{{search_id}}",
        delete_saved_search,
        str(delete_saved_search.__doc__),
        "member",
        "me",
        status=204,
    ),
    Route(
        "GET",
        f"{BASE}/notifications",
        list_notifications,
        str(list_notifications.__doc__),
        "member",
        "me",
        query=("unread",),
    ),
    Route("POST", f"{BASE}/notifications/read", read_notifications, str(read_notifications.__doc__), "member", "me"),
)
