"""Registering for other coops' events: the API, installed as an extension after federation.

Routes are declared once in :data:`REMOTE_EVENT_ROUTES` with the core API's :class:`~node.http.api.Route`; a handler's
docstring is its summary in the OpenAPI document.

Requests and answers arrive as ``message`` entries (see :mod:`node.services.remote_events_wire`); this extension
routes them to :meth:`node.services.remote_events.RemoteEvents.receive` before the inbox sees them, by wrapping
the started federation store's ``deliver`` as :mod:`node.http.moves` does (each wrapper passes on what is not
its own, so they compose in any order).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from node.federation_adapter.wiring import STORE_KEY
from node.http.api import Route, add_routes, json_response, member
from node.http.moves import notifier
from node.http.state import SERVICES_KEY, NodeServices
from node.services.remote_events import RemoteEvents
from node.services.remote_events_wire import is_event_registration_message
from protocol import Record


def remote_events_of(app: web.Application) -> RemoteEvents:
    return RemoteEvents(app[SERVICES_KEY], notifier(app))


async def receive_event_message(app_or_services: web.Application | NodeServices, record: Record) -> bool:
    """Take in a received registration request or answer; True when this node's state changed."""
    if isinstance(app_or_services, web.Application):
        return await remote_events_of(app_or_services).receive(record)
    return await RemoteEvents(app_or_services).receive(record)


# ------------------------------------------------------------------------------------------------ handlers


async def register(request: web.Request) -> web.Response:
    """Register for an event of any coop ({origin}/{id}): another coop's answers later (202, pending)"""
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    result = await remote_events_of(request.app).register(member(request), origin, event_id)
    return json_response(result, 200 if result["status"] == "confirmed" else 202)


async def cancel(request: web.Request) -> web.Response:
    """Cancel my registration for an event of any coop; the organising coop is told"""
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    return json_response(await remote_events_of(request.app).cancel(member(request), origin, event_id))


async def my_registrations(request: web.Request) -> web.Response:
    """My registrations for other coops' events, with what their organisers answered"""
    return json_response({"items": await remote_events_of(request.app).mine(member(request))})


async def participants(request: web.Request) -> web.Response:
    """Participants of one of this coop's events, members of other coops included (organiser and operators)"""
    return json_response(await remote_events_of(request.app).participants(member(request), request.match_info["id"]))


EVENTS: Final = "/api/v1/events"
REMOTE_EVENT_ROUTES: Final[tuple[Route, ...]] = (
    Route("POST", EVENTS + "/{origin}/{id}/register", register, str(register.__doc__), "member", "support", status=202),
    Route("DELETE", EVENTS + "/{origin}/{id}/register", cancel, str(cancel.__doc__), "member", "support"),
    Route("GET", "/api/v1/me/event-registrations", my_registrations, str(my_registrations.__doc__), "member", "me"),
    Route("GET", EVENTS + "/{id}/participants", participants, str(participants.__doc__), "member", "support"),
)


# ------------------------------------------------------------------------------------------------ install


def remote_events_extension(app: web.Application) -> None:
    """Install cross-coop event registration (after :func:`node.federation_adapter.wiring.federation_extension`)."""
    add_routes(app, REMOTE_EVENT_ROUTES)
    app.cleanup_ctx.append(_route_event_messages)


async def _route_event_messages(app: web.Application) -> AsyncIterator[None]:
    """Routing: registration messages go to this service, every other message to the previous ``deliver``.

    Replace by routing in the federation's message handling once registrations have a record type.
    """
    store = app.get(STORE_KEY)
    if store is not None:

        async def handle(record: Record, received_at: int) -> bool:
            return await receive_event_message(app, record)

        store.route_messages(is_event_registration_message, handle)
    yield
