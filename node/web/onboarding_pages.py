"""The advisor's pages for onboarding: the case board (stages as columns, a case as a card) and a case's page
(checklists, dates, notes, documents, decisions, group, moving, sharing, mentors, bootstrap bundle), plus the
individual-path block of a member's profile.

Thin like the other pages: read the form, call :class:`node.services.onboarding.Onboarding`, redirect or render.
Registered from :func:`node.web.routes.install_pages`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from node.errors import InvalidInput, NodeError
from node.services import onboarding_rules as rules
from node.services.member_path import PATH_STATUSES
from node.services.onboarding import require_staff
from node.viewer import Viewer
from node.web.forms import form_trades
from node.web.render import form_error, form_of, node_of, redirect, render, signed_in, viewer_of

BOARD = "/advisor/cases"


def _staff(request: web.Request) -> Viewer:
    return require_staff(signed_in(request))


def _ref(request: web.Request) -> tuple[str, str]:
    return request.match_info["origin"], request.match_info["case_id"]


def _case_url(origin: str, case_id: str) -> str:
    return f"{BOARD}/{origin}/{case_id}"


def _back(form: dict[str, str], origin: str, case_id: str) -> str:
    return BOARD if form.get("back") == "board" else _case_url(origin, case_id)


async def board(request: web.Request) -> web.Response:
    v = _staff(request)
    cards = await node_of(request).onboarding.list_cases(v)
    columns = [(stage, [c for c in cards if c["stage"] == stage]) for stage in rules.STAGES]
    return render(
        request,
        "advisor_cases.html",
        {
            "columns": columns,
            "stages": rules.STAGES,
            "origin_kinds": rules.ORIGIN_KINDS,
            "target_forms": rules.TARGET_FORMS,
        },
    )


async def create(request: web.Request) -> web.StreamResponse:
    v = _staff(request)
    form = await form_of(request)
    payload: dict[str, Any] = {k: form.get(k, "") for k in ("title", "origin_kind", "target_form", "description")}
    posted = await request.post()
    trades, _unknown = form_trades(posted, "trades", node_of(request).reference.trades)
    if trades:
        payload["trades"] = [t["rome"] for t in trades]
    if form.get("university", "").strip():  # a student cooperative project (issue 16)
        payload["student"] = {k: form.get(k) or None for k in ("university", "tutor", "year_start", "year_end")}
    case = await node_of(request).onboarding.create_case(v, payload)
    raise redirect(_case_url(case["origin"], case["id"]))


async def graduate(request: web.Request) -> web.StreamResponse:
    """A student project becomes a real creation case (the new case's page opens)."""
    v = _staff(request)
    created = await node_of(request).onboarding.graduate(v, *_ref(request))
    raise redirect(_case_url(created["origin"], created["id"]))


async def case_page(request: web.Request, extra: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    v = _staff(request)
    onboarding = node_of(request).onboarding
    case = await onboarding.get_case(v, *_ref(request))
    peers = await onboarding.direct_peers()
    mentors = await onboarding.find_mentors(v, [t["rome"] for t in case["trades"]]) if case["trades"] else []
    return render(
        request,
        "advisor_case.html",
        {
            "case": case,
            "stages": rules.STAGES,
            "stakeholders": rules.STAKEHOLDERS,
            "peers": [p for p in peers if p not in case["shared_with"]],
            "mentors": mentors[:12],
            "can_bundle": case["own"] and rules.STAGES.index(case["stage"]) >= rules.BUNDLE_STAGE,
            "error": None,
            **(extra or {}),
        },
        status=status,
    )


async def move(request: web.Request) -> web.StreamResponse:
    v = _staff(request)
    form = await form_of(request)
    origin, case_id = _ref(request)
    await node_of(request).onboarding.move_stage(v, origin, case_id, form.get("stage"))
    raise redirect(_back(form, origin, case_id))


async def checklist(request: web.Request) -> web.StreamResponse:
    v = _staff(request)
    form = await form_of(request)
    payload: dict[str, Any] = {"stage": form.get("stage")}
    if form.get("label", "").strip():
        payload["label"] = form["label"]
    else:
        payload["key"] = form.get("key")
    await node_of(request).onboarding.toggle_item(v, *_ref(request), payload)
    raise redirect(_case_url(*_ref(request)) + f"#stage-{form.get('stage', '')}")


def add_entry(kind: str, fields: tuple[str, ...]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        v = _staff(request)
        form = await form_of(request)
        payload = {name: form.get(name) or None for name in ("stage", *fields)}
        await node_of(request).onboarding.add_entry(v, *_ref(request), kind, payload)
        raise redirect(_case_url(*_ref(request)) + f"#stage-{form.get('stage', '')}")

    return handler


async def add_person(request: web.Request) -> web.StreamResponse:
    v = _staff(request)
    form = await form_of(request)
    onboarding = node_of(request).onboarding
    case = await onboarding.get_case(v, *_ref(request))
    person: dict[str, Any] = {k: form.get(k, "") for k in ("name", "email", "role")}
    person["associate"] = form.get("associate") == "on"
    person["employee"] = form.get("employee") == "on"
    if form.get("capital_eur", "").strip():
        capital = form["capital_eur"].strip()
        if not capital.isdigit():
            raise InvalidInput.field("capital_eur", "must be a whole number")
        person["capital_eur"] = int(capital)
    if form.get("stakeholder"):
        person["stakeholder"] = form["stakeholder"]
    await onboarding.update_case(v, *_ref(request), {"group": [*case["group"], person]})
    raise redirect(_case_url(*_ref(request)) + "#group")


async def share(request: web.Request) -> web.StreamResponse:
    v = _staff(request)
    form = await form_of(request)
    await node_of(request).onboarding.share(v, *_ref(request), form.get("coop"))
    raise redirect(_case_url(*_ref(request)) + "?shared=1")


async def bundle(request: web.Request) -> web.Response:
    """The bootstrap bundle as a file to download (``bigre-bundle-<name>.json``), for ``bigre init --bundle``."""
    v = _staff(request)
    form = await form_of(request)
    origin, case_id = _ref(request)
    await node_of(request).onboarding.get_case(v, origin, case_id)
    try:
        result = await node_of(request).bundles.build(
            case_id, form.get("name", ""), form.get("url", ""), form.get("display_name", "")
        )
    except NodeError as exc:
        explained, status = form_error(request, exc)
        message = " ".join([explained.summary, *explained.fields.values()]) if explained.fields else explained.summary
        return await case_page(request, {"error": message}, status=status)
    name = re.sub(r"[^a-z0-9-]", "", str(form.get("name", ""))) or "node"
    return web.Response(
        body=json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8"),
        content_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="bigre-bundle-{name}.json"'},
    )


# ----------------------------------------------------------------------------------------- individual path


async def path_context(request: web.Request, member_id: str | None) -> dict[str, Any]:
    """What a profile page needs to show a member of this coop's path (empty for other coops' members)."""
    v = viewer_of(request)
    if member_id is None or v.anonymous:
        return {"member_path": [], "path_statuses": PATH_STATUSES, "can_record_path": False, "path_member": None}
    return {
        "member_path": await node_of(request).member_paths.history(v, member_id),
        "path_statuses": PATH_STATUSES,
        "can_record_path": v.is_staff,
        "path_member": member_id,
    }


async def record_path(request: web.Request) -> web.StreamResponse:
    v = _staff(request)
    form = await form_of(request)
    member_id = request.match_info["id"]
    payload = {"status": form.get("status"), "since": form.get("since") or None, "note": form.get("note", "")}
    await node_of(request).member_paths.record(v, member_id, payload)
    raise redirect(f"/members/{node_of(request).config.name}/{member_id}#path")


def onboarding_routes() -> list[web.RouteDef]:
    case = BOARD + "/{origin}/{case_id}"
    return [
        web.get(BOARD, board),
        web.post(BOARD, create),
        web.get(case, case_page),
        web.post(case + "/stage", move),
        web.post(case + "/checklist", checklist),
        web.post(case + "/notes", add_entry("notes", ("text",))),
        web.post(case + "/documents", add_entry("documents", ("name", "ref"))),
        web.post(case + "/decisions", add_entry("decisions", ("text", "date", "who"))),
        web.post(case + "/group", add_person),
        web.post(case + "/share", share),
        web.post(case + "/bundle", bundle),
        web.post(case + "/graduate", graduate),
        web.post("/members/{origin}/{id}/path", record_path),
    ]
