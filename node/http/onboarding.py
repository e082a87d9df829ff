"""Onboarding (``/api/v1/onboarding/...``): the advisors' cases, and members' individual paths in this coop.
Shared cases travel to another coop as direct records (:mod:`node.services.onboarding`)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import Access, Handler, Route, json_response, member, node_of, read_json, read_object

CASES: Final = "/api/v1/onboarding/cases"
CASE: Final = CASES + "/{origin}/{case_id}"


def _ref(request: web.Request) -> tuple[str, str]:
    return request.match_info["origin"], request.match_info["case_id"]


# ------------------------------------------------------------------------------------------------ handlers


async def list_cases(request: web.Request) -> web.Response:
    """Onboarding cases of this coop and shared with it, newest change first (advisors, operators)"""
    items = await node_of(request).onboarding.list_cases(member(request), stage=request.query.get("stage") or None)
    return json_response({"items": items})


async def create_case(request: web.Request) -> web.Response:
    """Open an onboarding case (advisors, operators)"""
    return json_response(await node_of(request).onboarding.create_case(member(request), await read_json(request)), 201)


async def get_case(request: web.Request) -> web.Response:
    """One onboarding case with its stages and legal-form check"""
    return json_response(await node_of(request).onboarding.get_case(member(request), *_ref(request)))


async def update_case(request: web.Request) -> web.Response:
    """Change a case's fields: title, description, trades, group, owners, stage dates, retention"""
    v = member(request)
    return json_response(await node_of(request).onboarding.update_case(v, *_ref(request), await read_json(request)))


async def move_stage(request: web.Request) -> web.Response:
    """Move a case to a stage (past the legal form only when the group meets the target form's rules)"""
    v, body = member(request), await read_object(request)
    return json_response(await node_of(request).onboarding.move_stage(v, *_ref(request), body.get("stage")))


async def toggle_item(request: web.Request) -> web.Response:
    """Tick or untick a checklist item ({stage, key, done?}), or add one ({stage, label})"""
    v = member(request)
    return json_response(await node_of(request).onboarding.toggle_item(v, *_ref(request), await read_json(request)))


def _add(kind: str, what: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        v = member(request)
        case = await node_of(request).onboarding.add_entry(v, *_ref(request), kind, await read_json(request))
        return json_response(case, 201)

    handler.__doc__ = what
    return handler


async def share_case(request: web.Request) -> web.Response:
    """Share a case with another coop's advisors: its snapshot goes signed to that node only"""
    v, body = member(request), await read_object(request)
    return json_response(await node_of(request).onboarding.share(v, *_ref(request), body.get("coop")))


async def unshare_case(request: web.Request) -> web.Response:
    """Stop sharing a case with a coop (its copy there is deleted)"""
    v = member(request)
    return json_response(await node_of(request).onboarding.unshare(v, *_ref(request), request.match_info["coop"]))


async def case_mentors(request: web.Request) -> web.Response:
    """Mentors and experts in the federated directory for the case's trades (or ?trades=ROME,...)"""
    v = member(request)
    onboarding = node_of(request).onboarding
    trades: object = request.query.get("trades")
    if not trades:
        case = await onboarding.get_case(v, *_ref(request))
        trades = [t["rome"] for t in case["trades"]]
    return json_response({"items": await onboarding.find_mentors(v, trades)})


async def mentors(request: web.Request) -> web.Response:
    """Mentors and experts in the federated directory for ?trades=ROME,ROME"""
    v = member(request)
    return json_response({"items": await node_of(request).onboarding.find_mentors(v, request.query.get("trades", ""))})


async def bundle(request: web.Request) -> web.Response:
    """Node bootstrap bundle for the new coop of a case at the registration stage ({name, url, display_name})"""
    v, body = member(request), await read_object(request)
    origin, case_id = _ref(request)
    node = node_of(request)
    await node.onboarding.get_case(v, origin, case_id)  # advisors and operators only; the case must be here
    result = await node.bundles.build(
        case_id, str(body.get("name", "")), str(body.get("url", "")), str(body.get("display_name", ""))
    )
    return json_response(result, 201)


async def member_path(request: web.Request) -> web.Response:
    """A member's individual path (CAPE contract, salaried entrepreneur, associate...), for the coop"""
    items = await node_of(request).member_paths.history(member(request), request.match_info["member_id"])
    return json_response({"items": items})


async def record_path_step(request: web.Request) -> web.Response:
    """Record a step of a member's path {status, since, note} (advisors, operators)"""
    v = member(request)
    items = await node_of(request).member_paths.record(v, request.match_info["member_id"], await read_json(request))
    return json_response({"items": items}, 201)


async def my_path(request: web.Request) -> web.Response:
    """My individual path in this coop"""
    v = member(request)
    items = await node_of(request).member_paths.history(v, v.member_id or "") if v.member_id else []
    return json_response({"items": items})


STAFF: Final[Access] = "staff"
ROUTES: Final = (
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
