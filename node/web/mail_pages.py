"""Pages of the e-mail features: forgot password and reset by link, change password, the member's notification
settings, the one-click unsubscribe link, and the operator's mail queue.

The unsubscribe page answers a POST without the CSRF token (the signed link is the authority; the only effect
is fewer mails): mail clients post ``List-Unsubscribe=One-Click`` to it (RFC 8058) with no cookie at all.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.errors import InvalidInput, NodeError
from node.http.session import SESSION_COOKIE, set_session_cookie
from node.services.notifications import MODES, TITLES, kinds_for
from node.web.errors import N_
from node.web.render import form_error, form_of, lang_of, node_of, redirect, render, signed_in

#: the words of the notification modes (the settings page)
MODE_LABELS: Final = {"off": N_("Never"), "immediate": N_("At once"), "daily": N_("In a daily summary")}
#: the kinds' titles are the mails' own words (TITLES, extracted from node/services/notifications.py)
KIND_LABELS: Final = TITLES


# ------------------------------------------------------------------------------------- forgotten password


async def forgot_page(request: web.Request) -> web.Response:
    return render(request, "password_forgot.html", {"sent": False, "email": ""})


async def forgot_submit(request: web.Request) -> web.Response:
    form = await form_of(request)
    email = form.get("email", "")[:254]
    try:
        await node_of(request).passwords.request_reset(email, lang_of(request).code, request.remote or "?")
    except NodeError as exc:
        if exc.status != 429:
            raise
        explained, status = form_error(request, exc)
        return render(request, "password_forgot.html", {"sent": False, "email": email, "summary": explained.summary},
                      status=status)  # fmt: skip
    # the same page whether or not the address has an account
    return render(request, "password_forgot.html", {"sent": True, "email": email})


async def reset_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        await node_of(request).passwords.check_reset(token)
    except NodeError:
        return render(request, "password_reset.html", {"token": token, "dead": True, "errors": {}}, status=404)
    return render(request, "password_reset.html", {"token": token, "dead": False, "errors": {}})


async def reset_submit(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    form = await form_of(request)
    lang = lang_of(request)
    if form.get("password") != form.get("password2"):
        errors = {"password2": lang.gettext(N_("The two passwords are not the same."))}
        return render(request, "password_reset.html", {"token": token, "dead": False, "errors": errors}, status=422)
    try:
        result = await node_of(request).passwords.reset(token, form.get("password"), request.remote or "?")
    except NodeError as exc:
        if exc.status == 404:
            return render(request, "password_reset.html", {"token": token, "dead": True, "errors": {}}, status=404)
        explained, status = form_error(request, exc)
        context = {"token": token, "dead": False, "summary": explained.summary, "errors": explained.fields}
        return render(request, "password_reset.html", context, status=status)
    response = web.HTTPSeeOther("/me?password=1")
    set_session_cookie(node_of(request), response, result.token, result.expires_at)
    raise response


# ---------------------------------------------------------------------------------------- change password


async def change_page(request: web.Request) -> web.Response:
    signed_in(request)
    return render(request, "password_change.html", {"errors": {}, "done": request.query.get("done") == "1"})


async def change_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    lang = lang_of(request)
    errors: dict[str, str] = {}
    summary = None
    if form.get("new_password") != form.get("new_password2"):
        errors["new_password2"] = lang.gettext(N_("The two passwords are not the same."))
    else:
        try:
            await node_of(request).passwords.change(
                v, form.get("current_password"), form.get("new_password"), request.cookies.get(SESSION_COOKIE)
            )
        except InvalidInput as exc:
            explained, _ = form_error(request, exc, {"password": "new_password"})
            errors, summary = dict(explained.fields), explained.summary
            if "current_password" in errors:
                errors["current_password"] = lang.gettext(N_("This is not your current password."))
        except NodeError as exc:
            if exc.status != 429:
                raise
            summary = form_error(request, exc)[0].summary
        else:
            raise redirect("/me/password?done=1")
    return render(request, "password_change.html", {"errors": errors, "summary": summary, "done": False}, status=422)


# ----------------------------------------------------------------------------------- notification settings


async def settings_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    settings = await node_of(request).notifications.settings(v)
    return render(request, "mail_settings.html", _settings_context(settings, request.query.get("saved") == "1"))


def _settings_context(settings: dict[str, object], saved: bool) -> dict[str, object]:
    return {"settings": settings, "modes": MODES, "mode_labels": MODE_LABELS, "kind_labels": KIND_LABELS,
            "saved": saved}  # fmt: skip


async def settings_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    modes = {k: form[f"mode.{k}"] for k in kinds_for(v.role or "member") if f"mode.{k}" in form}
    await node_of(request).notifications.update_settings(v, language=form.get("language") or None, modes=modes)
    raise redirect("/me/mail?saved=1")


# ------------------------------------------------------------------------------------------- unsubscribe


async def unsubscribe_page(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        _, kind = node_of(request).notifications.read_token(token)
    except NodeError:
        return render(request, "unsubscribe.html", {"dead": True}, status=404)
    return render(request, "unsubscribe.html", {"dead": False, "token": token, "kind": kind, "done": False,
                                                "kind_labels": KIND_LABELS})  # fmt: skip


async def unsubscribe_submit(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    try:
        kind = await node_of(request).notifications.unsubscribe(token)
    except NodeError:
        return render(request, "unsubscribe.html", {"dead": True}, status=404)
    return render(request, "unsubscribe.html", {"dead": False, "token": token, "kind": kind, "done": True,
                                                "kind_labels": KIND_LABELS})  # fmt: skip


# ------------------------------------------------------------------------------------- the operator's queue


async def mail_queue_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    if not v.is_operator:
        raise web.HTTPForbidden()
    node = node_of(request)
    mails = await node.mail.list_mails(v)
    return render(
        request,
        "mail_queue.html",
        {"mails": mails, "counts": await node.mail.counts(), "smtp": node.config.smtp_host,
         "retried": request.query.get("retried")},
    )  # fmt: skip


async def mail_retry(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    raw = request.match_info["mail_id"]
    if not raw.isdigit():
        raise web.HTTPNotFound()
    await node_of(request).mail.retry(v, int(raw))
    raise redirect(f"/operator/mail?retried={raw}")


def mail_routes() -> list[web.RouteDef]:
    return [
        web.get("/password/forgot", forgot_page),
        web.post("/password/forgot", forgot_submit),
        web.get("/password/reset/{token}", reset_page),
        web.post("/password/reset/{token}", reset_submit),
        web.get("/me/password", change_page),
        web.post("/me/password", change_submit),
        web.get("/me/mail", settings_page),
        web.post("/me/mail", settings_submit),
        web.get("/unsubscribe/{token}", unsubscribe_page),
        web.post("/unsubscribe/{token}", unsubscribe_submit),
        web.get("/operator/mail", mail_queue_page),
        web.post("/operator/mail/{mail_id}/retry", mail_retry),
    ]
