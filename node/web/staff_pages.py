"""The staff pages: the advisors' list of members starting out, and the operator's dashboard (peers' health,
keys, the last day's replication, pending admissions, accounts, invitations and the members CSV import)."""

from __future__ import annotations

import json
from typing import Any, Final

import aiohttp
from aiohttp import web

from node.errors import Conflict, InvalidInput, TooManyAttempts
from node.services.members_csv import import_members
from node.viewer import ROLES
from node.web.render import form_error, form_of, lang_of, node_of, rate_limit, render, retry_after, signed_in


async def advisor_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_staff:
        raise web.HTTPForbidden()
    members, _ = await node_of(request).directory.list_members(v, after=0, limit=500)
    starting = [
        m for m in members if m["fields"].get("stage") == "starting" or m["fields"].get("coop_status") == "cape"
    ]
    return render(request, "advisor.html", {"members": starting[:200]})


async def operator_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    node = node_of(request)
    store = node.federation_store
    activity = await node.status.received_per_hour(node.clock())
    accounts = await node.users.search(v, per_page=1)
    report = request.get("import_report")
    flash = _take_flash(request)
    response = render(
        request,
        "operator.html",
        {
            "peers": await store.health(),
            "heads": await store.heads(),
            "forks": await store.forks(),
            "key_id": node.key.kid,
            "public_key": node.key.public_bytes.hex(),
            "activity": activity,
            "activity_max": max(activity) or 1,
            "account_count": accounts.total,
            "report": report,
            "import_links": request.get("import_links") or [],
            "invitations_mailed": request.get("invitations_mailed"),
            "invitation": flash.get("invitation"),
            "known_nodes": len(node.federation.trust.peers()),
            "admissions": [
                d for d in node.governance.decisions() if d["kind"] == "admission" and d["result"] == "pending"
            ],
            "moves": await node.moving.incoming(v),
            "accepted_move": flash.get("accepted_move"),
            "roles": ROLES,
            "summary": request.get("summary"),
        },
        status=request.get("status", 200),
    )
    if flash:
        response.del_cookie(FLASH_COOKIE, path="/operator")
    return response


MAX_IMPORT_BYTES: Final = 8 * 1024 * 1024  # a 5,000-member CSV is about 1 MiB; the app-wide body limit is 256 KiB


async def _uploaded_file(request: web.Request, field: str, limit: int, flags: dict[str, str] | None = None) -> bytes:
    """The bytes of one file field of a multipart form, read as a stream (the app-wide ``client_max_size`` is for
    JSON and forms, far below what a members file needs), refused past ``limit``. Small text fields sent before
    it (checkboxes) are put in ``flags``."""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, aiohttp.BodyPartReader):
            continue
        if part.name != field:
            if flags is not None and part.name and part.filename is None:
                flags[part.name] = (await part.read_chunk(100)).decode("utf-8", "replace")
            continue
        data = bytearray()
        while chunk := await part.read_chunk(64 * 1024):
            data += chunk
            if len(data) > limit:
                raise InvalidInput(f"the file is larger than {limit // (1024 * 1024)} MiB")
        return bytes(data)
    return b""


async def operator_import(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    flags: dict[str, str] = {}
    data = await _uploaded_file(request, "file", MAX_IMPORT_BYTES, flags)
    report = await import_members(node_of(request), data)
    request["import_report"] = report
    if flags.get("invite_all") == "1" and report.invitations:
        request["invitations_mailed"] = await node_of(request).invitations.mail_links(
            report.invitations, lang_of(request).code
        )
    base = node_of(request).config.url
    # each token is shown once, here: only its hash is stored
    request["import_links"] = [(email, f"{base}/invitation/{token}") for email, token in report.invitations]
    return await operator_page(request)


async def operator_invite(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    try:
        rate_limit(request, "invitations")
        invited = await node_of(request).invitations.invite(
            v,
            email=form.get("email"),
            display_name=form.get("display_name") or None,
            role=form.get("role", "member"),
            language=form.get("language") or lang_of(request).code,
        )
        account, token = invited.account, invited.token
    except (InvalidInput, Conflict, TooManyAttempts) as exc:
        explained, status = form_error(request, exc)
        request["summary"] = " ".join([explained.summary, *explained.fields.values()])
        request["status"] = status
        return retry_after(await operator_page(request), exc)
    # POST, then GET: the link is shown once, by the page the redirect leads to (reloading it does not invite again)
    raise _flash_redirect(request, {"invitation": [account.email, f"{node_of(request).config.url}/invitation/{token}"]})


async def accept_move(request: web.Request) -> web.StreamResponse:
    """Take in a member moving from another coop; the answer shows their invitation link, once."""
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    node = node_of(request)
    result = await node.moving.accept(v, request.match_info["origin"], request.match_info["move_id"])
    token = result.get("invitation_token")
    link = f"{node.config.url}/invitation/{token}" if token else None
    accepted = {"name": result.get("display_name") or "", "email": result.get("email") or "", "link": link}
    raise _flash_redirect(request, {"accepted_move": accepted})


FLASH_COOKIE: Final = "bigre_operator_flash"


def _flash_redirect(request: web.Request, shown: dict[str, Any]) -> web.HTTPSeeOther:
    """Answer a POST with a redirect to the dashboard, carrying what to show there once (a short-lived cookie for
    the dashboard's path only, read and cleared by the next GET)."""
    response = web.HTTPSeeOther("/operator#members" if "invitation" in shown else "/operator#moves")
    response.set_cookie(
        FLASH_COOKIE,
        json.dumps(shown, separators=(",", ":")),
        max_age=120,
        path="/operator",
        httponly=True,
        samesite="Strict",
        secure=node_of(request).config.url.startswith("https://"),
    )
    return response


def _take_flash(request: web.Request) -> dict[str, Any]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return {}
    try:
        found = json.loads(raw)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def staff_routes() -> list[web.RouteDef]:
    return [
        web.get("/advisor", advisor_page),
        web.get("/operator", operator_page),
        web.post("/operator/import", operator_import),
        web.post("/operator/invite", operator_invite),
        web.post("/operator/moves/{origin}/{move_id}/accept", accept_move),
    ]
