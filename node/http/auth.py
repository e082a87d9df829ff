"""Signing in and out, and accepting an invitation (which signs the new member in)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, node_of, read_object
from node.http.session import clear_session_cookie, set_session_cookie
from node.http.state import TOKEN_KEY
from node.services.accounts import LoginResult


def _signed_in(request: web.Request, result: LoginResult) -> web.Response:
    """The answer to a successful sign-in: the token for API clients, the session cookie for pages."""
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
    set_session_cookie(node_of(request), response, result.token, result.expires_at)
    return response


async def login(request: web.Request) -> web.Response:
    body = await read_object(request)
    client = request.remote or "unknown"
    return _signed_in(request, await node_of(request).accounts.login(body.get("email"), body.get("password"), client))


async def logout(request: web.Request) -> web.Response:
    await node_of(request).accounts.logout(request[TOKEN_KEY])
    response = web.Response(status=204)
    clear_session_cookie(response)
    return response


async def accept_invitation(request: web.Request) -> web.Response:
    body = await read_object(request)
    return _signed_in(
        request,
        await node_of(request).accounts.accept_invitation(
            body.get("token"), body.get("password"), request.remote or "unknown"
        ),
    )


ROUTES: Final = (
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
)
