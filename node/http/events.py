"""Registering for any coop's event (this coop's at once; another coop's by asking its node), and the
participants of this coop's events. Requests and answers travel as direct records
(:mod:`node.services.remote_events`)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.routing import V1, Route, json_response, member, node_of
from node.http.types import Ms, Origin, RecordId, list_of


class Registration(BaseModel):
    """My registration for an event of any coop: ``confirmed`` at once for this coop's events (with the event);
    ``pending`` until another coop's node answers (``confirmed`` or ``refused``), or ``cancelled``."""

    event_origin: Origin
    event_id: RecordId
    status: str = Field(description="pending, confirmed, refused or cancelled")
    member: str | None = None
    display_name: str | None = None
    requested_at: Ms | None = None
    updated_at: Ms | None = None
    event: dict[str, Any] | None = Field(None, description="this coop's event, as GET /events/{id} shows it")


class Participant(BaseModel):
    origin: Origin
    member: str | None
    display_name: str | None
    since: Ms


class Participants(BaseModel):
    event: RecordId
    seats: int | None
    items: list[Participant]


async def register(request: web.Request, origin: str, id: str) -> web.Response:
    """Register for an event of any coop ({origin}/{id}): another coop's answers later (202, pending)"""
    result = await node_of(request).remote_events.register(member(request), origin, id)
    return json_response(result, 200 if result["status"] == "confirmed" else 202)


async def cancel(request: web.Request, origin: str, id: str) -> web.Response:
    """Cancel my registration for an event of any coop; the organising coop is told"""
    return json_response(await node_of(request).remote_events.cancel(member(request), origin, id))


async def my_registrations(request: web.Request) -> web.Response:
    """My registrations for other coops' events, with what their organisers answered"""
    return json_response({"items": await node_of(request).remote_events.mine(member(request))})


async def participants(request: web.Request, id: str) -> web.Response:
    """Participants of one of this coop's events, members of other coops included (organiser and operators)"""
    return json_response(await node_of(request).remote_events.participants(member(request), id))


EVENTS: Final = f"{V1}/events"
ROUTES: Final = (
    Route(
        "POST",
        EVENTS + "/{origin}/{id}/register",
        register,
        str(register.__doc__),
        "member",
        "support",
        response=Registration,
        status=202,
        also=((200, Registration),),
        errors=(409,),
        operation_id="register_for_any_event",
    ),
    Route(
        "DELETE",
        EVENTS + "/{origin}/{id}/register",
        cancel,
        str(cancel.__doc__),
        "member",
        "support",
        response=Registration,
        operation_id="cancel_any_event_registration",
    ),
    Route(
        "GET",
        f"{V1}/me/event-registrations",
        my_registrations,
        str(my_registrations.__doc__),
        "member",
        "me",
        response=list_of(Registration),
        operation_id="my_event_registrations",
    ),
    Route(
        "GET",
        EVENTS + "/{id}/participants",
        participants,
        str(participants.__doc__),
        "member",
        "support",
        response=Participants,
        operation_id="event_participants",
    ),
)
