"""The JSON API under ``/api/v1``: routes declared once in :data:`ROUTES` (handler, summary, who may call it),
from which both the router and the OpenAPI document are built.

Errors are always ``{"error": {"code", "message"[, "fields"]}}`` with the status of the :class:`NodeError`.
Authentication: ``Authorization: Bearer <token>`` (API clients) or the ``bigre_session`` cookie (pages); a
cookie alone does not authorise a state-changing request unless it carries ``X-Requested-With`` (which a
cross-site form cannot send), so cookies cannot be used for cross-site request forgery.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from node.config import NodeConfig
from node.errors import BadRequest, Forbidden, InvalidInput, NodeError, NotAuthenticated
from node.http.state import SERVICES_KEY, TOKEN_KEY, VIEWER_KEY, NodeServices
from node.records import log as replication_log
from node.records.publisher import Publisher
from node.services.finder import Finder, legacy_items
from node.services.things import EVENTS, HELP_REQUESTS, KINDS, ThingKind
from node.viewer import ANONYMOUS, Viewer
from protocol import ENVELOPE_VERSION

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SESSION_COOKIE: Final = "bigre_session"
DEFAULT_PAGE: Final = 50
MAX_PAGE: Final = 200
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    access: str  # anyone | member | operator | staff
    tag: str
    query: tuple[str, ...] = ()
    body: str | None = None  # description of the JSON body, when there is one
    status: int = 200

    @property
    def name(self) -> str:
        return f"{self.method.lower()}:{self.path}"


def services(request: web.Request) -> NodeServices:
    return request.app[SERVICES_KEY]


def viewer(request: web.Request) -> Viewer:
    found = request.get(VIEWER_KEY)
    return found if isinstance(found, Viewer) else ANONYMOUS


def member(request: web.Request) -> Viewer:
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


# ------------------------------------------------------------------------------------------- middlewares


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except NodeError as exc:
        level = logging.ERROR if exc.status >= 500 else logging.INFO
        log.log(
            level,
            "refused %s %s: %s (%s) [account %s]",
            request.method,
            request.path,
            exc.code,
            exc.message,
            viewer(request).account_id,
        )
        response = json_response(exc.to_json(), exc.status)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(exc.status, "http_error")
        log.info("refused %s %s: %s", request.method, request.path, exc.status)
        message = exc.reason if exc.status != 413 else "the request body is too large"
        response = json_response({"error": {"code": code, "message": message}}, exc.status)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return json_response({"error": {"code": "internal", "message": "internal error"}}, 500)


_COOKIE_EXEMPT: Final = frozenset({"/api/v1/auth/login", "/api/v1/auth/accept"})  # act as nobody in particular
_BEARER: Final = re.compile(r"Bearer ([A-Za-z0-9_-]{20,100})\Z")


@web.middleware
async def viewer_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve who is asking. A bad bearer token is refused; a stale cookie only makes the viewer anonymous."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    header = request.headers.get("Authorization")
    if header is not None:
        match = _BEARER.match(header)
        found = await services(request).accounts.authenticate(match.group(1)) if match else None
        if found is None:
            raise NotAuthenticated("the bearer token is invalid or expired")
        request[VIEWER_KEY] = found
        request[TOKEN_KEY] = match.group(1) if match else ""
    elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None and request.path not in _COOKIE_EXEMPT:
        found = await services(request).accounts.authenticate(cookie)
        if found is not None:
            if request.method not in SAFE_METHODS and request.headers.get("X-Requested-With") is None:
                raise Forbidden("a session cookie needs the X-Requested-With header on this request")
            request[VIEWER_KEY] = found
            request[TOKEN_KEY] = cookie
    return await handler(request)


# -------------------------------------------------------------------------------------------------- system


async def health(request: web.Request) -> web.Response:
    s = services(request)
    async with s.db.read() as session:
        heads = await replication_log.stored_heads(session)
    return json_response(
        {
            "name": s.config.name,
            "display_name": s.config.display_name,
            "url": s.config.url,
            "key_id": s.key.kid,
            "protocol_versions": [ENVELOPE_VERSION],
            "database": s.db.dialect,
            "heads": heads,
        }
    )


async def trades(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()
    vocabulary = services(request).reference.trades
    found = vocabulary.search(q)[:50] if q else vocabulary.all()[:50]
    return json_response(
        {"items": [{"rome": t.rome, "label_fr": t.label_fr, "label_en": t.label_en, "esco": t.esco} for t in found]}
    )


# ---------------------------------------------------------------------------------------------------- auth


def _set_session_cookie(request: web.Request, response: web.Response, token: str, expires_at: int) -> None:
    secure = services(request).config.url.startswith("https://")
    max_age = max(0, (expires_at - services(request).clock()) // 1000)
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="Lax", secure=secure, path="/")


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    client = request.remote or "unknown"
    result = await services(request).accounts.login(body.get("email"), body.get("password"), client)
    response = json_response(
        {
            "token": result.token,
            "expires_at": result.expires_at,
            "member_id": result.member_id,
            "account": {
                "id": result.account.id,
                "role": result.account.role,
                "display_name": result.account.display_name,
            },
        }
    )
    _set_session_cookie(request, response, result.token, result.expires_at)
    return response


async def logout(request: web.Request) -> web.Response:
    member(request)
    await services(request).accounts.logout(request[TOKEN_KEY])
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def accept_invitation(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    result = await services(request).accounts.accept_invitation(body.get("token"), body.get("password"))
    response = json_response(
        {
            "token": result.token,
            "expires_at": result.expires_at,
            "member_id": result.member_id,
            "account": {
                "id": result.account.id,
                "role": result.account.role,
                "display_name": result.account.display_name,
            },
        }
    )
    _set_session_cookie(request, response, result.token, result.expires_at)
    return response


# ------------------------------------------------------------------------------------------------------ me


async def me(request: web.Request) -> web.Response:
    v = member(request)
    account = await services(request).accounts.get_account(v.account_id or 0)
    return json_response(
        {
            "id": account.id,
            "member_id": v.member_id,
            "email": account.email,
            "role": account.role,
            "display_name": account.display_name,
            "created_at": account.created_at,
        }
    )


async def my_profile(request: web.Request) -> web.Response:
    return json_response(await services(request).directory.my_profile(member(request)))


async def put_my_profile(request: web.Request) -> web.Response:
    v = member(request)
    return json_response(await services(request).directory.update_my_profile(v, await read_json(request), replace=True))


async def patch_my_profile(request: web.Request) -> web.Response:
    v = member(request)
    return json_response(
        await services(request).directory.update_my_profile(v, await read_json(request), replace=False)
    )


async def export_me(request: web.Request) -> web.Response:
    data = await services(request).directory.export(member(request))
    response = json_response(data)
    response.headers["Content-Disposition"] = 'attachment; filename="bigre-export.json"'
    return response


async def erase_me(request: web.Request) -> web.Response:
    v = member(request)
    body = await read_json(request)
    password = body.get("password") if isinstance(body, dict) else None
    withdrawn = await services(request).directory.erase(v, password)
    response = json_response({"erased": True, "withdrawn_records": withdrawn})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# ------------------------------------------------------------------------------------------------- members


async def list_members(request: web.Request) -> web.Response:
    cursor, limit = page(request)
    items, nxt = await services(request).directory.list_members(viewer(request), after=cursor or 0, limit=limit)
    return json_response({"items": items, "next_cursor": encode_cursor(nxt)})


async def get_member(request: web.Request) -> web.Response:
    return json_response(await services(request).directory.get_member(viewer(request), request.match_info["member_id"]))


async def search(request: web.Request) -> web.Response:
    """Faceted search over the whole network's replica (:class:`~node.services.finder.Finder`); ``items`` is
    the first version's answer, kept for its callers."""
    if "q" in request.query and not request.query["q"].strip() and len(request.query) == 1:
        raise InvalidInput.field("q", "give 1 to 200 characters to search for")
    finder = finder_of(services(request))
    parsed = finder.parse(request.query)
    found = await finder.search(viewer(request), parsed)
    found["items"] = legacy_items(found["results"])
    more = parsed.page * parsed.size < found["total"]
    found["next_cursor"] = encode_cursor(parsed.page * parsed.size) if more else None
    return json_response(found)


async def offer_matches(request: web.Request) -> web.Response:
    origin, offer_id = request.match_info["origin"], request.match_info["offer_id"]
    return json_response(await finder_of(services(request)).offer_matches(member(request), origin, offer_id))


async def my_matches(request: web.Request) -> web.Response:
    return json_response(await finder_of(services(request)).member_matches(member(request)))


def finder_of(s: NodeServices) -> Finder:
    """The node's finder, built on first use and kept as long as the services' publisher lives (a finder holds
    only the database, the origin's name and the reference data)."""
    found = _FINDERS.get(s.publisher)
    if found is None:
        found = _FINDERS[s.publisher] = Finder(s.db, s.publisher.origin, s.reference)
    return found


_FINDERS: weakref.WeakKeyDictionary[Publisher, Finder] = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------------------------------------ accounts


def _account_id(request: web.Request) -> int:
    raw = request.match_info["account_id"]
    if not raw.isdigit():
        raise InvalidInput.field("account_id", "must be an integer")
    return int(raw)


async def list_accounts(request: web.Request) -> web.Response:
    cursor, limit = page(request)
    items = await services(request).accounts.list_accounts(member(request), after=cursor or 0, limit=limit)
    nxt = items[-1]["id"] if len(items) == limit else None
    return json_response({"items": items, "next_cursor": encode_cursor(nxt)})


async def invite_account(request: web.Request) -> web.Response:
    v = member(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    s = services(request)
    account, token = await s.accounts.invite(
        v,
        email=body.get("email"),
        display_name=body.get("display_name"),
        role=body.get("role", "member"),
    )
    return json_response(
        {
            "id": account.id,
            "email": account.email,
            "role": account.role,
            "invitation_token": token,
            "invitation_url": f"{s.config.url}/invitation/{token}",
        },
        201,
    )


async def reinvite_account(request: web.Request) -> web.Response:
    s = services(request)
    token = await s.accounts.reinvite(member(request), _account_id(request))
    return json_response({"invitation_token": token, "invitation_url": f"{s.config.url}/invitation/{token}"}, 201)


async def update_account(request: web.Request) -> web.Response:
    v = member(request)
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    return json_response(await services(request).accounts.update_account(v, _account_id(request), body))


async def delete_account(request: web.Request) -> web.Response:
    await services(request).directory.delete_member(member(request), _account_id(request))
    return web.Response(status=204)


# ------------------------------------------------------------------------------------ offers, support...


def thing_routes(kind: ThingKind, tag: str, what: str) -> list[Route]:
    base = f"/api/v1/{kind.name}"
    access = "member" if kind.members_only else "anyone"

    async def list_things(request: web.Request) -> web.Response:
        cursor, limit = page(request)
        filters = {k: v for k, v in request.query.items() if k not in ("limit", "cursor")}
        items, nxt = await services(request).things.list_things(
            kind, viewer(request), before=cursor, limit=limit, filters=filters
        )
        return json_response({"items": items, "next_cursor": encode_cursor(nxt)})

    async def create_thing(request: web.Request) -> web.Response:
        v = member(request)
        return json_response(await services(request).things.create(kind, v, await read_json(request)), 201)

    async def get_thing(request: web.Request) -> web.Response:
        return json_response(await services(request).things.get(kind, viewer(request), request.match_info["id"]))

    async def update_thing(request: web.Request) -> web.Response:
        v = member(request)
        return json_response(
            await services(request).things.update(kind, v, request.match_info["id"], await read_json(request))
        )

    async def delete_thing(request: web.Request) -> web.Response:
        await services(request).things.delete(kind, member(request), request.match_info["id"])
        return web.Response(status=204)

    return [
        Route(
            "GET",
            base,
            list_things,
            f"List {what}, newest first",
            access,
            tag,
            query=("limit", "cursor", *kind.filters),
        ),
        Route(
            "POST", base, create_thing, f"Create {what.rstrip('s')}", "member", tag, body=kind.record_type, status=201
        ),
        Route("GET", f"{base}/{{id}}", get_thing, f"Read one of the {what}", access, tag),
        Route(
            "PATCH",
            f"{base}/{{id}}",
            update_thing,
            "Change fields (author only); null clears a field",
            "member",
            tag,
            body=kind.record_type,
        ),
        Route(
            "DELETE",
            f"{base}/{{id}}",
            delete_thing,
            "Delete (author or operator); publishes a tombstone",
            "member",
            tag,
            status=204,
        ),
    ]


async def register_event(request: web.Request) -> web.Response:
    return json_response(await services(request).things.register(member(request), request.match_info["id"]))


async def unregister_event(request: web.Request) -> web.Response:
    return json_response(await services(request).things.unregister(member(request), request.match_info["id"]))


async def list_answers(request: web.Request) -> web.Response:
    items = await services(request).things.answers(member(request), request.match_info["id"])
    return json_response({"items": items, "next_cursor": None})


async def create_answer(request: web.Request) -> web.Response:
    v = member(request)
    answer = await services(request).things.answer(v, request.match_info["id"], await read_json(request))
    return json_response(answer, 201)


async def delete_answer(request: web.Request) -> web.Response:
    await services(request).things.delete_answer(
        member(request), request.match_info["id"], request.match_info["answer_id"]
    )
    return web.Response(status=204)


V1: Final = "/api/v1"
ROUTES: Final[tuple[Route, ...]] = (
    Route(
        "GET",
        f"{V1}/health",
        health,
        "Node name, keys and heads (highest contiguous seq per origin)",
        "anyone",
        "system",
    ),
    Route("GET", f"{V1}/trades", trades, "Search the trade vocabulary (ROME codes)", "anyone", "system", query=("q",)),
    Route(
        "POST",
        f"{V1}/auth/login",
        login,
        "Log in with e-mail and password; returns a token, sets a cookie",
        "anyone",
        "auth",
        body="{email, password}",
    ),
    Route("POST", f"{V1}/auth/logout", logout, "End this session", "member", "auth", status=204),
    Route(
        "POST",
        f"{V1}/auth/accept",
        accept_invitation,
        "Accept an invitation by choosing a password",
        "anyone",
        "auth",
        body="{token, password}",
    ),
    Route("GET", f"{V1}/me", me, "The logged-in account", "member", "me"),
    Route("GET", f"{V1}/me/profile", my_profile, "My whole profile with the visibility of each field", "member", "me"),
    Route(
        "PUT",
        f"{V1}/me/profile",
        put_my_profile,
        "Replace my profile fields; merge visibility",
        "member",
        "me",
        body="{fields, visibility}",
    ),
    Route(
        "PATCH",
        f"{V1}/me/profile",
        patch_my_profile,
        "Change some profile fields or visibilities",
        "member",
        "me",
        body="{fields, visibility}",
    ),
    Route("GET", f"{V1}/me/export", export_me, "Everything the node holds about me, as JSON", "member", "me"),
    Route(
        "POST",
        f"{V1}/me/erase",
        erase_me,
        "Erase my account everywhere (password required)",
        "member",
        "me",
        body="{password}",
    ),
    Route(
        "GET",
        f"{V1}/members",
        list_members,
        "Member profiles, fields filtered by visibility",
        "anyone",
        "members",
        query=("limit", "cursor"),
    ),
    Route(
        "GET",
        f"{V1}/members/{{member_id}}",
        get_member,
        "One member's profile, filtered by visibility",
        "anyone",
        "members",
    ),
    Route(
        "GET",
        f"{V1}/search",
        search,
        "Faceted search over the network's profiles, offers, mentoring and events (results, facets, total)",
        "anyone",
        "members",
        query=(
            "q",
            "trade",
            "origin",
            "departement",
            "town",
            "near",
            "radius_km",
            "language",
            "stage",
            "available_on",
            "type",
            "page",
            "limit",
        ),
    ),
    Route(
        "GET",
        f"{V1}/offers/{{origin}}/{{offer_id}}/matches",
        offer_matches,
        "The members across the network who best fit an offer (trades, distance, availability)",
        "member",
        "members",
    ),
    Route(
        "GET",
        f"{V1}/me/matches",
        my_matches,
        "The open offers that fit my trades, town and availability",
        "member",
        "members",
    ),
    Route(
        "GET",
        f"{V1}/accounts",
        list_accounts,
        "Accounts (operators and advisors)",
        "staff",
        "accounts",
        query=("limit", "cursor"),
    ),
    Route(
        "POST",
        f"{V1}/accounts",
        invite_account,
        "Create an account and its invitation link",
        "operator",
        "accounts",
        body="{email, display_name, role}",
        status=201,
    ),
    Route(
        "PATCH",
        f"{V1}/accounts/{{account_id}}",
        update_account,
        "Change role, name, or disable",
        "operator",
        "accounts",
        body="{role, display_name, disabled}",
    ),
    Route(
        "POST",
        f"{V1}/accounts/{{account_id}}/invitation",
        reinvite_account,
        "New invitation link for an account not yet activated",
        "operator",
        "accounts",
        status=201,
    ),
    Route(
        "DELETE",
        f"{V1}/accounts/{{account_id}}",
        delete_account,
        "Erase an account and withdraw its records",
        "operator",
        "accounts",
        status=204,
    ),
    *thing_routes(KINDS["offers"], "offers", "collaboration offers and requests"),
    *thing_routes(KINDS["mentoring"], "support", "mentoring offers and requests"),
    *thing_routes(EVENTS, "support", "events (trainings, workshops, working groups)"),
    Route("POST", f"{V1}/events/{{id}}/registration", register_event, "Take a seat", "member", "support"),
    Route("DELETE", f"{V1}/events/{{id}}/registration", unregister_event, "Give the seat back", "member", "support"),
    *thing_routes(HELP_REQUESTS, "support", "help requests"),
    Route("GET", f"{V1}/help-requests/{{id}}/answers", list_answers, "Answers to a help request", "member", "support"),
    Route(
        "POST",
        f"{V1}/help-requests/{{id}}/answers",
        create_answer,
        "Answer a help request",
        "member",
        "support",
        body="{text}",
        status=201,
    ),
    Route(
        "DELETE",
        f"{V1}/help-requests/{{id}}/answers/{{answer_id}}",
        delete_answer,
        "Delete an answer (author or operator)",
        "member",
        "support",
        status=204,
    ),
)


# ------------------------------------------------------------------------------------------------- OpenAPI

_ERROR_SCHEMA: Final = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    },
}
_PATH_PARAM: Final = re.compile(r"\{([a-z_]+)\}")


ROUTES_KEY: Final = web.AppKey("bigre_routes", list[Route])


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Register declared routes (the core API's and every extension's), keeping their declarations for the
    OpenAPI document: access, tag, status, body and query parameters are documented as declared."""
    declared = app.get(ROUTES_KEY)
    if declared is None:
        declared = app[ROUTES_KEY] = []
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        declared.append(route)


def openapi_document(config: NodeConfig, app: web.Application) -> dict[str, Any]:
    """OpenAPI 3.1 for every route registered on ``app`` (as declared with :func:`add_routes`; any other route
    with its handler's docstring)."""
    documented = {r.name: r for r in app.get(ROUTES_KEY, [])}
    paths: dict[str, dict[str, Any]] = {}
    registered: list[tuple[str, str, object]] = [
        (r.method, r.resource.canonical, r.handler) for r in app.router.routes() if r.resource is not None
    ]
    registered.append(("GET", f"{V1}/openapi.json", None))
    for method, path, handler in registered:
        if method == "HEAD":
            continue
        route = documented.get(f"{method.lower()}:{path}")
        summary = route.summary if route else ((getattr(handler, "__doc__", None) or path).strip().splitlines()[0])
        operation: dict[str, Any] = {
            "summary": summary if path != f"{V1}/openapi.json" else "This document",
            "operationId": f"{method.lower()}_{path.removeprefix(V1).strip('/').replace('/', '_') or 'root'}".replace(
                "{", ""
            )
            .replace("}", "")
            .replace("-", "_"),
            "tags": [route.tag if route else "extension"],
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in _PATH_PARAM.findall(path)
            ]
            + [
                {"name": q, "in": "query", "required": q == "q", "schema": {"type": "string"}}
                for q in (route.query if route else ())
            ],
            "responses": {
                str(route.status if route else 200): {
                    "description": "success",
                    **({} if route and route.status == 204 else {"content": {"application/json": {"schema": {}}}}),
                },
                "default": {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if route and route.access != "anyone":
            operation["security"] = [{"bearer": []}, {"cookie": []}]
            operation["x-access"] = route.access
        if route and route.body:
            operation["requestBody"] = {
                "required": True,
                "description": route.body,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"Bigre node {config.name}",
            "version": "1.0.0",
            "description": "API of one cooperative's Bigre node.",
        },
        "servers": [{"url": config.url}],
        "paths": paths,
        "components": {
            "schemas": {"Error": _ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
        },
    }
