"""Accounts of this node (operators manage them; advisors may list them)."""

from __future__ import annotations

from typing import Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.routing import V1, Route, encode_cursor, json_response, member, node_of, page
from node.http.types import AccountId, Input, Ms, PageQuery, RecordId, Role, page_of


class Account(BaseModel):
    id: AccountId
    member_id: RecordId | None
    email: str
    display_name: str | None
    role: Role
    created_at: Ms
    disabled: bool
    activated: bool = Field(description="whether the invitation was accepted")


class Invitation(Input):
    email: str = Field(max_length=254)
    display_name: str | None = Field(None, max_length=120)
    role: Role = "member"
    language: Literal["fr", "en"] | None = Field(None, description="the language of the invitation mail (default fr)")


class Invited(BaseModel):
    id: AccountId
    email: str
    role: Role
    invitation_token: str
    invitation_url: str
    resent: bool = Field(
        description="the account existed and was never activated: a fresh link was mailed, the old ones stop working"
    )


class Reinvited(BaseModel):
    invitation_token: str
    invitation_url: str


class AccountChange(Input):
    role: Role | None = None
    display_name: str | None = Field(None, min_length=1, max_length=120)
    disabled: bool | None = None


async def list_accounts(request: web.Request, query: PageQuery) -> web.Response:
    cursor, limit = page(query)
    items = await node_of(request).accounts.list_accounts(member(request), after=cursor or 0, limit=limit)
    nxt = items[-1]["id"] if len(items) == limit else None
    return json_response({"items": items, "next_cursor": encode_cursor(nxt)})


async def invite_account(request: web.Request, body: Invitation) -> web.Response:
    v, node = member(request), node_of(request)
    invited = await node.invitations.invite(
        v, email=body.email, display_name=body.display_name, role=body.role, language=body.language
    )
    account, token = invited.account, invited.token
    return json_response(
        {
            "id": account.id,
            "email": account.email,
            "role": account.role,
            "invitation_token": token,
            "invitation_url": f"{node.config.url}/invitation/{token}",
            "resent": invited.resent,
        },
        201,
    )


async def reinvite_account(request: web.Request, account_id: int) -> web.Response:
    node = node_of(request)
    token = await node.invitations.resend(member(request), account_id)
    return json_response({"invitation_token": token, "invitation_url": f"{node.config.url}/invitation/{token}"}, 201)


async def update_account(request: web.Request, account_id: int, body: AccountChange) -> web.Response:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    return json_response(await node_of(request).accounts.update_account(member(request), account_id, changes))


async def delete_account(request: web.Request, account_id: int) -> web.Response:
    await node_of(request).directory.delete_member(member(request), account_id)
    return web.Response(status=204)


ROUTES: Final = (
    Route(
        "GET",
        f"{V1}/accounts",
        list_accounts,
        "Accounts (operators and advisors)",
        "staff",
        "accounts",
        query=PageQuery,
        response=page_of(Account),
        operation_id="list_accounts",
    ),
    Route(
        "POST",
        f"{V1}/accounts",
        invite_account,
        "Create an account and mail its invitation link (again, if it exists and was never activated)",
        "operator",
        "accounts",
        body=Invitation,
        response=Invited,
        status=201,
        errors=(409,),
        operation_id="invite_account",
        limit="invitations",
    ),
    Route(
        "PATCH",
        f"{V1}/accounts/{{account_id}}",
        update_account,
        "Change role, name, or disable",
        "operator",
        "accounts",
        body=AccountChange,
        response=Account,
        errors=(409,),
        operation_id="update_account",
    ),
    Route(
        "POST",
        f"{V1}/accounts/{{account_id}}/invitation",
        reinvite_account,
        "Mail a new invitation link to an account not yet activated",
        "operator",
        "accounts",
        response=Reinvited,
        status=201,
        errors=(409,),
        operation_id="reinvite_account",
        limit="invitations",
    ),
    Route(
        "DELETE",
        f"{V1}/accounts/{{account_id}}",
        delete_account,
        "Erase an account and withdraw its records",
        "operator",
        "accounts",
        status=204,
        operation_id="delete_account",
    ),
)
