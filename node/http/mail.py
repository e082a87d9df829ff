"""Passwords (reset by e-mail, change), notification settings, and the operator's view of the mail queue."""

from __future__ import annotations

from typing import Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.auth import SignedIn, signed_in_response
from node.http.routing import V1, Route, json_response, member, node_of
from node.http.state import TOKEN_KEY
from node.http.types import Input, MailId, Ms
from node.services.passwords import MAX_PASSWORD, MIN_PASSWORD

Language = Literal["fr", "en"]
Mode = Literal["off", "immediate", "daily"]


class ResetRequest(Input):
    email: str = Field(max_length=320)
    language: Language | None = Field(None, description="the language of the mail (default: the account's)")


class ResetAccepted(BaseModel):
    detail: str


class ResetConfirm(Input):
    token: str = Field(min_length=1, max_length=200, description="the token of the reset link")
    password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD, description="the new password")


class PasswordChange(Input):
    current_password: str = Field(min_length=1, max_length=MAX_PASSWORD)
    new_password: str = Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)


class MailSettingsOut(BaseModel):
    language: Language
    modes: dict[str, Mode] = Field(description="per kind of notification: off, immediate or daily (a digest)")


class MailSettingsIn(Input):
    language: Language | None = None
    modes: dict[str, Mode] | None = None


class Mail(BaseModel):
    id: MailId
    to: str
    kind: str
    subject: str
    status: Literal["queued", "sending", "sent", "failed"]
    attempts: int
    next_attempt_at: Ms | None
    last_error: str | None
    created_at: Ms
    sent_at: Ms | None


class MailList(BaseModel):
    items: list[Mail]
    counts: dict[str, int]
    smtp_configured: bool


class MailQuery(Input):
    status: Literal["queued", "sending", "sent", "failed"] | None = None


RESET_ANSWER: Final = "if this address belongs to an account, a link to choose a new password was sent to it"


async def request_reset(request: web.Request, body: ResetRequest) -> web.Response:
    await node_of(request).passwords.request_reset(body.email, body.language, request.remote or "unknown")
    return json_response({"detail": RESET_ANSWER}, 202)


async def confirm_reset(request: web.Request, body: ResetConfirm) -> web.Response:
    result = await node_of(request).passwords.reset(body.token, body.password, request.remote or "unknown")
    return signed_in_response(request, result)


async def change_password(request: web.Request, body: PasswordChange) -> web.Response:
    v = member(request)
    await node_of(request).passwords.change(v, body.current_password, body.new_password, request.get(TOKEN_KEY))
    return web.Response(status=204)


async def get_settings(request: web.Request) -> web.Response:
    return json_response(await node_of(request).notifications.settings(member(request)))


async def put_settings(request: web.Request, body: MailSettingsIn) -> web.Response:
    settings = await node_of(request).notifications.update_settings(
        member(request), language=body.language, modes=body.modes
    )
    return json_response(settings)


async def list_mail(request: web.Request, query: MailQuery) -> web.Response:
    node = node_of(request)
    items = await node.mail.list_mails(member(request), status=query.status)
    return json_response(
        {"items": items, "counts": await node.mail.counts(), "smtp_configured": bool(node.config.smtp_host)}
    )


async def retry_mail(request: web.Request, mail_id: int) -> web.Response:
    await node_of(request).mail.retry(member(request), mail_id)
    return web.Response(status=204)


ROUTES: Final = (
    Route(
        "POST",
        f"{V1}/auth/password-reset",
        request_reset,
        "Ask for a password reset link by e-mail (the same answer whether or not the address has an account)",
        "anyone",
        "auth",
        body=ResetRequest,
        response=ResetAccepted,
        status=202,
        errors=(429,),
        operation_id="request_password_reset",
    ),
    Route(
        "POST",
        f"{V1}/auth/password-reset/confirm",
        confirm_reset,
        "Choose a new password with a reset link's token; every session ends, a new one starts",
        "anyone",
        "auth",
        body=ResetConfirm,
        response=SignedIn,
        errors=(403, 404, 429),
        operation_id="confirm_password_reset",
    ),
    Route(
        "POST",
        f"{V1}/me/password",
        change_password,
        "Change my password (the current one required); my other sessions and tokens end",
        "member",
        "me",
        body=PasswordChange,
        status=204,
        errors=(403, 429),
        operation_id="change_password",
    ),
    Route(
        "GET",
        f"{V1}/me/mail-settings",
        get_settings,
        "My e-mail notification settings",
        "member",
        "me",
        response=MailSettingsOut,
        operation_id="get_notification_settings",
    ),
    Route(
        "PUT",
        f"{V1}/me/mail-settings",
        put_settings,
        "Change my e-mail notification settings (the kinds given; the others stay)",
        "member",
        "me",
        body=MailSettingsIn,
        response=MailSettingsOut,
        operation_id="set_notification_settings",
    ),
    Route(
        "GET",
        f"{V1}/mail",
        list_mail,
        "The outgoing mail queue: waiting and failed mails (operators)",
        "operator",
        "mail",
        query=MailQuery,
        response=MailList,
        operation_id="list_mail",
    ),
    Route(
        "POST",
        f"{V1}/mail/{{mail_id}}/retry",
        retry_mail,
        "Send a failed mail again",
        "operator",
        "mail",
        status=204,
        errors=(404, 409),
        operation_id="retry_mail",
    ),
)
