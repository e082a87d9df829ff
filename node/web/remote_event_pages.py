"""The events page with registration across coops: a member registers for any coop's event from here, sees where
each registration stands, and an event's organiser (or an operator) sees who comes, from every coop.

Lives apart from :mod:`node.web.pages` (which lists the routes) so the cross-coop flow stays in one place.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from node.http.events import remote_events_of
from node.storage.models import Event, EventRegistration
from node.web.pages import network_records, redirect, render, s_of, signed_in


async def events_page(request: web.Request) -> web.Response:
    """Every coop's events; for each, the viewer's registration state and, to organisers, the participants."""
    v = signed_in(request)
    s = s_of(request)
    items = await network_records(request, "event")
    service = remote_events_of(request.app)
    states: dict[str, str] = {}
    if v.member_id is not None:
        states = {f"{r['event_origin']}/{r['event_id']}": r["status"] for r in await service.mine(v)}
    participants: dict[str, list[dict[str, Any]]] = {}
    async with s.db.read() as session:
        own = [i["id"] for i in items if i["origin"] == s.config.name]
        mine = set(
            await session.scalars(
                select(Event.record_id)
                .join(EventRegistration, EventRegistration.event_id == Event.id)
                .where(Event.record_id.in_(own), EventRegistration.account_id == v.account_id)
            )
        )
        organised = set(
            await session.scalars(
                select(Event.record_id).where(
                    Event.record_id.in_(own), *(() if v.is_operator else (Event.author_id == v.account_id,))
                )
            )
        )
    states.update({f"{s.config.name}/{event_id}": "confirmed" for event_id in mine})
    for event_id in organised:
        participants[event_id] = (await service.participants(v, event_id))["items"]
    return render(
        request,
        "events.html",
        {"items": items, "states": states, "participants": participants, "done": request.query.get("done")},
    )


async def register_any(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    result = await remote_events_of(request.app).register(v, origin, event_id)  # refusals: the error page
    raise redirect("/events?done=" + ("registered" if result["status"] == "confirmed" else "pending"))


async def cancel_any(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    await remote_events_of(request.app).cancel(v, origin, event_id)
    raise redirect("/events?done=cancelled")


def remote_event_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/events", events_page),
        web.post("/events/{origin}/{id}/register", register_any),
        web.post("/events/{origin}/{id}/cancel", cancel_any),
    ]
