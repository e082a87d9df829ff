"""How the JSON API's routes are declared, guarded, fed and described: one :class:`Route` per operation.

A route declares who may call it (``access``), its inputs (``query``, ``body``, and path parameters typed by
name in :data:`node.http.types.PATH_PARAMS`), its answer (``response``, ``status``) and the errors it may
answer (``errors``, added to those that follow from the rest of the declaration). :func:`add_routes` registers
the handler behind one function (:func:`endpoint`) that enforces exactly that declaration before the handler
runs: anonymous callers of a non-public route get 401, callers without the role 403, malformed input 400, 415
or 422. The handler then receives validated, typed input as keyword arguments: each path parameter by its name,
``query=`` and ``body=``. Handlers never check roles by hand; the services still check what depends on the
data (an author editing their own offer, for instance).

The same declarations build the OpenAPI document (:mod:`node.http.openapi`), and, when the application is
created with ``check_responses`` (the tests do), every answer is checked against them: a status the route does
not declare, or a body that does not fit its schema, becomes a logged 500.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from aiohttp import web
from pydantic import BaseModel, TypeAdapter, ValidationError

from node.compose import Node
from node.errors import BadRequest, Forbidden, InvalidInput, NodeError, NotAuthenticated
from node.http.state import NODE_KEY, VIEWER_KEY
from node.http.types import PATH_PARAMS, Error, PageQuery
from node.services.rate_limits import Kind as RateKind
from node.viewer import ANONYMOUS, Viewer

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[web.StreamResponse]]
Access = Literal["anyone", "member", "staff", "operator"]
ACCESS_LEVELS: Final[tuple[Access, ...]] = get_args(Access)
V1: Final = "/api/v1"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_PATH_PARAM: Final = re.compile(r"\{([a-z_]+)\}")
_JSON_TYPE: Final = re.compile(r"application/(?:[a-z0-9.+-]*\+)?json\Z")

ERROR_REASONS: Final[dict[int, str]] = {
    400: "the body is not JSON",
    401: "not signed in, or the bearer token is invalid or expired",
    403: "signed in, but not allowed (role, author, or a session cookie without X-Requested-With)",
    404: "no such thing, or not visible to the caller",
    409: "clashes with the current state",
    413: "the body is too large",
    415: "the body is not application/json",
    422: "invalid input; error.fields says why for each field",
    429: "too many attempts, or a rate limit reached; Retry-After says when to try again",
    503: "the database is busy or unreachable; try again",
}


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the JSON API, as the router enforces it and the OpenAPI document describes it.

    ``response``: the type of the success body (a pydantic model or any type pydantic knows), ``None`` when the
    success answer has no body (``status`` 204). ``errors``: error statuses the handler's services may answer
    beyond those :attr:`error_statuses` derives from the declaration. ``also``: more success statuses with
    their body types (a registration confirmed at once answers 200, one that waits for another coop 202).
    """

    method: str
    path: str
    handler: Handler
    summary: str
    access: Access
    tag: str
    query: type[BaseModel] | None = None
    body: Any = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()
    also: tuple[tuple[int, Any], ...] = ()
    operation_id: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # response headers of the success answer: (name, description)
    #: the rate limit the route counts against (issue 15); by default, a signed-in write counts as "writes"
    limit: RateKind | None = None
    params: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        where = f"route {self.method} {self.path}"
        if self.access not in ACCESS_LEVELS:
            raise ValueError(f"{where}: unknown access {self.access!r}")
        params = tuple(_PATH_PARAM.findall(self.path))
        unknown = [p for p in params if p not in PATH_PARAMS]
        if unknown:
            raise ValueError(f"{where}: path parameters {unknown} have no type in node.http.types.PATH_PARAMS")
        object.__setattr__(self, "params", params)
        expected = {"request", *params} | ({"query"} if self.query else set()) | ({"body"} if self.body else set())
        declared = set(inspect.signature(self.handler).parameters)
        if declared != expected:
            raise ValueError(f"{where}: the handler takes {sorted(declared)}, the declaration gives {sorted(expected)}")
        if (self.response is None) != (self.status == 204):
            raise ValueError(f"{where}: a 204 answer has no body, any other success answer has one")

    @property
    def name(self) -> str:
        return f"{self.method.lower()}:{self.path}"

    @property
    def rate_kind(self) -> RateKind | None:
        """The rate limit this route counts against: its own, or "writes" for a change by a signed-in account."""
        if self.limit is not None:
            return self.limit
        return "writes" if self.method not in SAFE_METHODS and self.access != "anyone" else None

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """Every error status this operation may answer: those its declaration implies, and ``errors``."""
        statuses = {401, 503, *self.errors}  # 401: a bad bearer token is refused on every route
        if self.rate_kind is not None:
            statuses.add(429)
        if self.access in ("staff", "operator") or (self.access != "anyone" and self.method not in SAFE_METHODS):
            statuses.add(403)
        if self.params:
            statuses.update((404, 422))
        if self.query is not None:
            statuses.add(422)
        if self.body is not None:
            statuses.update((400, 413, 415, 422))
        return tuple(sorted(statuses))

    @property
    def success(self) -> dict[int, Any]:
        return {self.status: self.response, **dict(self.also)}


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


# --------------------------------------------------------------------------------------------- the endpoint


def endpoint(route: Route, *, check_responses: bool = False) -> Handler:
    """The route's handler behind the check of its declared access, fed with its validated inputs."""
    handler, access = route.handler, route.access
    path_adapters = tuple((name, adapter(PATH_PARAMS[name])) for name in route.params)
    query_model = route.query
    body_adapter = adapter(route.body) if route.body is not None else None
    checker = ResponseChecker(route) if check_responses else None
    rate_kind = route.rate_kind

    async def call(request: web.Request) -> web.StreamResponse:
        v = viewer(request)
        if not allows(access, v):
            if v.anonymous:
                raise NotAuthenticated("log in first")
            raise Forbidden(f"{'operators' if access == 'operator' else 'advisors and operators'} only")
        if rate_kind is not None:  # counted before the input is read: malformed floods count too
            node_of(request).rate_limits.hit(rate_kind, v.account_id, request.remote)
        kwargs: dict[str, Any] = {}
        if path_adapters:
            errors: dict[str, str] = {}
            for name, validator in path_adapters:
                try:
                    kwargs[name] = validator.validate_python(request.match_info[name])
                except ValidationError as exc:
                    errors[name] = "; ".join(_why(e) for e in exc.errors())
            if errors:
                raise _invalid(errors)
        if query_model is not None:
            kwargs["query"] = parse_query(query_model, request)
        if body_adapter is not None:
            kwargs["body"] = await parse_body(body_adapter, request)
        return await handler(request, **kwargs)

    if checker is None:
        call.__doc__ = handler.__doc__
        return call

    async def checked(request: web.Request) -> web.StreamResponse:
        try:
            response = await call(request)
        except NodeError as exc:
            checker.check_status(exc.status)
            raise
        except web.HTTPException as exc:
            if exc.status >= 400:
                checker.check_status(exc.status)
            raise
        checker.check(response)
        return response

    checked.__doc__ = handler.__doc__
    return checked


_ADAPTERS: dict[int, tuple[Any, TypeAdapter[Any]]] = {}


def adapter(kind: Any) -> TypeAdapter[Any]:
    """One validator per type for the process (building one takes milliseconds; applications are made often,
    by the tests above all)."""
    found = _ADAPTERS.get(id(kind))
    if found is None or found[0] is not kind:
        found = _ADAPTERS[id(kind)] = (kind, TypeAdapter(kind))
    return found[1]


ROUTES_KEY: Final = web.AppKey("bigre_routes", list[Route])


def add_routes(app: web.Application, routes: Iterable[Route], *, check_responses: bool = False) -> None:
    """Register declared routes behind :func:`endpoint`, keeping the declarations (for the OpenAPI document
    and for the test that walks every route with every role)."""
    declared = app.get(ROUTES_KEY)
    if declared is None:
        declared = app[ROUTES_KEY] = []
    for route in routes:
        app.router.add_route(route.method, route.path, endpoint(route, check_responses=check_responses))
        declared.append(route)


# ------------------------------------------------------------------------------------------------- inputs


def parse_query(model: type[BaseModel], request: web.Request) -> Any:
    """The query string as ``model`` (strings converted to the declared types); the last of repeated keys."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise _invalid(_fields(exc, dict(request.query))) from None


async def parse_body(adapter: TypeAdapter[Any], request: web.Request) -> Any:
    """The JSON body, validated strictly (JSON types as declared: no "15" for 15). An empty body is ``{}``."""
    raw = await request.read()
    content_type = request.headers.get("Content-Type")
    if raw and content_type is not None and not _JSON_TYPE.match(content_type.split(";", 1)[0].strip().lower()):
        raise UnsupportedMediaType("send the body as application/json")
    try:
        return adapter.validate_json(raw or b"{}", strict=True)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise BadRequest("the request body is not valid JSON") from None
        try:
            data = json.loads(raw or b"{}")
        except ValueError:  # valid for pydantic, not for the stdlib (a lone surrogate...): still not usable JSON
            raise BadRequest("the request body is not valid JSON") from None
        raise _invalid(_fields(exc, data)) from None


class UnsupportedMediaType(NodeError):
    code = "unsupported_media_type"
    status = 415


def _invalid(fields: dict[str, str]) -> InvalidInput:
    return InvalidInput("invalid input: " + "; ".join(f"{k}: {v}" for k, v in sorted(fields.items())), fields)


def _fields(exc: ValidationError, data: Any) -> dict[str, str]:
    """``{field path: why}`` from pydantic's errors. A path names what the client sent (``place.town``,
    ``trades[2]``): the steps pydantic adds for the members of a union are left out by walking ``data``."""
    out: dict[str, list[str]] = {}
    for error in exc.errors():
        path: list[str | int] = []
        current = data
        loc = error["loc"]
        for i, step in enumerate(loc):
            inside = isinstance(current, dict) and step in current
            inside = inside or (isinstance(current, list) and isinstance(step, int) and 0 <= step < len(current))
            if inside:
                path.append(step)
                current = current[step]
            elif i == len(loc) - 1 and error["type"] == "missing":
                path.append(step)
            # else: a union member's tag, or a model's name: not part of what the client sent
        name = "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".") or "body"
        why = _why(error)
        if why not in out.setdefault(name, []):
            out[name].append(why)
    return {name: " or ".join(whys) for name, whys in out.items()}


def _why(error: Any) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    message: str = error["msg"]
    return message[0].lower() + message[1:] if message else kind


# ------------------------------------------------------------------------------------------------ answers


class ResponseChecker:
    """Checks an answer against its route's declaration (tests and debugging: it costs a parse per answer)."""

    def __init__(self, route: Route) -> None:
        self.route = route
        self.success = {status: adapter(kind) if kind is not None else None for status, kind in route.success.items()}
        self.errors = frozenset(route.error_statuses)
        self.error = adapter(Error)

    def check(self, response: web.StreamResponse) -> None:
        status = response.status
        body = response.body if isinstance(response, web.Response) else None
        route = f"{self.route.method} {self.route.path}"
        if status in self.success:
            adapter = self.success[status]
            if adapter is None:
                if body:
                    self.fail(f"{route} answered {status} with a body")
                return
            if not isinstance(body, bytes):
                self.fail(f"{route} answered {status} without a JSON body")
            assert isinstance(body, bytes)
            try:
                adapter.validate_json(body, strict=True)
            except ValidationError as exc:
                self.fail(f"{route} answered {status} with a body that does not fit its schema: {exc}")
            return
        self.check_status(status)
        if isinstance(body, bytes):
            try:
                self.error.validate_json(body, strict=True)
            except ValidationError as exc:
                self.fail(f"{route} answered an error that does not fit the error schema: {exc}")

    def check_status(self, status: int) -> None:
        """An error status (raised as an exception, answered by the error middleware) must be declared."""
        if status not in self.errors:
            self.fail(f"{self.route.method} {self.route.path} answered {status}, which it does not declare")

    def fail(self, why: str) -> None:
        log.error("response check: %s", why)
        raise NodeError(f"response check failed: {why}")


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


def page(query: PageQuery) -> tuple[int | None, int]:
    """(cursor, limit) of a validated page query; the cursor is opaque to clients."""
    if not query.cursor:
        return None, query.limit
    try:
        value = base64.urlsafe_b64decode(query.cursor.encode("ascii") + b"==").decode("ascii")
        if not value.startswith("c") or not value[1:].isdigit() or len(value) > 20:
            raise ValueError(query.cursor)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InvalidInput.field("cursor", "is not a cursor this node issued") from exc
    return int(value[1:]), query.limit


def encode_cursor(value: int | None) -> str | None:
    if value is None:
        return None
    return base64.urlsafe_b64encode(f"c{value}".encode("ascii")).decode("ascii").rstrip("=")


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
