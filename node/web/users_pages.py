"""The operator's accounts page: search among thousands of accounts, one page at a time, and act on one (role,
disable or enable, a one-time link to set a new password, erasure), through :class:`node.services.users.Users`
like ``bigre users``."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from node.errors import InvalidInput, NodeError
from node.services.users import PER_PAGE, STATUSES
from node.viewer import ROLES, Viewer
from node.web.render import form_error, form_of, node_of, rate_limit, render, retry_after, signed_in

BASE: Final = "/operator/users"
FILTERS: Final = ("q", "role", "status", "page")


def _operator(request: web.Request) -> Viewer:
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    return v


def _filters(source: Any) -> dict[str, str]:
    """The search as typed (query string of the page, or the hidden fields a form carries back)."""
    found = {k: str(source.get(k) or "").strip()[:200] for k in FILTERS}
    if found["role"] not in ROLES:
        found["role"] = ""
    if found["status"] not in STATUSES:
        found["status"] = ""
    if not found["page"].isdigit() or not 1 <= int(found["page"]) <= 1_000_000:
        found["page"] = "1"
    return found


def _url(filters: dict[str, str], **changes: str) -> str:
    query = {k: v for k, v in {**filters, **changes}.items() if v and not (k == "page" and v == "1")}
    return BASE + ("?" + urlencode(query) if query else "")


async def users_page(request: web.Request, shown: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    v = _operator(request)
    filters = _filters(shown.get("filters", {}) if shown else request.query)
    found = await node_of(request).users.search(
        v,
        q=filters["q"],
        role=filters["role"] or None,
        status=filters["status"] or None,
        page=int(filters["page"]),
        per_page=PER_PAGE,
    )
    page = min(found.page, found.pages)
    if page != found.page:  # past the last page (an erasure shortened the list): the last one
        filters["page"] = str(page)
        found = await node_of(request).users.search(
            v, q=filters["q"], role=filters["role"] or None, status=filters["status"] or None, page=page
        )
    context = {
        "accounts": [{**a, "status": _status(a)} for a in found.items],
        "total": found.total,
        "filters": filters,
        "roles": ROLES,
        "statuses": STATUSES,
        "pages": {
            "current": found.page,
            "last": found.pages,
            "prev": _url(filters, page=str(found.page - 1)) if found.page > 1 else None,
            "next": _url(filters, page=str(found.page + 1)) if found.page < found.pages else None,
        },
        "back": filters,
        "me": v.account_id,
        "summary": None,
        "done": None,
        "reset": None,
        **(shown or {}),
    }
    return render(request, "users.html", context, status=status)


def _status(account: dict[str, Any]) -> str:
    if account["disabled"]:
        return "disabled"
    return "active" if account["activated"] else "invited"


def _account_id(request: web.Request) -> int:
    raw = request.match_info["account_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise web.HTTPNotFound()
    return int(raw)


async def _act(request: web.Request, action: str) -> web.StreamResponse:
    """One action of the page's forms; the page again, with what happened (or why it was refused)."""
    v = _operator(request)
    form = await form_of(request)
    filters = _filters(form)
    account_id = _account_id(request)
    users = node_of(request).users
    shown: dict[str, Any] = {"filters": filters}
    try:
        if action == "role":
            changed = await users.set_role(v, account_id, form.get("role", ""))
            shown["done"] = {"what": "role", "email": changed["email"], "role": changed["role"]}
        elif action in ("disable", "enable"):
            changed = await users.set_disabled(v, account_id, action == "disable")
            shown["done"] = {"what": action, "email": changed["email"]}
        elif action == "reset":
            rate_limit(request, "invitations")
            token = await users.reset_link_token(v, account_id)
            account = await node_of(request).accounts.get_account(account_id)
            link = f"{node_of(request).config.url}/invitation/{token}"
            # shown once, in this answer: only the token's hash is kept
            return await users_page(request, {**shown, "reset": {"email": account.email, "link": link}})
        elif action == "delete":
            if form.get("confirm") != "yes":
                raise InvalidInput.field("confirm", "is required")
            account = await node_of(request).accounts.get_account(account_id)
            await users.delete(v, account_id)
            shown["done"] = {"what": "delete", "email": account.email}
        else:  # pragma: no cover - the routes name every action
            raise web.HTTPNotFound()
    except NodeError as exc:
        if exc.status in (401, 403, 404):
            raise
        explained, status = form_error(request, exc)
        summary = " ".join([explained.summary, *explained.fields.values()])
        page = await users_page(request, {**shown, "summary": summary, "failed": account_id}, status=status)
        return retry_after(page, exc)
    return await users_page(request, shown)


async def set_role(request: web.Request) -> web.StreamResponse:
    return await _act(request, "role")


async def disable(request: web.Request) -> web.StreamResponse:
    return await _act(request, "disable")


async def enable(request: web.Request) -> web.StreamResponse:
    return await _act(request, "enable")


async def reset(request: web.Request) -> web.StreamResponse:
    return await _act(request, "reset")


async def erase(request: web.Request) -> web.StreamResponse:
    return await _act(request, "delete")


def users_routes() -> list[web.RouteDef]:
    return [
        web.get(BASE, users_page),
        web.post(BASE + "/{account_id}/role", set_role),
        web.post(BASE + "/{account_id}/disable", disable),
        web.post(BASE + "/{account_id}/enable", enable),
        web.post(BASE + "/{account_id}/reset", reset),
        web.post(BASE + "/{account_id}/delete", erase),
    ]
