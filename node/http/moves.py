"""Members moving to another coop: asking (the member), accepting (the destination's operators). The two move
records travel as direct records (:mod:`node.services.moving`)."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from node.http.routing import V1, Route, json_response, member, node_of
from node.http.types import Input, Ms, Origin, RecordId, list_of


class MoveRequest(Input):
    to_node: Origin = Field(description="the coop to move to")


class SignedEnvelope(BaseModel):
    origin: Origin
    id: str
    kid: str
    hash: str
    body_kept: bool


class SignedParts(BaseModel):
    request: list[SignedEnvelope]
    acceptance: list[SignedEnvelope]


class Move(BaseModel):
    """A member's move between coops; an incoming pending one also shows what the operator decides on."""

    model_config = ConfigDict(extra="allow")
    origin: Origin
    id: RecordId
    direction: str = Field(description="out (leaving this coop) or in (coming to it)")
    to_node: Origin
    status: str = Field(description="requested, pending, accepted or done")
    member: str
    new_member: str | None
    display_name: str | None
    records: dict[str, str] = Field(description="old record id -> new record id")
    requested_at: Ms
    accepted_at: Ms | None
    done_at: Ms | None
    signed: SignedParts


class Accepted(Move):
    invitation_token: str | None = Field(description="for the member's new account (null if already made)")
    dropped_fields: list[str]
    skipped: list[str]


class MovesQuery(Input):
    status: str = Field("pending", max_length=16, description="pending (default), accepted, done, or all")


async def request_move(request: web.Request, body: MoveRequest) -> web.Response:
    """Ask to move to another coop ({to_node}): your profile, offers and mentoring go there once it accepts"""
    return json_response(await node_of(request).moving.request(member(request), body.to_node), 202)


async def my_moves(request: web.Request) -> web.Response:
    """My moves to other coops, newest first, with their status"""
    return json_response({"items": await node_of(request).moving.my_moves(member(request))})


async def list_moves(request: web.Request, query: MovesQuery) -> web.Response:
    """Members moving to this coop (operators): pending by default, ?status=all for every one"""
    status = None if query.status == "all" else query.status
    return json_response({"items": await node_of(request).moving.incoming(member(request), status)})


async def accept_move(request: web.Request, origin: str, move_id: str) -> web.Response:
    """Accept a member's move (operators): creates the account (invitation link), profile, offers, mentoring"""
    return json_response(await node_of(request).moving.accept(member(request), origin, move_id))


MOVES: Final = f"{V1}/moves"
ROUTES: Final = (
    Route(
        "POST",
        f"{V1}/me/move",
        request_move,
        str(request_move.__doc__),
        "member",
        "me",
        body=MoveRequest,
        response=Move,
        status=202,
        errors=(404, 409),
        operation_id="request_move",
    ),
    Route(
        "GET",
        f"{V1}/me/moves",
        my_moves,
        str(my_moves.__doc__),
        "member",
        "me",
        response=list_of(Move),
        operation_id="my_moves",
    ),
    Route(
        "GET",
        MOVES,
        list_moves,
        str(list_moves.__doc__),
        "operator",
        "moves",
        query=MovesQuery,
        response=list_of(Move),
        operation_id="list_incoming_moves",
    ),
    Route(
        "POST",
        MOVES + "/{origin}/{move_id}/accept",
        accept_move,
        str(accept_move.__doc__),
        "operator",
        "moves",
        response=Accepted,
        errors=(409,),
        operation_id="accept_move",
    ),
)
