"""Registering for any coop's event (this coop's at once; another coop's by asking its node), and the
participants of this coop's events. Requests and answers travel as direct records
(:mod:`node.services.remote_events`)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, member, node_of


async def register(request: web.Request) -> web.Response:
    """Register for an event of any coop ({origin}/{id}): another coop's answers later (202, pending)"""
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    result = await node_of(request).remote_events.register(member(request), origin, event_id)
    return json_response(result, 200 if result["status"] == "confirmed" else 202)


async def cancel(request: web.Request) -> web.Response:
    """Cancel my registration for an event of any coop; the organising coop is told"""
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    return json_response(await node_of(request).remote_events.cancel(member(request), origin, event_id))


async def my_registrations(request: web.Request) -> web.Response:
    """My registrations for other coops' events, with what their organisers answered"""
    return json_response({"items": await node_of(request).remote_events.mine(member(request))})


async def participants(request: web.Request) -> web.Response:
    """Participants of one of this coop's events, members of other coops included (organiser and operators)"""
    found = await node_of(request).remote_events.participants(member(request), request.match_info["id"])
    return json_response(found)


EVENTS: Final = f"{V1}/events"
ROUTES: Final = (
    Route("POST", EVENTS + "/{origin}/{id}/register", register, str(register.__doc__), "member", "support", status=202),
    Route("DELETE", EVENTS + "/{origin}/{id}/register", cancel, str(cancel.__doc__), "member", "support"),
    Route("GET", f"{V1}/me/event-registrations", my_registrations, str(my_registrations.__doc__), "member", "me"),
    Route("GET", EVENTS + "/{id}/participants", participants, str(participants.__doc__), "member", "support"),
)
