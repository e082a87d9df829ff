"""Mentoring programmes (issue 16): programmes of every coop, joining one, the coordinators' suggestions and
proposals, the pairs, their answers and check-ins. The pairs travel between the pair's nodes as direct records
(:mod:`node.services.mentoring`)."""

from __future__ import annotations

from typing import Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from node.http.routing import V1, Route, json_response, member, node_of
from node.http.types import Date, Input, Ms, Origin, RecordId, integer, list_of


class ProgrammeInput(Input):
    name: str = Field(max_length=120)
    description: str | None = Field(None, max_length=4000)
    cohort_start: Date
    cohort_end: Date
    mentees: list[Literal["first_year", "under_30", "any"]] = Field(
        ["any"], max_length=3, description="who may be a mentee: members in their first year, under 30, anyone"
    )
    topics: list[str] | None = Field(None, max_length=10)
    languages: list[str] | None = Field(None, max_length=10)
    status: Literal["open", "running", "closed"] = "open"


class ProgrammeStatus(Input):
    status: Literal["open", "running", "closed"]


class Programme(BaseModel):
    """A programme of any coop; its coordinators also see ``figures``."""

    model_config = ConfigDict(extra="allow")
    origin: Origin
    id: RecordId
    name: str
    cohort_start: str
    cohort_end: str
    status: str


class JoinInput(Input):
    role: Literal["mentor", "mentee"]
    topics: list[str] | None = Field(None, max_length=10)
    languages: list[str] | None = Field(None, max_length=10)
    note: str | None = Field(None, max_length=2000)
    cadence: str | None = Field(None, max_length=80)
    capacity: integer(1, 20, "a mentor's number of mentees at once") | None = None  # type: ignore[valid-type]
    under_30: bool | None = Field(None, description="a mentee says they are under 30 (programmes open to them)")


class Joined(BaseModel):
    model_config = ConfigDict(extra="allow")
    origin: Origin
    id: RecordId
    kind: str


class Suggestion(BaseModel):
    model_config = ConfigDict(extra="allow")
    score: int
    reasons: list[str] = Field(description="same_trade, same_departement, shared_language, free_mentor...")
    mentee: dict[str, Any]
    mentor: dict[str, Any]


class RecordRef(Input):
    origin: Origin
    id: RecordId


class ProposeInput(Input):
    programme: RecordId = Field(description="one of this coop's programmes")
    mentor: RecordRef = Field(description="the mentor's mentoring offer")
    mentee: RecordRef = Field(description="the mentee's mentoring request")
    note: str | None = Field(None, max_length=2000)


class Pair(BaseModel):
    """A mentoring pair; its coordinators also see the members' closing ``feedback``."""

    model_config = ConfigDict(extra="allow")
    id: RecordId
    coordinator_node: Origin
    programme: str
    programme_name: str
    mentor: dict[str, Any]
    mentee: dict[str, Any]
    status: str = Field(description="proposed, active, declined or closed")
    updated_at: Ms


class AnswerInput(Input):
    action: Literal["accept", "decline", "close"]
    feedback: str | None = Field(None, max_length=2000, description="with close: a few words for the coordinator")


class CheckinInput(Input):
    date: Date
    note: str | None = Field(None, max_length=1000, description="seen by the pair and the coordinator only")


class Checkin(BaseModel):
    id: str
    date: str
    note: str
    by_name: str


async def programmes(request: web.Request) -> web.Response:
    """Every coop's mentoring programmes"""
    return json_response({"items": await node_of(request).mentorships.programmes(member(request))})


async def create_programme(request: web.Request, body: ProgrammeInput) -> web.Response:
    """Publish a mentoring programme of this coop (its advisors and operators coordinate it)"""
    made = await node_of(request).mentorships.create_programme(member(request), body.model_dump(exclude_none=True))
    return json_response(made, 201)


async def programme(request: web.Request, origin: str, id: str) -> web.Response:
    """One programme, its mentors and mentees; for its coordinators, its figures"""
    return json_response(await node_of(request).mentorships.programme(member(request), origin, id))


async def join(request: web.Request, origin: str, id: str, body: JoinInput) -> web.Response:
    """Volunteer as a mentor or apply as a mentee of a programme (of any coop)"""
    made = await node_of(request).mentorships.join(member(request), origin, id, body.model_dump(exclude_none=True))
    return json_response(made, 201)


async def set_status(request: web.Request, id: str, body: ProgrammeStatus) -> web.Response:
    """Open, run or close one of this coop's programmes"""
    return json_response(await node_of(request).mentorships.set_programme_status(member(request), id, body.status))


async def suggestions(request: web.Request, id: str) -> web.Response:
    """Ranked mentor-mentee suggestions for one of this coop's programmes"""
    return json_response({"items": await node_of(request).mentorships.suggestions(member(request), id)})


async def programme_pairs(request: web.Request, id: str) -> web.Response:
    """Every pair of one of this coop's programmes"""
    return json_response({"items": await node_of(request).mentorships.programme_pairs(member(request), id)})


async def propose(request: web.Request, body: ProposeInput) -> web.Response:
    """Propose a pair: the mentor's and the mentee's coops are sent it, each member accepts on their own node"""
    made = await node_of(request).mentorships.propose(member(request), body.model_dump(exclude_none=True))
    return json_response(made, 201)


async def my_pairs(request: web.Request) -> web.Response:
    """The mentoring pairs I am in"""
    return json_response({"items": await node_of(request).mentorships.my_pairs(member(request))})


async def pair(request: web.Request, id: str) -> web.Response:
    """One pair and its check-ins (the pair's members and the programme's coordinators only)"""
    return json_response(await node_of(request).mentorships.pair(member(request), id))


async def answer(request: web.Request, id: str, body: AnswerInput) -> web.Response:
    """Accept, decline or close (with feedback) a pair I am in"""
    made = await node_of(request).mentorships.answer(member(request), id, body.action, body.feedback or "")
    return json_response(made)


async def checkin(request: web.Request, id: str, body: CheckinInput) -> web.Response:
    """Record a meeting of an active pair (sent to the pair's other coops only)"""
    made = await node_of(request).mentorships.checkin(member(request), id, body.date, body.note or "")
    return json_response(made, 201)


PROGRAMMES: Final = f"{V1}/mentoring-programmes"
COORDINATION: Final = f"{V1}/coordination"
PAIRS: Final = f"{V1}/mentoring-pairs"
ROUTES: Final = (
    Route(
        "GET",
        PROGRAMMES,
        programmes,
        str(programmes.__doc__),
        "member",
        "mentoring",
        response=list_of(Programme),
        operation_id="list_mentoring_programmes",
    ),
    Route(
        "POST",
        PROGRAMMES,
        create_programme,
        str(create_programme.__doc__),
        "staff",
        "mentoring",
        body=ProgrammeInput,
        response=Programme,
        status=201,
        operation_id="create_mentoring_programme",
    ),
    Route(
        "GET",
        PROGRAMMES + "/{origin}/{id}",
        programme,
        str(programme.__doc__),
        "member",
        "mentoring",
        response=Programme,
        operation_id="get_mentoring_programme",
    ),
    Route(
        "POST",
        PROGRAMMES + "/{origin}/{id}/join",
        join,
        str(join.__doc__),
        "member",
        "mentoring",
        body=JoinInput,
        response=Joined,
        status=201,
        errors=(409,),
        operation_id="join_mentoring_programme",
    ),
    Route(
        "PATCH",
        COORDINATION + "/programmes/{id}",
        set_status,
        str(set_status.__doc__),
        "staff",
        "mentoring",
        body=ProgrammeStatus,
        response=Programme,
        operation_id="set_mentoring_programme_status",
    ),
    Route(
        "GET",
        COORDINATION + "/programmes/{id}/suggestions",
        suggestions,
        str(suggestions.__doc__),
        "staff",
        "mentoring",
        response=list_of(Suggestion),
        operation_id="mentoring_suggestions",
    ),
    Route(
        "GET",
        COORDINATION + "/programmes/{id}/pairs",
        programme_pairs,
        str(programme_pairs.__doc__),
        "staff",
        "mentoring",
        response=list_of(Pair),
        operation_id="mentoring_programme_pairs",
    ),
    Route(
        "POST",
        COORDINATION + "/pairs",
        propose,
        str(propose.__doc__),
        "staff",
        "mentoring",
        body=ProposeInput,
        response=Pair,
        status=201,
        errors=(404, 409),
        operation_id="propose_mentoring_pair",
    ),
    Route(
        "GET",
        f"{V1}/me/mentoring-pairs",
        my_pairs,
        str(my_pairs.__doc__),
        "member",
        "me",
        response=list_of(Pair),
        operation_id="my_mentoring_pairs",
    ),
    Route(
        "GET",
        PAIRS + "/{id}",
        pair,
        str(pair.__doc__),
        "member",
        "mentoring",
        response=Pair,
        operation_id="get_mentoring_pair",
    ),
    Route(
        "POST",
        PAIRS + "/{id}/answer",
        answer,
        str(answer.__doc__),
        "member",
        "mentoring",
        body=AnswerInput,
        response=Pair,
        errors=(409,),
        operation_id="answer_mentoring_pair",
    ),
    Route(
        "POST",
        PAIRS + "/{id}/checkins",
        checkin,
        str(checkin.__doc__),
        "member",
        "mentoring",
        body=CheckinInput,
        response=Checkin,
        status=201,
        errors=(409,),
        operation_id="mentoring_checkin",
    ),
)
