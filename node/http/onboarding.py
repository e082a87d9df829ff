"""Onboarding (``/api/v1/onboarding/...``): the advisors' cases, and members' individual paths in this coop.
Shared cases travel to another coop as direct records (:mod:`node.services.onboarding`)."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from node.http.onboarding_models import Bundle as BundleAnswer
from node.http.onboarding_models import (
    BundleInput,
    Case,
    CaseCard,
    CaseChange,
    CaseInput,
    CasesQuery,
    ChecklistChange,
    DecisionInput,
    DocumentInput,
    Mentor,
    MentorsQuery,
    NoteInput,
    PathStep,
    PathStepInput,
    ShareInput,
    StageMove,
)
from node.http.routing import Access, Handler, Route, json_response, member, node_of
from node.http.types import list_of

CASES: Final = "/api/v1/onboarding/cases"
CASE: Final = CASES + "/{origin}/{case_id}"


def _given(body: BaseModel) -> dict[str, Any]:
    """The fields a client gave, as the onboarding service takes them."""
    return body.model_dump(exclude_unset=True)


# ------------------------------------------------------------------------------------------------ handlers


async def list_cases(request: web.Request, query: CasesQuery) -> web.Response:
    """Onboarding cases of this coop and shared with it, newest change first (advisors, operators)"""
    return json_response({"items": await node_of(request).onboarding.list_cases(member(request), stage=query.stage)})


async def create_case(request: web.Request, body: CaseInput) -> web.Response:
    """Open an onboarding case (advisors, operators)"""
    given = {k: v for k, v in _given(body).items() if v is not None}
    return json_response(await node_of(request).onboarding.create_case(member(request), given), 201)


async def get_case(request: web.Request, origin: str, case_id: str) -> web.Response:
    """One onboarding case with its stages and legal-form check"""
    return json_response(await node_of(request).onboarding.get_case(member(request), origin, case_id))


async def update_case(request: web.Request, origin: str, case_id: str, body: CaseChange) -> web.Response:
    """Change a case's fields: title, description, trades, group, owners, stage dates, retention"""
    changes = _given(body)
    if "stage_dates" in changes:  # only the dates given, so a date not mentioned is kept
        changes["stage_dates"] = {
            stage: dates.model_dump(exclude_unset=True) for stage, dates in (body.stage_dates or {}).items()
        }
    v = member(request)
    return json_response(await node_of(request).onboarding.update_case(v, origin, case_id, changes))


async def move_stage(request: web.Request, origin: str, case_id: str, body: StageMove) -> web.Response:
    """Move a case to a stage (past the legal form only when the group meets the target form's rules)"""
    v = member(request)
    return json_response(await node_of(request).onboarding.move_stage(v, origin, case_id, body.stage))


async def graduate(request: web.Request, origin: str, case_id: str) -> web.Response:
    """A student project becomes a real creation case (this coop's projects only)"""
    return json_response(await node_of(request).onboarding.graduate(member(request), origin, case_id), 201)


async def toggle_item(request: web.Request, origin: str, case_id: str, body: ChecklistChange) -> web.Response:
    """Tick or untick a checklist item ({stage, key, done?}), or add one ({stage, label})"""
    v = member(request)
    return json_response(await node_of(request).onboarding.toggle_item(v, origin, case_id, _given(body)))


def _add(kind: str, what: str) -> Handler:
    async def handler(request: web.Request, origin: str, case_id: str, body: BaseModel) -> web.Response:
        v = member(request)
        case = await node_of(request).onboarding.add_entry(v, origin, case_id, kind, _given(body))
        return json_response(case, 201)

    handler.__doc__ = what
    return handler


async def share_case(request: web.Request, origin: str, case_id: str, body: ShareInput) -> web.Response:
    """Share a case with another coop's advisors: its snapshot goes signed to that node only"""
    v = member(request)
    return json_response(await node_of(request).onboarding.share(v, origin, case_id, body.coop))


async def unshare_case(request: web.Request, origin: str, case_id: str, coop: str) -> web.Response:
    """Stop sharing a case with a coop (its copy there is deleted)"""
    return json_response(await node_of(request).onboarding.unshare(member(request), origin, case_id, coop))


async def case_mentors(request: web.Request, origin: str, case_id: str, query: MentorsQuery) -> web.Response:
    """Mentors and experts in the federated directory for the case's trades (or ?trades=ROME,...)"""
    v = member(request)
    onboarding = node_of(request).onboarding
    trades: object = query.trades
    if not trades:
        case = await onboarding.get_case(v, origin, case_id)
        trades = [t["rome"] for t in case["trades"]]
    return json_response({"items": await onboarding.find_mentors(v, trades)})


async def mentors(request: web.Request, query: MentorsQuery) -> web.Response:
    """Mentors and experts in the federated directory for ?trades=ROME,ROME"""
    return json_response({"items": await node_of(request).onboarding.find_mentors(member(request), query.trades)})


async def bundle(request: web.Request, origin: str, case_id: str, body: BundleInput) -> web.Response:
    """Node bootstrap bundle for the new coop of a case at the registration stage ({name, url, display_name})"""
    v, node = member(request), node_of(request)
    await node.onboarding.get_case(v, origin, case_id)  # advisors and operators only; the case must be here
    result = await node.bundles.build(case_id, body.name, body.url, body.display_name)
    return json_response(result, 201)


async def member_path(request: web.Request, member_id: str) -> web.Response:
    """A member's individual path (CAPE contract, salaried entrepreneur, associate...), for the coop"""
    return json_response({"items": await node_of(request).member_paths.history(member(request), member_id)})


async def record_path_step(request: web.Request, member_id: str, body: PathStepInput) -> web.Response:
    """Record a step of a member's path {status, since, note} (advisors, operators)"""
    given = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    items = await node_of(request).member_paths.record(member(request), member_id, given)
    return json_response({"items": items}, 201)


async def my_path(request: web.Request) -> web.Response:
    """My individual path in this coop"""
    v = member(request)
    items = await node_of(request).member_paths.history(v, v.member_id or "") if v.member_id else []
    return json_response({"items": items})


STAFF: Final[Access] = "staff"
TAG: Final = "onboarding"


def _entry(path: str, kind: str, what: str, body: type[BaseModel]) -> Route:
    return Route(
        "POST",
        CASE + path,
        _add(kind, what),
        what.split(" (")[0],
        STAFF,
        TAG,
        body=body,
        response=Case,
        status=201,
        operation_id=f"add_case_{kind.removesuffix('s')}",
    )


ROUTES: Final = (
    Route(
        "GET",
        CASES,
        list_cases,
        str(list_cases.__doc__),
        STAFF,
        TAG,
        query=CasesQuery,
        response=list_of(CaseCard),
        operation_id="list_cases",
    ),
    Route(
        "POST",
        CASES,
        create_case,
        str(create_case.__doc__),
        STAFF,
        TAG,
        body=CaseInput,
        response=Case,
        status=201,
        operation_id="create_case",
    ),
    Route("GET", CASE, get_case, str(get_case.__doc__), STAFF, TAG, response=Case, operation_id="get_case"),
    Route(
        "PATCH",
        CASE,
        update_case,
        str(update_case.__doc__),
        STAFF,
        TAG,
        body=CaseChange,
        response=Case,
        operation_id="update_case",
    ),
    Route(
        "POST",
        CASE + "/graduate",
        graduate,
        str(graduate.__doc__),
        STAFF,
        TAG,
        response=Case,
        status=201,
        errors=(409,),
        operation_id="graduate_student_project",
    ),
    Route(
        "POST",
        CASE + "/stage",
        move_stage,
        str(move_stage.__doc__),
        STAFF,
        TAG,
        body=StageMove,
        response=Case,
        operation_id="move_case_stage",
    ),
    Route(
        "POST",
        CASE + "/checklist",
        toggle_item,
        str(toggle_item.__doc__),
        STAFF,
        TAG,
        body=ChecklistChange,
        response=Case,
        operation_id="change_case_checklist",
    ),
    _entry("/notes", "notes", "Add a note to a stage ({stage, text})", NoteInput),
    _entry("/documents", "documents", "Add a document to a stage ({stage, name, ref})", DocumentInput),
    _entry("/decisions", "decisions", "Record a decision at a stage ({stage, text, date, who})", DecisionInput),
    Route(
        "POST",
        CASE + "/share",
        share_case,
        str(share_case.__doc__),
        STAFF,
        TAG,
        body=ShareInput,
        response=Case,
        operation_id="share_case",
    ),
    Route(
        "DELETE",
        CASE + "/share/{coop}",
        unshare_case,
        str(unshare_case.__doc__),
        STAFF,
        TAG,
        response=Case,
        operation_id="unshare_case",
    ),
    Route(
        "GET",
        CASE + "/mentors",
        case_mentors,
        str(case_mentors.__doc__),
        STAFF,
        TAG,
        query=MentorsQuery,
        response=list_of(Mentor),
        operation_id="case_mentors",
    ),
    Route(
        "POST",
        CASE + "/bundle",
        bundle,
        str(bundle.__doc__),
        STAFF,
        TAG,
        body=BundleInput,
        response=BundleAnswer,
        status=201,
        errors=(409,),
        operation_id="case_bundle",
    ),
    Route(
        "GET",
        "/api/v1/onboarding/mentors",
        mentors,
        str(mentors.__doc__),
        STAFF,
        TAG,
        query=MentorsQuery,
        response=list_of(Mentor),
        operation_id="find_mentors",
    ),
    Route(
        "GET",
        "/api/v1/me/path",
        my_path,
        str(my_path.__doc__),
        "member",
        "me",
        response=list_of(PathStep),
        operation_id="my_path",
    ),
    Route(
        "GET",
        "/api/v1/members/{member_id}/path",
        member_path,
        str(member_path.__doc__),
        "member",
        "members",
        response=list_of(PathStep),
        operation_id="member_path",
    ),
    Route(
        "POST",
        "/api/v1/members/{member_id}/path",
        record_path_step,
        str(record_path_step.__doc__),
        STAFF,
        "members",
        body=PathStepInput,
        response=list_of(PathStep),
        status=201,
        operation_id="record_path_step",
    ),
)
