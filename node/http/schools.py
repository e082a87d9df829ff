"""Schools ask for discovery sessions (issue 16): the public form (no account, guarded by a honeypot, a signed time
token and a rate limit) and the education coordinators' work on the requests (:mod:`node.services.schools`)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from node.http.routing import V1, Route, json_response, member, node_of
from node.http.types import Input, Ms, Origin, RecordId, list_of


class SchoolForm(BaseModel):
    token: str = Field(description="send it back with the form, at least a few seconds later")
    honeypot: str = Field(description="the name of the field people leave empty")


class SchoolRequestInput(Input):
    school: str = Field(max_length=200)
    town: str = Field(max_length=80)
    class_level: str = Field(max_length=80)
    dates: str = Field(max_length=200, description="the dates or period the class could receive someone")
    topic: str = Field(max_length=200)
    contact_name: str = Field(max_length=120)
    contact_email: str = Field(max_length=254)
    message: str | None = Field(None, max_length=2000)
    token: str = Field(max_length=100, description="the token GET /school-requests/form gave")
    website: str | None = Field(None, max_length=200, description="leave empty")


class Received(BaseModel):
    received: bool


class Volunteer(Input):
    origin: Origin
    member: RecordId
    name: str | None = Field(None, max_length=120)


class Volunteers(Input):
    volunteers: list[Volunteer] = Field(max_length=20)


class SchoolEventInput(Input):
    start: Ms
    end: Ms | None = None
    title: str | None = Field(None, max_length=140)
    description: str | None = Field(None, max_length=4000)


class SchoolRequestView(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    school: str
    town: str
    status: str = Field(description="new, planned (an event) or declined")
    volunteers: list[dict[str, Any]]
    event_id: str | None
    created_at: Ms


class StatusQuery(Input):
    status: str | None = Field(None, max_length=16, description="new, planned or declined")


async def form(request: web.Request) -> web.Response:
    """A token for the schools' form (send the form back with it)"""
    return json_response({"token": node_of(request).schools.challenge(), "honeypot": "website"})


async def submit(request: web.Request, body: SchoolRequestInput) -> web.Response:
    """A teacher asks for a discovery session (no account); the coop's education coordinators get it"""
    fields = body.model_dump(exclude_none=True)
    token = str(fields.pop("token"))
    await node_of(request).schools.submit(fields, token, request.remote or "unknown")
    return json_response({"received": True}, 202)


async def list_requests(request: web.Request, query: StatusQuery) -> web.Response:
    """The schools' requests, newest first (education coordinators: advisors and operators)"""
    return json_response({"items": await node_of(request).schools.requests(member(request), query.status)})


async def get_request(request: web.Request, number: int) -> web.Response:
    """One school request"""
    return json_response(await node_of(request).schools.get(member(request), number))


async def set_volunteers(request: web.Request, number: int, body: Volunteers) -> web.Response:
    """The members (of any coop, found with the search) who will go"""
    volunteers = [v.model_dump(exclude_none=True) for v in body.volunteers]
    return json_response(await node_of(request).schools.set_volunteers(member(request), number, volunteers))


async def make_event(request: web.Request, number: int, body: SchoolEventInput) -> web.Response:
    """Turn a request into an event for the audience school (the volunteers of this coop are told)"""
    made = await node_of(request).schools.make_event(member(request), number, body.model_dump(exclude_none=True))
    return json_response(made, 201)


async def decline(request: web.Request, number: int) -> web.Response:
    """Decline a request the coop cannot take"""
    return json_response(await node_of(request).schools.decline(member(request), number))


BASE: Final = f"{V1}/school-requests"
ROUTES: Final = (
    Route("GET", BASE + "/form", form, str(form.__doc__), "anyone", "schools", response=SchoolForm),
    Route(
        "POST",
        BASE,
        submit,
        str(submit.__doc__),
        "anyone",
        "schools",
        body=SchoolRequestInput,
        response=Received,
        status=202,
        errors=(429,),
        operation_id="ask_school_session",
    ),
    Route(
        "GET",
        BASE,
        list_requests,
        str(list_requests.__doc__),
        "staff",
        "schools",
        query=StatusQuery,
        response=list_of(SchoolRequestView),
        operation_id="list_school_requests",
    ),
    Route(
        "GET",
        BASE + "/{number}",
        get_request,
        str(get_request.__doc__),
        "staff",
        "schools",
        response=SchoolRequestView,
        operation_id="get_school_request",
    ),
    Route(
        "PUT",
        BASE + "/{number}/volunteers",
        set_volunteers,
        str(set_volunteers.__doc__),
        "staff",
        "schools",
        body=Volunteers,
        response=SchoolRequestView,
        operation_id="set_school_volunteers",
    ),
    Route(
        "POST",
        BASE + "/{number}/event",
        make_event,
        str(make_event.__doc__),
        "staff",
        "schools",
        body=SchoolEventInput,
        response=SchoolRequestView,
        status=201,
        errors=(409,),
        operation_id="school_request_event",
    ),
    Route(
        "POST",
        BASE + "/{number}/decline",
        decline,
        str(decline.__doc__),
        "staff",
        "schools",
        response=SchoolRequestView,
        errors=(409,),
        operation_id="decline_school_request",
    ),
)
