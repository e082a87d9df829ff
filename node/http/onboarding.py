"""The onboarding API (``/api/v1/onboarding/...`` and members' individual paths), installed as an extension.

Routes are declared once in :data:`ONBOARDING_ROUTES` with the same :class:`~node.http.api.Route` as the core API;
each handler's docstring is its summary in the OpenAPI document. Install after federation
(:func:`onboarding_extension`): sharing queues snapshots in the federation outbox and wakes its loops.

Until the protocol has an ``onboarding_case`` record type, shared cases arrive as ``message`` entries; this
extension routes them to :func:`node.services.onboarding.receive_shared_case` before the inbox sees them (it
wraps the started federation store's ``deliver``; see :func:`_route_shared_cases`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from aiohttp import web

from node.errors import InvalidInput
from node.federation_adapter.wiring import FEDERATION_KEY, STORE_KEY
from node.http.api import Handler, Route, add_routes, json_response, member, read_json, services
from node.http.state import SERVICES_KEY
from node.services.member_path import MemberPaths
from node.services.onboarding import Onboarding, onboarding_for, receive_shared_case
from node.services.onboarding_bundle import build_bundle
from node.services.onboarding_sharing import is_shared_case
from protocol import Record

log = logging.getLogger(__name__)

CASES: Final = "/api/v1/onboarding/cases"
CASE: Final = CASES + "/{origin}/{case_id}"


def notifier(app: web.Application) -> Callable[[], None]:
    """Wake the federation's delivery loops (a no-op on a node without federation)."""

    def notify() -> None:
        federation = app.get(FEDERATION_KEY)
        if federation is not None:
            federation.notify()

    return notify


def onboarding_of(app: web.Application) -> Onboarding:
    return onboarding_for(app[SERVICES_KEY], notifier(app))


def paths_of(app: web.Application) -> MemberPaths:
    s = app[SERVICES_KEY]
    return MemberPaths(s.db, s.clock, s.directory)


def _ref(request: web.Request) -> tuple[str, str]:
    return request.match_info["origin"], request.match_info["case_id"]


async def _object(request: web.Request) -> dict[str, object]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidInput.field("body", "must be a JSON object")
    return body


# ------------------------------------------------------------------------------------------------ handlers


async def list_cases(request: web.Request) -> web.Response:
    """Onboarding cases of this coop and shared with it, newest change first (advisors, operators)"""
    items = await onboarding_of(request.app).list_cases(member(request), stage=request.query.get("stage") or None)
    return json_response({"items": items})


async def create_case(request: web.Request) -> web.Response:
    """Open an onboarding case (advisors, operators)"""
    return json_response(await onboarding_of(request.app).create_case(member(request), await read_json(request)), 201)


async def get_case(request: web.Request) -> web.Response:
    """One onboarding case with its stages and legal-form check"""
    return json_response(await onboarding_of(request.app).get_case(member(request), *_ref(request)))


async def update_case(request: web.Request) -> web.Response:
    """Change a case's fields: title, description, trades, group, owners, stage dates, retention"""
    v = member(request)
    return json_response(await onboarding_of(request.app).update_case(v, *_ref(request), await read_json(request)))


async def move_stage(request: web.Request) -> web.Response:
    """Move a case to a stage (past the legal form only when the group meets the target form's rules)"""
    v, body = member(request), await _object(request)
    return json_response(await onboarding_of(request.app).move_stage(v, *_ref(request), body.get("stage")))


async def toggle_item(request: web.Request) -> web.Response:
    """Tick or untick a checklist item ({stage, key, done?}), or add one ({stage, label})"""
    v = member(request)
    return json_response(await onboarding_of(request.app).toggle_item(v, *_ref(request), await read_json(request)))


def _add(kind: str, what: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        v = member(request)
        case = await onboarding_of(request.app).add_entry(v, *_ref(request), kind, await read_json(request))
        return json_response(case, 201)

    handler.__doc__ = what
    return handler


async def share_case(request: web.Request) -> web.Response:
    """Share a case with another coop's advisors: its snapshot goes signed to that node only"""
    v, body = member(request), await _object(request)
    return json_response(await onboarding_of(request.app).share(v, *_ref(request), body.get("coop")))


async def unshare_case(request: web.Request) -> web.Response:
    """Stop sharing a case with a coop (its copy there is deleted)"""
    v = member(request)
    return json_response(await onboarding_of(request.app).unshare(v, *_ref(request), request.match_info["coop"]))


async def case_mentors(request: web.Request) -> web.Response:
    """Mentors and experts in the federated directory for the case's trades (or ?trades=ROME,...)"""
    v = member(request)
    onboarding = onboarding_of(request.app)
    trades: object = request.query.get("trades")
    if not trades:
        case = await onboarding.get_case(v, *_ref(request))
        trades = [t["rome"] for t in case["trades"]]
    return json_response({"items": await onboarding.find_mentors(v, trades)})


async def mentors(request: web.Request) -> web.Response:
    """Mentors and experts in the federated directory for ?trades=ROME,ROME"""
    v = member(request)
    return json_response({"items": await onboarding_of(request.app).find_mentors(v, request.query.get("trades", ""))})


async def bundle(request: web.Request) -> web.Response:
    """Node bootstrap bundle for the new coop of a case at the registration stage ({name, url, display_name})"""
    v, body = member(request), await _object(request)
    origin, case_id = _ref(request)
    onboarding = onboarding_of(request.app)
    await onboarding.get_case(v, origin, case_id)  # advisors and operators only; the case must be here
    result = await build_bundle(
        services(request),
        case_id,
        str(body.get("name", "")),
        str(body.get("url", "")),
        str(body.get("display_name", "")),
    )
    return json_response(result, 201)


async def member_path(request: web.Request) -> web.Response:
    """A member's individual path (CAPE contract, salaried entrepreneur, associate...), for the coop"""
    items = await paths_of(request.app).history(member(request), request.match_info["member_id"])
    return json_response({"items": items})


async def record_path_step(request: web.Request) -> web.Response:
    """Record a step of a member's path {status, since, note} (advisors, operators)"""
    v = member(request)
    items = await paths_of(request.app).record(v, request.match_info["member_id"], await read_json(request))
    return json_response({"items": items}, 201)


async def my_path(request: web.Request) -> web.Response:
    """My individual path in this coop"""
    v = member(request)
    items = await paths_of(request.app).history(v, v.member_id or "") if v.member_id else []
    return json_response({"items": items})


STAFF: Final = "staff"
ONBOARDING_ROUTES: Final[tuple[Route, ...]] = (
    Route("GET", CASES, list_cases, str(list_cases.__doc__), STAFF, "onboarding", query=("stage",)),
    Route(
        "POST",
        CASES,
        create_case,
        str(create_case.__doc__),
        STAFF,
        "onboarding",
        body="{title, origin_kind, target_form, description, trades, group, owners, retention_until}",
        status=201,
    ),
    Route("GET", CASE, get_case, str(get_case.__doc__), STAFF, "onboarding"),
    Route("PATCH", CASE, update_case, str(update_case.__doc__), STAFF, "onboarding", body="case fields"),
    Route("POST", CASE + "/stage", move_stage, str(move_stage.__doc__), STAFF, "onboarding", body="{stage}"),
    Route("POST", CASE + "/checklist", toggle_item, str(toggle_item.__doc__), STAFF, "onboarding", body="{stage, key}"),
    Route(
        "POST",
        CASE + "/notes",
        _add("notes", "Add a note to a stage ({stage, text})"),
        "Add a note to a stage",
        STAFF,
        "onboarding",
        body="{stage, text}",
        status=201,
    ),
    Route(
        "POST",
        CASE + "/documents",
        _add("documents", "Add a document to a stage ({stage, name, ref})"),
        "Add a document to a stage",
        STAFF,
        "onboarding",
        body="{stage, name, ref}",
        status=201,
    ),
    Route(
        "POST",
        CASE + "/decisions",
        _add("decisions", "Record a decision at a stage ({stage, text, date, who})"),
        "Record a decision at a stage",
        STAFF,
        "onboarding",
        body="{stage, text, date, who}",
        status=201,
    ),
    Route("POST", CASE + "/share", share_case, str(share_case.__doc__), STAFF, "onboarding", body="{coop}"),
    Route("DELETE", CASE + "/share/{coop}", unshare_case, str(unshare_case.__doc__), STAFF, "onboarding"),
    Route("GET", CASE + "/mentors", case_mentors, str(case_mentors.__doc__), STAFF, "onboarding", query=("trades",)),
    Route(
        "POST",
        CASE + "/bundle",
        bundle,
        str(bundle.__doc__),
        STAFF,
        "onboarding",
        body="{name, url, display_name}",
        status=201,
    ),
    Route("GET", "/api/v1/onboarding/mentors", mentors, str(mentors.__doc__), STAFF, "onboarding", query=("trades",)),
    Route("GET", "/api/v1/me/path", my_path, str(my_path.__doc__), "member", "me"),
    Route("GET", "/api/v1/members/{member_id}/path", member_path, str(member_path.__doc__), "member", "members"),
    Route(
        "POST",
        "/api/v1/members/{member_id}/path",
        record_path_step,
        str(record_path_step.__doc__),
        STAFF,
        "members",
        body="{status, since, note}",
        status=201,
    ),
)


# ------------------------------------------------------------------------------------------------ install


def onboarding_extension(app: web.Application) -> None:
    """Install the onboarding API on a node application (after the federation extension)."""
    add_routes(app, ONBOARDING_ROUTES)
    app.cleanup_ctx.append(_route_shared_cases)


async def _route_shared_cases(app: web.Application) -> AsyncIterator[None]:
    """Routing: shared-case messages go to the onboarding service, every other message to the inbox.

    Replace by routing in the federation's message handling once ``onboarding_case`` is a record type.
    """
    store = app.get(STORE_KEY)
    if store is not None:

        async def handle(record: Record, received_at: int) -> bool:
            return await receive_shared_case(app[SERVICES_KEY], record, notifier(app))

        store.route_messages(is_shared_case, handle)
    yield
