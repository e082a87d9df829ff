"""The signed-in member's own account and profile: read, change, export, erase."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from node.http.profile_models import MyProfile, ProfileChange, ProfileReplacement
from node.http.routing import V1, Route, json_response, member, node_of
from node.http.session import clear_session_cookie
from node.http.types import AccountId, Input, Ms, RecordId, Role
from node.services.passwords import MAX_PASSWORD


class Me(BaseModel):
    id: AccountId
    member_id: RecordId | None
    email: str
    role: Role
    display_name: str | None
    created_at: Ms


class Export(BaseModel):
    """Everything the node holds about me (GDPR Art. 15 and 20): account, profile, what I published, my
    messages (received and sent), my moves and my path in the coop."""

    model_config = ConfigDict(extra="allow")
    format: str
    exported_at: Ms
    node: str
    account: dict[str, Any]
    profile: dict[str, Any]
    messages_received: list[dict[str, Any]]
    messages_sent: list[dict[str, Any]]
    moves: list[dict[str, Any]]
    path: list[dict[str, Any]]
    published_entries: list[dict[str, Any]]


class Erasure(Input):
    password: str = Field(max_length=MAX_PASSWORD, description="my password, to confirm")


class Erased(BaseModel):
    erased: bool
    withdrawn_records: int = Field(description="how many records were withdrawn from the network")
    receipts: str = Field(
        description="the page where the member sees which nodes confirmed the erasure (keep it: it is secret)"
    )
    receipts_export: str = Field(description="the same, as JSON with every signed receipt")


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


async def put_my_profile(request: web.Request, body: ProfileReplacement) -> web.Response:
    v = member(request)
    return json_response(await node_of(request).directory.update_my_profile(v, body.payload(), replace=True))


async def patch_my_profile(request: web.Request, body: ProfileChange) -> web.Response:
    v = member(request)
    return json_response(await node_of(request).directory.update_my_profile(v, body.payload(), replace=False))


async def export_me(request: web.Request) -> web.Response:
    response = json_response(await node_of(request).directory.export(member(request)))
    response.headers["Content-Disposition"] = 'attachment; filename="bigre-export.json"'
    return response


async def erase_me(request: web.Request, body: Erasure) -> web.Response:
    done = await node_of(request).directory.erase(member(request), body.password)
    response = json_response(
        {
            "erased": True,
            "withdrawn_records": done.withdrawn,
            "receipts": f"/erasures/{done.token}",
            "receipts_export": f"{V1}/erasures/{done.token}",
        }
    )
    clear_session_cookie(response)
    return response


class ErasureNode(BaseModel):
    node: str
    status: str = Field(description="confirmed (its signed receipt covers every record) or pending")
    confirmed_at: Ms | None
    records_confirmed: int
    receipts: list[dict[str, Any]] = Field(description="each receipt as signed (hex): erasure_receipt records")


class ErasureReceipts(BaseModel):
    """An erasure and the signed receipts of the nodes that held the member's records (docs/members.md)."""

    format: str
    node: str
    erased_at: Ms
    records: int
    record_ids: list[str]
    confirmed: int
    pending: int
    nodes: list[ErasureNode]


async def erasure_receipts(request: web.Request, erasure_token: str) -> web.Response:
    response = json_response(await node_of(request).erasures.export(erasure_token))
    response.headers["Content-Disposition"] = 'attachment; filename="bigre-erasure.json"'
    return response


ROUTES: Final = (
    Route("GET", f"{V1}/me", me, "The logged-in account", "member", "me", response=Me, operation_id="get_me"),
    Route(
        "GET",
        f"{V1}/me/profile",
        my_profile,
        "My whole profile with the visibility of each field",
        "member",
        "me",
        response=MyProfile,
        errors=(404,),
        operation_id="get_my_profile",
    ),
    Route(
        "PUT",
        f"{V1}/me/profile",
        put_my_profile,
        "Replace my profile fields (all of them: a field not given is cleared); merge visibility",
        "member",
        "me",
        body=ProfileReplacement,
        response=MyProfile,
        errors=(404,),
        operation_id="replace_my_profile",
    ),
    Route(
        "PATCH",
        f"{V1}/me/profile",
        patch_my_profile,
        "Change some profile fields or visibilities",
        "member",
        "me",
        body=ProfileChange,
        response=MyProfile,
        errors=(404,),
        operation_id="update_my_profile",
    ),
    Route(
        "GET",
        f"{V1}/me/export",
        export_me,
        "Everything the node holds about me, as JSON",
        "member",
        "me",
        response=Export,
        errors=(404,),
        operation_id="export_me",
        headers=(("Content-Disposition", 'attachment; filename="bigre-export.json"'),),
    ),
    Route(
        "POST",
        f"{V1}/me/erase",
        erase_me,
        "Erase my account everywhere (password required)",
        "member",
        "me",
        body=Erasure,
        response=Erased,
        errors=(404, 429),  # 429: repeated wrong passwords lock the confirmation out
        operation_id="erase_me",
    ),
    Route(
        "GET",
        f"{V1}/erasures/{{erasure_token}}",
        erasure_receipts,
        "An erasure's receipts: which nodes confirmed, signed (the secret address the erasure gave)",
        "anyone",
        "me",
        response=ErasureReceipts,
        errors=(404,),
        operation_id="erasure_receipts",
        headers=(("Content-Disposition", 'attachment; filename="bigre-erasure.json"'),),
    ),
)
