"""The moving API (a member leaving for another coop), installed as an extension after federation.

Routes are declared once in :data:`MOVING_ROUTES` with the core API's :class:`~node.http.api.Route`; a handler's
docstring is its summary in the OpenAPI document.

Until the protocol has a ``member_move`` record type, move records arrive as ``message`` entries; this extension
routes them to :meth:`node.services.moving.Moving.receive` before the inbox sees them, by wrapping the started
federation store's ``deliver`` exactly as :mod:`node.http.onboarding` does for shared cases (each wrapper passes
on what is not its own, so the two compose in either order).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from aiohttp import web

from node.errors import InvalidInput, NotFound
from node.federation_adapter.wiring import FEDERATION_KEY, STORE_KEY
from node.http.api import Route, add_routes, json_response, member, read_json, services, viewer
from node.http.state import SERVICES_KEY, NodeServices
from node.services.moving import Moving, moved_to
from node.services.moving_wire import is_move_message
from node.storage.models import RecordState
from protocol import Record

log = logging.getLogger(__name__)


def notifier(app: web.Application) -> Callable[[], None]:
    """Wake the federation's delivery loops (a no-op on a node without federation)."""

    def notify() -> None:
        federation = app.get(FEDERATION_KEY)
        if federation is not None:
            federation.notify()

    return notify


def moving_of(app: web.Application) -> Moving:
    return Moving(app[SERVICES_KEY], notifier(app))


async def receive_move_message(app_or_services: web.Application | NodeServices, record: Record) -> bool:
    """Take in a received move record (request or acceptance); True when this node's state changed."""
    if isinstance(app_or_services, web.Application):
        return await moving_of(app_or_services).receive(record)
    return await Moving(app_or_services).receive(record)


# ------------------------------------------------------------------------------------------------ handlers


async def request_move(request: web.Request) -> web.Response:
    """Ask to move to another coop ({to_node}): your profile, offers and mentoring go there once it accepts"""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    return json_response(await moving_of(request.app).request(member(request), body.get("to_node")), 202)


async def my_moves(request: web.Request) -> web.Response:
    """My moves to other coops, newest first, with their status"""
    return json_response({"items": await moving_of(request.app).my_moves(member(request))})


async def list_moves(request: web.Request) -> web.Response:
    """Members moving to this coop (operators): pending by default, ?status=all for every one"""
    status = request.query.get("status", "pending")
    items = await moving_of(request.app).incoming(member(request), None if status == "all" else status)
    return json_response({"items": items})


async def accept_move(request: web.Request) -> web.Response:
    """Accept a member's move (operators): creates the account (invitation link), profile, offers, mentoring"""
    origin, move_id = request.match_info["origin"], request.match_info["move_id"]
    return json_response(await moving_of(request.app).accept(member(request), origin, move_id))


async def network_member(request: web.Request) -> web.Response:
    """A member of any coop as this node knows them; a member who moved redirects (308) to where they are now"""
    s, v = services(request), viewer(request)
    origin, member_id = request.match_info["origin"], request.match_info["member_id"]
    forward = await moved_to(s, origin, member_id)
    if forward is not None:
        response = json_response({"moved_to": forward}, 308)
        response.headers["Location"] = f"/api/v1/network/members/{forward}"
        return response
    if origin == s.config.name:
        view = await s.directory.get_member(v, member_id)
        return json_response({"origin": origin, "id": member_id, "fields": view["fields"]})
    async with s.db.read() as session:
        state = await session.get(RecordState, (origin, member_id))
    if state is None or state.deleted or state.body is None or state.type != "profile":
        raise NotFound(f"no member {origin}/{member_id}")
    body = dict(state.body)
    public = set(body.pop("public", None) or ())
    fields = body if not v.anonymous else {k: val for k, val in body.items() if k in public}
    return json_response({"origin": origin, "id": member_id, "fields": fields})


MOVES: Final = "/api/v1/moves"
MOVING_ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "POST", "/api/v1/me/move", request_move, str(request_move.__doc__), "member", "me", body="{to_node}", status=202
    ),
    Route("GET", "/api/v1/me/moves", my_moves, str(my_moves.__doc__), "member", "me"),
    Route("GET", MOVES, list_moves, str(list_moves.__doc__), "operator", "moves", query=("status",)),
    Route("POST", MOVES + "/{origin}/{move_id}/accept", accept_move, str(accept_move.__doc__), "operator", "moves"),
    Route(
        "GET",
        "/api/v1/network/members/{origin}/{member_id}",
        network_member,
        str(network_member.__doc__),
        "anyone",
        "members",
    ),
)


# ------------------------------------------------------------------------------------------------ install


def moving_extension(app: web.Application) -> None:
    """Install the moving API on a node application (after the federation extension)."""
    add_routes(app, MOVING_ROUTES)
    app.cleanup_ctx.append(_route_move_messages)


async def _route_move_messages(app: web.Application) -> AsyncIterator[None]:
    """Routing: move messages go to the moving service, every other message to the previous ``deliver``.

    Replace by routing in the federation's message handling once ``member_move`` is a record type.
    """
    store = app.get(STORE_KEY)
    if store is not None:

        async def handle(record: Record, received_at: int) -> bool:
            return await receive_move_message(app, record)

        store.route_messages(is_move_message, handle)
    yield
