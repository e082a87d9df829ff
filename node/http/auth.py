"""Signing in and out, and accepting an invitation (which signs the new member in)."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.routing import V1, Route, json_response, node_of
from node.http.session import clear_session_cookie, set_session_cookie
from node.http.state import TOKEN_KEY
from node.http.types import AccountId, Input, Ms, RecordId, Role
from node.services.accounts import LoginResult
from node.services.passwords import MAX_PASSWORD, MIN_PASSWORD


class Credentials(Input):
    email: str = Field(max_length=320)
    password: str = Field(max_length=MAX_PASSWORD)


class Acceptance(Input):
    token: str = Field(min_length=1, max_length=200, description="the token of the invitation link")
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, description="the password to choose")


class SignedInAccount(BaseModel):
    id: AccountId
    role: Role
    display_name: str | None


class SignedIn(BaseModel):
    """A session: the bearer token for API clients (the answer also sets the pages' session cookie)."""

    token: str = Field(description="send it as Authorization: Bearer <token>")
    expires_at: Ms
    member_id: RecordId | None = Field(description="the id of my profile")
    account: SignedInAccount


def signed_in_response(request: web.Request, result: LoginResult) -> web.Response:
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


async def login(request: web.Request, body: Credentials) -> web.Response:
    client = request.remote or "unknown"
    return signed_in_response(request, await node_of(request).accounts.login(body.email, body.password, client))


async def logout(request: web.Request) -> web.Response:
    await node_of(request).accounts.logout(request[TOKEN_KEY])
    response = web.Response(status=204)
    clear_session_cookie(response)
    return response


async def accept_invitation(request: web.Request, body: Acceptance) -> web.Response:
    accounts = node_of(request).accounts
    result = await accounts.accept_invitation(body.token, body.password, request.remote or "unknown")
    return signed_in_response(request, result)


ROUTES: Final = (
    Route(
        "POST",
        f"{V1}/auth/login",
        login,
        "Log in with e-mail and password; returns a token, sets a cookie",
        "anyone",
        "auth",
        body=Credentials,
        response=SignedIn,
        errors=(429,),
        operation_id="login",
    ),
    Route("POST", f"{V1}/auth/logout", logout, "End this session", "member", "auth", status=204, operation_id="logout"),
    Route(
        "POST",
        f"{V1}/auth/accept",
        accept_invitation,
        "Accept an invitation by choosing a password",
        "anyone",
        "auth",
        body=Acceptance,
        response=SignedIn,
        errors=(403, 404, 429),  # 429: repeated unknown tokens from one address
        operation_id="accept_invitation",
    ),
)
