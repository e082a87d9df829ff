"""Saved searches and match notifications: the JSON API and the scheduled job, installed as an extension.

The job is an asyncio task started in a ``cleanup_ctx`` (so it lives exactly as long as the application and is
cancelled on shutdown); every ``BIGRE_SAVED_SEARCH_SECONDS`` (default 300) it calls
:meth:`node.services.saved_searches.SavedSearches.run_due`, the function tests drive directly with a manual
clock. A failed run is logged and the next one tries again: a notification is late, never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from node.errors import InvalidInput
from node.http.api import Route, add_routes, finder_of, json_response, member, read_json
from node.http.state import SERVICES_KEY, NodeServices
from node.services.saved_searches import SavedSearches

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S: Final = 300.0
JOB_KEY: Final = web.AppKey("bigre_saved_search_job", asyncio.Task[None])


def saved_searches_of(s: NodeServices) -> SavedSearches:
    return SavedSearches(s.db, finder_of(s), s.clock)


def interval_seconds() -> float:
    """The job's period from ``BIGRE_SAVED_SEARCH_SECONDS`` (a positive number of seconds)."""
    raw = os.environ.get("BIGRE_SAVED_SEARCH_SECONDS", "")
    try:
        value = float(raw) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        log.warning("BIGRE_SAVED_SEARCH_SECONDS=%r is not a number; using %g", raw, DEFAULT_INTERVAL_S)
        return DEFAULT_INTERVAL_S
    return value if value > 0 else DEFAULT_INTERVAL_S


# ------------------------------------------------------------------------------------------------ handlers


async def save_search(request: web.Request) -> web.Response:
    """Save a search ({q, name?, and the search filters}); new matches become notifications"""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    saved = await saved_searches_of(request.app[SERVICES_KEY]).save(member(request), body)
    return json_response(saved, 201)


async def list_saved_searches(request: web.Request) -> web.Response:
    """My saved searches"""
    items = await saved_searches_of(request.app[SERVICES_KEY]).list(member(request))
    return json_response({"items": items})


async def delete_saved_search(request: web.Request) -> web.Response:
    """Delete one of my saved searches and its notifications"""
    raw = request.match_info["search_id"]
    if not raw.isdigit():
        raise InvalidInput.field("search_id", "must be an integer")
    await saved_searches_of(request.app[SERVICES_KEY]).delete(member(request), int(raw))
    return web.Response(status=204)


async def list_notifications(request: web.Request) -> web.Response:
    """My notifications (new matches of my saved searches), newest first; ?unread=1 for unread ones only"""
    unread_only = request.query.get("unread") in ("1", "true")
    found = await saved_searches_of(request.app[SERVICES_KEY]).notifications(member(request), unread_only=unread_only)
    return json_response(found)


async def read_notifications(request: web.Request) -> web.Response:
    """Mark notifications as read ({ids?}: all of mine when absent)"""
    body = await read_json(request)
    ids = body.get("ids") if isinstance(body, dict) else None
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise InvalidInput.field("ids", "must be a list of integers")
    changed = await saved_searches_of(request.app[SERVICES_KEY]).mark_read(member(request), ids)
    return json_response({"marked": changed})


BASE: Final = "/api/v1/me"
SAVED_SEARCH_ROUTES: Final[tuple[Route, ...]] = (
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


# ------------------------------------------------------------------------------------------------- the job


async def run_forever(services: NodeServices, seconds: float) -> None:
    """Run the saved searches every ``seconds`` until cancelled."""
    job = saved_searches_of(services)
    while True:
        await asyncio.sleep(seconds)
        try:
            created = await job.run_due()
        except Exception:  # a failed run must not end the job
            log.exception("saved searches: run failed; retrying in %g s", seconds)
        else:
            if created:
                log.info("saved searches: %d new notifications", created)


async def _job_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(run_forever(app[SERVICES_KEY], interval_seconds()), name="saved-searches")
    app[JOB_KEY] = task
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def saved_search_extension(app: web.Application) -> None:
    """Install the saved-search API and its scheduled job on a node application."""
    add_routes(app, SAVED_SEARCH_ROUTES)
    app.cleanup_ctx.append(_job_ctx)
