"""Signing in and out, accepting an invitation, and the member's own profile, export and erasure."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from node.errors import NodeError
from node.http.session import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from node.services.profiles import PROFILE_FIELDS
from node.viewer import LEVELS
from node.web.onboarding_pages import path_context
from node.web.render import form_of, node_of, redirect, render, same_site_path, signed_in


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": same_site_path(request.query.get("next")), "failed": False})


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    target = same_site_path(form.get("next"))
    try:
        result = await node_of(request).accounts.login(form.get("email"), form.get("password"), request.remote or "?")
    except NodeError as exc:
        if exc.status == 429:
            raise
        return render(request, "login.html", {"next": target, "failed": True}, status=401)
    response = web.HTTPSeeOther(target)
    set_session_cookie(node_of(request), response, result.token, result.expires_at)
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await node_of(request).accounts.logout(cookie)
    response = web.HTTPSeeOther("/")
    clear_session_cookie(response)
    raise response


async def invitation_page(request: web.Request) -> web.Response:
    return render(request, "invitation.html", {"token": request.match_info["token"]})


async def invitation_submit(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    result = await node_of(request).accounts.accept_invitation(
        request.match_info["token"], form.get("password"), request.remote or "?"
    )
    response = web.HTTPSeeOther("/me")
    set_session_cookie(node_of(request), response, result.token, result.expires_at)
    raise response


async def me_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    profile = await node_of(request).directory.my_profile(v)
    return render(
        request,
        "me.html",
        {
            "profile": profile,
            "field_names": list(PROFILE_FIELDS),
            "levels": LEVELS,
            "widest": {name: f.widest for name, f in PROFILE_FIELDS.items()},
            "as_text": _as_text,
            "saved": request.query.get("saved") == "1",
            **await path_context(request, v.member_id),
        },
    )


def _as_text(name: str, value: Any) -> str:
    """A stored field as a form shows it (lists comma-separated, trades as ROME codes, a place as its town)."""
    if value is None:
        return ""
    if name == "trades":
        return ", ".join(t.get("rome", "") for t in value if isinstance(t, dict))
    if name == "place":
        return str(value.get("town", "")) if isinstance(value, dict) else str(value)
    if name == "availability":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return ", ".join(str(x) for x in value)
    return str(value)


def _from_text(name: str, text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    if name in ("trades", "skills", "languages", "links"):
        return [part.strip() for part in text.split(",") if part.strip()]
    if name == "availability":
        try:
            return json.loads(text)
        except ValueError:
            return {"status": text}
    if name == "day_rate_eur":
        return int(text) if text.isdigit() else text
    return text


async def me_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    fields = {name: _from_text(name, form.get(f"field.{name}", "")) for name in PROFILE_FIELDS}
    visibility = {name: form[f"vis.{name}"] for name in PROFILE_FIELDS if form.get(f"vis.{name}") in LEVELS}
    await node_of(request).directory.update_my_profile(v, {"fields": fields, "visibility": visibility}, replace=False)
    raise redirect("/me?saved=1")


async def export_me(request: web.Request) -> web.Response:
    v = signed_in(request)
    data = await node_of(request).directory.export(v)
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, indent=2),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="bigre-export.json"'},
    )


async def erase_me(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    await node_of(request).directory.erase(v, form.get("password"))
    response = web.HTTPSeeOther("/?erased=1")
    clear_session_cookie(response)
    raise response


def account_routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_page),
        web.post("/login", login_submit),
        web.post("/logout", logout_submit),
        web.get("/invitation/{token}", invitation_page),
        web.post("/invitation/{token}", invitation_submit),
        web.get("/me", me_page),
        web.post("/me", me_submit),
        web.get("/me/export", export_me),
        web.post("/me/erase", erase_me),
    ]
