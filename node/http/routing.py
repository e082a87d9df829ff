"""How the JSON API's routes are declared, guarded and read: one :class:`Route` per operation.

A route declares who may call it (``access``); :func:`add_routes` registers the handler behind a guard that
enforces exactly that declaration before the handler runs (anonymous callers get 401, callers without the role
403), and keeps the declarations for the OpenAPI document. Handlers therefore never check roles by hand; the
services still check what depends on the data (an author editing their own offer, for instance).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from aiohttp import web

from node.compose import Node
from node.errors import BadRequest, Forbidden, InvalidInput, NotAuthenticated
from node.http.state import NODE_KEY, VIEWER_KEY
from node.viewer import ANONYMOUS, Viewer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Access = Literal["anyone", "member", "staff", "operator"]
ACCESS_LEVELS: Final[tuple[Access, ...]] = get_args(Access)
V1: Final = "/api/v1"
DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 200


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the JSON API, as the router enforces it and the OpenAPI document describes it."""

    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    tag: str
    query: tuple[str, ...] = ()
    body: str | None = None  # description of the JSON body, when there is one
    status: int = 200

    def __post_init__(self) -> None:
        if self.access not in ACCESS_LEVELS:
            raise ValueError(f"route {self.method} {self.path}: unknown access {self.access!r}")

    @property
    def name(self) -> str:
        return f"{self.method.lower()}:{self.path}"


def allows(access: Access, viewer: Viewer) -> bool:
    """Whether ``viewer`` may call a route declared with ``access``."""
    if access == "anyone":
        return True
    if viewer.anonymous:
        return False
    if access == "operator":
        return viewer.is_operator
    if access == "staff":
        return viewer.is_staff
    return True


def guarded(route: Route) -> Handler:
    """The route's handler behind the check of its declared access."""
    handler, access = route.handler, route.access

    async def guard(request: web.Request) -> web.StreamResponse:
        v = viewer(request)
        if not allows(access, v):
            if v.anonymous:
                raise NotAuthenticated("log in first")
            raise Forbidden(f"{'operators' if access == 'operator' else 'advisors and operators'} only")
        return await handler(request)

    guard.__doc__ = handler.__doc__
    return guard


ROUTES_KEY: Final = web.AppKey("bigre_routes", list[Route])


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Register declared routes behind their access guard, keeping the declarations (for the OpenAPI document
    and for the test that walks every route with every role)."""
    declared = app.get(ROUTES_KEY)
    if declared is None:
        declared = app[ROUTES_KEY] = []
    for route in routes:
        app.router.add_route(route.method, route.path, guarded(route))
        declared.append(route)


# ------------------------------------------------------------------------------------------ request helpers


def node_of(request: web.Request) -> Node:
    return request.app[NODE_KEY]


def viewer(request: web.Request) -> Viewer:
    found = request.get(VIEWER_KEY)
    return found if isinstance(found, Viewer) else ANONYMOUS


def member(request: web.Request) -> Viewer:
    """The signed-in viewer (a route's guard has already refused anonymous callers of non-public routes)."""
    v = viewer(request)
    if v.anonymous:
        raise NotAuthenticated("log in first")
    return v


async def read_json(request: web.Request) -> Any:
    if not request.can_read_body:
        return {}
    try:
        raw = await request.read()
        return json.loads(raw) if raw else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("the request body is not valid JSON") from exc


async def read_object(request: web.Request) -> dict[str, Any]:
    """The JSON body, which must be an object."""
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    return body


def page(request: web.Request) -> tuple[int | None, int]:
    """(cursor, limit) from the query string; the cursor is opaque to clients."""
    raw_limit = request.query.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise InvalidInput.field("limit", f"must be an integer from 1 to {MAX_PAGE}")
    cursor = request.query.get("cursor")
    if not cursor:
        return None, int(raw_limit)
    try:
        value = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii")
        if not value.startswith("c") or not value[1:].isdigit():
            raise ValueError(cursor)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidInput.field("cursor", "is not a cursor this node issued") from exc
    return int(value[1:]), int(raw_limit)


def encode_cursor(value: int | None) -> str | None:
    if value is None:
        return None
    return base64.urlsafe_b64encode(f"c{value}".encode("ascii")).decode("ascii").rstrip("=")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise InvalidInput.field(name, "must be an integer")
    return int(raw)
