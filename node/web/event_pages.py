"""The events page with registration across coops: a member registers for any coop's event from here, sees where
each registration stands, and an event's organiser (or an operator) sees who comes, from every coop.

Lives apart from :mod:`node.web.pages` (which lists the routes) so the cross-coop flow stays in one place.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.web.render import node_of, redirect, render, signed_in


async def events_page(request: web.Request) -> web.Response:
    """Every coop's events; for each, the viewer's registration state and, to organisers, the participants."""
    v = signed_in(request)
    node = node_of(request)
    items = await node.things.network_records("event")
    service = node.remote_events
    states: dict[str, str] = {}
    if v.member_id is not None:
        states = {f"{r['event_origin']}/{r['event_id']}": r["status"] for r in await service.mine(v)}
    participants: dict[str, list[dict[str, Any]]] = {}
    own = [i["id"] for i in items if i["origin"] == node.config.name]
    mine, organised = await node.things.event_roles(v, own)
    states.update({f"{node.config.name}/{event_id}": "confirmed" for event_id in mine})
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
    result = await node_of(request).remote_events.register(v, origin, event_id)  # refusals: the error page
    raise redirect("/events?done=" + ("registered" if result["status"] == "confirmed" else "pending"))


async def cancel_any(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    await node_of(request).remote_events.cancel(v, origin, event_id)
    raise redirect("/events?done=cancelled")


def event_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/events", events_page),
        web.post("/events/{origin}/{id}/register", register_any),
        web.post("/events/{origin}/{id}/cancel", cancel_any),
    ]
