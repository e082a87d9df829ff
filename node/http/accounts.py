"""Accounts of this node (operators manage them; advisors may list them)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, encode_cursor, json_response, member, node_of, page, path_int, read_object


async def list_accounts(request: web.Request) -> web.Response:
    cursor, limit = page(request)
    items = await node_of(request).accounts.list_accounts(member(request), after=cursor or 0, limit=limit)
    nxt = items[-1]["id"] if len(items) == limit else None
    return json_response({"items": items, "next_cursor": encode_cursor(nxt)})


async def invite_account(request: web.Request) -> web.Response:
    v, body, node = member(request), await read_object(request), node_of(request)
    account, token = await node.accounts.invite(
        v, email=body.get("email"), display_name=body.get("display_name"), role=body.get("role", "member")
    )
    return json_response(
        {
            "id": account.id,
            "email": account.email,
            "role": account.role,
            "invitation_token": token,
            "invitation_url": f"{node.config.url}/invitation/{token}",
        },
        201,
    )


async def reinvite_account(request: web.Request) -> web.Response:
    node = node_of(request)
    token = await node.accounts.reinvite(member(request), path_int(request, "account_id"))
    return json_response({"invitation_token": token, "invitation_url": f"{node.config.url}/invitation/{token}"}, 201)


async def update_account(request: web.Request) -> web.Response:
    v, body = member(request), await read_object(request)
    return json_response(await node_of(request).accounts.update_account(v, path_int(request, "account_id"), body))


async def delete_account(request: web.Request) -> web.Response:
    await node_of(request).directory.delete_member(member(request), path_int(request, "account_id"))
    return web.Response(status=204)


ROUTES: Final = (
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
)
