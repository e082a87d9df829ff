"""Shared spaces and machines: this coop's resources and every coop's (read), bookings of any coop's resource,
the staff's decisions and the qualifications they give. Bookings of another coop's resource travel as direct
records (:mod:`node.services.bookings`)."""

from __future__ import annotations

from typing import Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from node.errors import InvalidInput
from node.http.record_models import dump, record_input, record_view
from node.http.routing import V1, Route, json_response, member, node_of, viewer
from node.http.types import Input, Ms, Origin, RecordId, integer, list_of
from protocol.records import RESOURCE

ResourceInput = record_input(
    RESOURCE,
    "ResourceInput",
    names=[f.name for f in RESOURCE.fields],
    required=["kind", "title"],
)
ResourceView = record_view(RESOURCE, "Resource", extra={"origin": (Origin, ...), "id": (RecordId, ...)})


class BookingInput(Input):
    start: Ms
    end: Ms
    note: str | None = Field(None, max_length=500)


class BookingView(BaseModel):
    """A booking: ``requested`` until another coop's node answers; ``pending`` while the place's staff decide;
    ``confirmed``, ``refused`` (with ``reason``) or ``cancelled``."""

    booking: RecordId
    resource_origin: Origin
    resource_id: RecordId
    member_origin: Origin
    member: str
    display_name: str
    start: Ms
    end: Ms
    status: str
    reason: str | None = None
    note: str | None = None
    updated_at: Ms
    resource_title: str | None = None


class ResourceCalendarQuery(Input):
    start: Ms
    end: Ms


class ResourceCalendarItem(BaseModel):
    start: Ms
    end: Ms
    status: str
    mine: bool
    booking: str | None = None
    member_origin: str | None = None
    display_name: str | None = Field(None, description="to the place's staff and to the member only")


class ResourceCalendar(BaseModel):
    resource: dict[str, Any]
    complete: bool = Field(description="false for another coop's resource: only my own bookings are known here")
    items: list[ResourceCalendarItem]


class BookingDecisionInput(Input):
    decision: Literal["approve", "decline", "cancel"]


class QualificationInput(Input):
    qualification: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    member_origin: Origin
    member: RecordId
    display_name: str | None = Field(None, max_length=120)


class QualificationView(BaseModel):
    qualification: str
    member_origin: Origin
    member: str
    display_name: str
    given_at: Ms


class ResourceListQuery(Input):
    kind: Literal["space", "machine"] | None = None
    limit: integer(1, 500) = 500  # type: ignore[valid-type]


async def list_resources(request: web.Request, query: ResourceListQuery) -> web.Response:
    """Every coop's spaces and machines this node holds (this coop's first)"""
    items = await node_of(request).bookings.resources(query.kind)
    return json_response({"items": items[: query.limit]})


async def publish_resource(request: web.Request, body: BaseModel) -> web.Response:
    """Publish a space or a machine of this coop (staff)"""
    given = {k: v for k, v in dump(body).items() if v is not None}
    return json_response(await node_of(request).bookings.publish(member(request), given), 201)


async def replace_resource(request: web.Request, id: str, body: BaseModel) -> web.Response:
    """Replace one of this coop's resources (staff); status closed stops new bookings"""
    given = {k: v for k, v in dump(body).items() if v is not None}
    return json_response(await node_of(request).bookings.publish(member(request), given, id))


async def get_resource(request: web.Request, origin: str, id: str) -> web.Response:
    """One resource of any coop"""
    return json_response(await node_of(request).bookings.resource(origin, id))


async def resource_calendar(request: web.Request, origin: str, id: str, query: ResourceCalendarQuery) -> web.Response:
    """The bookings of a resource between two times, as this node knows them"""
    if query.end <= query.start or query.end - query.start > 62 * 86_400_000:
        raise InvalidInput.field("end", "must be after start, at most 62 days later")
    bookings = node_of(request).bookings
    return json_response(await bookings.calendar(viewer(request), origin, id, query.start, query.end))


async def book(request: web.Request, origin: str, id: str, body: BookingInput) -> web.Response:
    """Book a slot of any coop's resource: decided at once here (201), or asked of its coop (202, requested);
    a refusal is a 409 saying why"""
    result = await node_of(request).bookings.book(member(request), origin, id, body.start, body.end, body.note)
    return json_response(result, 202 if result["status"] == "requested" else 201)


async def my_bookings(request: web.Request) -> web.Response:
    """My bookings of any coop's resources, soonest first"""
    return json_response({"items": await node_of(request).bookings.mine(member(request))})


async def cancel_booking(request: web.Request, booking_id: str) -> web.Response:
    """Cancel one of my bookings (another coop's place is told)"""
    return json_response(await node_of(request).bookings.cancel(member(request), booking_id))


async def pending_bookings(request: web.Request) -> web.Response:
    """Bookings of this coop's resources waiting for the staff (staff)"""
    return json_response({"items": await node_of(request).bookings.pending(member(request))})


async def decide_booking(
    request: web.Request, origin: str, booking_id: str, body: BookingDecisionInput
) -> web.Response:
    """Approve, decline or cancel a booking of this coop's resource (staff); the member's coop is told"""
    bookings = node_of(request).bookings
    return json_response(await bookings.decide(member(request), origin, booking_id, body.decision))


async def list_qualifications(request: web.Request) -> web.Response:
    """The qualifications this coop's staff gave, to members of any coop (staff)"""
    return json_response({"items": await node_of(request).bookings.qualifications(member(request))})


async def give_qualification(request: web.Request, body: QualificationInput) -> web.Response:
    """Record that a member of any coop holds a qualification (an induction) this coop's machines ask for (staff)"""
    result = await node_of(request).bookings.qualify(
        member(request), body.qualification, body.member_origin, body.member, body.display_name or ""
    )
    return json_response(result, 201)


class CalendarFeedView(BaseModel):
    """My private calendar feed: its address holds a secret (shown once; a new one stops the old one)."""

    url: str = Field(description="subscribe to it in a calendar program (iCalendar)")


async def make_calendar_feed(request: web.Request) -> web.Response:
    """Make a new secret address of my calendar feed (my bookings and my events); the old one stops working"""
    node = node_of(request)
    token = await node.feeds.make_private_feed(member(request))
    return json_response({"url": f"{node.config.url.rstrip('/')}/feeds/me/{token}.ics"}, 201)


RESOURCES: Final = f"{V1}/resources"
ROUTES: Final = (
    Route(
        "GET",
        RESOURCES,
        list_resources,
        str(list_resources.__doc__),
        "anyone",
        "bookings",
        query=ResourceListQuery,
        response=list_of(ResourceView),
        operation_id="list_resources",
    ),
    Route(
        "POST",
        RESOURCES,
        publish_resource,
        str(publish_resource.__doc__),
        "staff",
        "bookings",
        body=ResourceInput,
        response=ResourceView,
        status=201,
        operation_id="publish_resource",
    ),
    Route(
        "PUT",
        RESOURCES + "/{id}",
        replace_resource,
        str(replace_resource.__doc__),
        "staff",
        "bookings",
        body=ResourceInput,
        response=ResourceView,
        operation_id="replace_resource",
    ),
    Route(
        "GET",
        RESOURCES + "/{origin}/{id}",
        get_resource,
        str(get_resource.__doc__),
        "anyone",
        "bookings",
        response=ResourceView,
        operation_id="get_resource",
    ),
    Route(
        "GET",
        RESOURCES + "/{origin}/{id}/bookings",
        resource_calendar,
        str(resource_calendar.__doc__),
        "anyone",
        "bookings",
        query=ResourceCalendarQuery,
        response=ResourceCalendar,
        operation_id="resource_calendar",
    ),
    Route(
        "POST",
        RESOURCES + "/{origin}/{id}/bookings",
        book,
        str(book.__doc__),
        "member",
        "bookings",
        body=BookingInput,
        response=BookingView,
        status=201,
        also=((202, BookingView),),
        errors=(409,),
        operation_id="book_resource",
    ),
    Route(
        "GET",
        f"{V1}/me/bookings",
        my_bookings,
        str(my_bookings.__doc__),
        "member",
        "me",
        response=list_of(BookingView),
        operation_id="my_bookings",
    ),
    Route(
        "DELETE",
        f"{V1}/me/bookings/{{booking_id}}",
        cancel_booking,
        str(cancel_booking.__doc__),
        "member",
        "me",
        response=BookingView,
        operation_id="cancel_my_booking",
    ),
    Route(
        "POST",
        f"{V1}/me/calendar-feed",
        make_calendar_feed,
        str(make_calendar_feed.__doc__),
        "member",
        "me",
        response=CalendarFeedView,
        status=201,
        operation_id="make_my_calendar_feed",
    ),
    Route(
        "GET",
        f"{V1}/bookings/pending",
        pending_bookings,
        str(pending_bookings.__doc__),
        "staff",
        "bookings",
        response=list_of(BookingView),
        operation_id="pending_bookings",
    ),
    Route(
        "POST",
        f"{V1}/bookings/{{origin}}/{{booking_id}}/decision",
        decide_booking,
        str(decide_booking.__doc__),
        "staff",
        "bookings",
        body=BookingDecisionInput,
        response=BookingView,
        errors=(409,),
        operation_id="decide_booking",
    ),
    Route(
        "GET",
        f"{V1}/qualifications",
        list_qualifications,
        str(list_qualifications.__doc__),
        "staff",
        "bookings",
        response=list_of(QualificationView),
        operation_id="list_qualifications",
    ),
    Route(
        "POST",
        f"{V1}/qualifications",
        give_qualification,
        str(give_qualification.__doc__),
        "staff",
        "bookings",
        body=QualificationInput,
        response=QualificationView,
        status=201,
        errors=(404,),  # a member this node knows no profile of, when no display_name is given
        operation_id="give_qualification",
    ),
)
