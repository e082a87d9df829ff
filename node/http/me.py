"""The signed-in member's own account and profile: read, change, export, erase."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, member, node_of, read_json
from node.http.session import clear_session_cookie


async def me(request: web.Request) -> web.Response:
    v = member(request)
    account = await node_of(request).accounts.get_account(v.account_id or 0)
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
    return json_response(await node_of(request).directory.my_profile(member(request)))


async def put_my_profile(request: web.Request) -> web.Response:
    v = member(request)
    return json_response(await node_of(request).directory.update_my_profile(v, await read_json(request), replace=True))


async def patch_my_profile(request: web.Request) -> web.Response:
    v = member(request)
    return json_response(await node_of(request).directory.update_my_profile(v, await read_json(request), replace=False))


async def export_me(request: web.Request) -> web.Response:
    response = json_response(await node_of(request).directory.export(member(request)))
    response.headers["Content-Disposition"] = 'attachment; filename="bigre-export.json"'
    return response


async def erase_me(request: web.Request) -> web.Response:
    v = member(request)
    body = await read_json(request)
    password = body.get("password") if isinstance(body, dict) else None
    withdrawn = await node_of(request).directory.erase(v, password)
    response = json_response({"erased": True, "withdrawn_records": withdrawn})
    clear_session_cookie(response)
    return response


ROUTES: Final = (
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
)
