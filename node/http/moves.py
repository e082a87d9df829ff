"""Members moving to another coop: asking (the member), accepting (the destination's operators). The two move
records travel as direct records (:mod:`node.services.moving`)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, member, node_of, read_object


async def request_move(request: web.Request) -> web.Response:
    """Ask to move to another coop ({to_node}): your profile, offers and mentoring go there once it accepts"""
    v, body = member(request), await read_object(request)
    return json_response(await node_of(request).moving.request(v, body.get("to_node")), 202)


async def my_moves(request: web.Request) -> web.Response:
    """My moves to other coops, newest first, with their status"""
    return json_response({"items": await node_of(request).moving.my_moves(member(request))})


async def list_moves(request: web.Request) -> web.Response:
    """Members moving to this coop (operators): pending by default, ?status=all for every one"""
    status = request.query.get("status", "pending")
    items = await node_of(request).moving.incoming(member(request), None if status == "all" else status)
    return json_response({"items": items})


async def accept_move(request: web.Request) -> web.Response:
    """Accept a member's move (operators): creates the account (invitation link), profile, offers, mentoring"""
    origin, move_id = request.match_info["origin"], request.match_info["move_id"]
    return json_response(await node_of(request).moving.accept(member(request), origin, move_id))


MOVES: Final = f"{V1}/moves"
ROUTES: Final = (
    Route(
        "POST", f"{V1}/me/move", request_move, str(request_move.__doc__), "member", "me", body="{to_node}", status=202
    ),
    Route("GET", f"{V1}/me/moves", my_moves, str(my_moves.__doc__), "member", "me"),
    Route("GET", MOVES, list_moves, str(list_moves.__doc__), "operator", "moves", query=("status",)),
    Route("POST", MOVES + "/{origin}/{move_id}/accept", accept_move, str(accept_move.__doc__), "operator", "moves"),
)
