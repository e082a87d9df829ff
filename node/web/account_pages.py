"""Signing in and out, accepting an invitation, and the member's own profile: the form, its previews as others
see it, moving to another coop, export and erasure.

The profile form shows each field as a person thinks of it (trades by name, a town, a date, a choice), not as
the record stores it; :func:`read_profile_form` turns it back into the directory's input and checks what only a
form can get wrong (dates in the past, "until" before "from"). A refusal, here or from the service, shows the
same form again with what was typed and a message next to each field.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from multidict import MultiDictProxy

from node.errors import InvalidInput, NodeError
from node.http.session import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from node.reference.vocabulary import TradeVocabulary
from node.services.member_path import PATH_STATUSES
from node.services.profiles import PROFILE_FIELDS
from node.viewer import LEVELS
from node.web.errors import N_, Explained, explain
from node.web.forms import form_trades
from node.web.i18n import Lang
from node.web.onboarding_pages import path_context
from node.web.render import (
    coops_of,
    form_error,
    form_of,
    lang_of,
    node_of,
    redirect,
    render,
    same_site_path,
    signed_in,
)
from protocol import RECORD_TYPES

PROFILE_SCHEMA: Final = {f.name: f for f in RECORD_TYPES["profile"].fields}
LIMITS: Final = {"display_name": PROFILE_SCHEMA["display_name"].max_len, "bio": PROFILE_SCHEMA["bio"].max_len}
AVAILABILITY: Final = ("available", "partly", "busy", "unavailable")
STAGES: Final = PROFILE_SCHEMA["stage"].choices
CONTACT: Final = PROFILE_SCHEMA["contact_preference"].choices
COMMON_LANGUAGES: Final = ("fr", "en", "es", "de", "it", "pt", "nl", "ar", "wo", "fsl")
PREVIEWS: Final = ("public", "network", "coop")


async def login_page(request: web.Request) -> web.Response:
    return render(request, "login.html", {"next": same_site_path(request.query.get("next")), "failed": None})


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await form_of(request)
    target = same_site_path(form.get("next"))
    try:
        result = await node_of(request).accounts.login(form.get("email"), form.get("password"), request.remote or "?")
    except NodeError as exc:
        message = explain(exc, lang_of(request)).summary if exc.status == 429 else None
        context = {"next": target, "failed": message or lang_of(request).gettext(N_("Wrong email or password.")),
                   "email": form.get("email", "")[:200]}  # fmt: skip
        return render(request, "login.html", context, status=exc.status if exc.status == 429 else 401)
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
    try:
        result = await node_of(request).accounts.accept_invitation(
            request.match_info["token"], form.get("password"), request.remote or "?"
        )
    except NodeError as exc:
        if exc.status == 401:
            raise
        explained, status = form_error(request, exc)
        context = {"token": request.match_info["token"], "summary": explained.summary, "errors": explained.fields}
        return render(request, "invitation.html", context, status=status)
    # after the POST, a GET: reloading the next page never posts the password again
    response = web.HTTPSeeOther("/me?welcome=1")
    set_session_cookie(node_of(request), response, result.token, result.expires_at)
    raise response


# ------------------------------------------------------------------------------------------------ profile


def profile_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A stored profile as the form's fields show it."""
    availability = fields.get("availability") or {}
    place = fields.get("place")
    return {
        "display_name": fields.get("display_name", ""),
        "bio": fields.get("bio", ""),
        "trades_words": "",
        "skills": ", ".join(fields.get("skills") or []),
        "languages": list(fields.get("languages") or []),
        "place": _place_label(place),
        "availability_status": availability.get("status", ""),
        "availability_from": availability.get("from", ""),
        "availability_until": availability.get("until", ""),
        "availability_days": availability.get("days_per_week", ""),
        "stage": fields.get("stage", ""),
        "coop_status": fields.get("coop_status", ""),
        "links": "\n".join(fields.get("links") or []),
        "contact_preference": fields.get("contact_preference", ""),
        "day_rate_eur": fields.get("day_rate_eur", ""),
        "phone": fields.get("phone", ""),
    }


def _place_label(place: object) -> str:
    if isinstance(place, dict):
        town, postcode = place.get("town", ""), place.get("postcode", "")
        return f"{town} {postcode}".strip() if postcode else str(town)
    return str(place or "")


def read_profile_form(
    form: MultiDictProxy[Any], vocabulary: TradeVocabulary, today: dt.date, lang: Lang
) -> tuple[dict[str, Any], dict[str, str], dict[str, str], list[dict[str, str]]]:
    """The directory's input (fields, visibility) from the form, the errors only a form can make, and the
    trades it holds (for showing the form again)."""
    text = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    trades, unknown = form_trades(form, "trades", vocabulary)
    if unknown:
        errors["trades"] = lang.gettext(N_("“%(value)s” is not a trade we know: pick one from the list.")) % {
            "value": ", ".join(unknown)
        }
    fields: dict[str, Any] = {
        "display_name": text.get("display_name", ""),
        "bio": text.get("bio") or None,
        "trades": [t["rome"] for t in trades] or None,
        "skills": [s.strip() for s in text.get("skills", "").split(",") if s.strip()] or None,
        "languages": [c for c in form.getall("languages", []) if isinstance(c, str)] or None,
        "place": text.get("place") or None,
        "stage": text.get("stage") or None,
        "coop_status": text.get("coop_status") or None,
        "links": [line.strip() for line in text.get("links", "").splitlines() if line.strip()] or None,
        "contact_preference": text.get("contact_preference") or None,
        "phone": text.get("phone") or None,
    }
    availability: dict[str, Any] = {}
    if text.get("availability_status"):
        availability["status"] = text["availability_status"]
    days: dict[str, dt.date] = {}
    for part in ("from", "until"):
        raw = text.get(f"availability_{part}", "")
        if not raw:
            continue
        try:
            days[part] = dt.date.fromisoformat(raw)
        except ValueError:
            errors[f"availability_{part}"] = lang.gettext(N_("Give a valid date."))
            continue
        if days[part] < today:
            errors[f"availability_{part}"] = lang.gettext(N_("This date is past: leave it empty if it is already so."))
        availability[part] = raw
    if "from" in days and "until" in days and days["until"] < days["from"]:
        errors["availability_until"] = lang.gettext(N_("“Until” must come after “from”."))
    if text.get("availability_days"):
        if text["availability_days"].isdigit() and 0 <= int(text["availability_days"]) <= 7:
            availability["days_per_week"] = int(text["availability_days"])
        else:
            errors["availability_days"] = lang.gettext(N_("Give a number of days from 0 to 7."))
    fields["availability"] = availability or None
    if text.get("day_rate_eur"):
        if text["day_rate_eur"].isdigit():
            fields["day_rate_eur"] = int(text["day_rate_eur"])
        else:
            errors["day_rate_eur"] = lang.gettext(N_("Give a whole number of euros."))
    else:
        fields["day_rate_eur"] = None
    if not fields["display_name"]:
        errors["display_name"] = lang.gettext(N_("This field is required."))
    visibility = {name: text[f"vis.{name}"] for name in PROFILE_FIELDS if text.get(f"vis.{name}") in LEVELS}
    return {"fields": fields, "visibility": visibility}, errors, text, trades


#: a service's field name -> the form's (where they differ)
FORM_FIELDS: Final = {"availability": "availability_from"}


async def me_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    profile = await node_of(request).directory.my_profile(v)
    values = profile_values(profile["fields"])
    return await _me(request, values, profile["fields"].get("trades") or [], profile["visibility"])


async def _me(
    request: web.Request,
    values: Mapping[str, Any],
    trades: list[dict[str, Any]],
    visibility: Mapping[str, str],
    explained: Explained | None = None,
    status: int = 200,
) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    lang = lang_of(request)
    own = set(values.get("languages") or [])
    choices = list(dict.fromkeys([*COMMON_LANGUAGES, *sorted(own)]))
    labels = {name: lang.label("profile_field", name) for name in PROFILE_FIELDS}
    labels.update(
        {
            "availability_from": lang.label("profile_field", "availability"),
            "availability_until": lang.label("profile_field", "availability"),
            "availability_days": lang.label("profile_field", "availability"),
            "to_node": lang.gettext(N_("Cooperative")),
        }
    )
    peers = [c for c in await coops_of(request) if c["direct"] and c["status"] == "member"]
    return render(
        request,
        "me.html",
        {
            "values": values,
            "trades": trades,
            "vis": visibility,
            "levels": LEVELS,
            "widest": {name: f.widest for name, f in PROFILE_FIELDS.items()},
            "limits": LIMITS,
            "language_choices": choices,
            "availability_statuses": AVAILABILITY,
            "stages": STAGES,
            "coop_statuses": PATH_STATUSES,
            "contact_preferences": CONTACT,
            "today": _today(request, lang),
            "saved": request.query.get("saved") == "1",
            "moved": request.query.get("moved") == "1",
            "password_saved": request.query.get("password") == "1",
            "moves": await node.moving.my_moves(v),
            "peers": peers,
            "field_labels": labels,
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
            **await path_context(request, v.member_id),
        },
        status=status,
    )


def _today(request: web.Request, lang: Lang) -> str:
    return lang.moment(node_of(request).clock()).date().isoformat()


async def me_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    node = node_of(request)
    lang = lang_of(request)
    form = await request.post()
    today = lang.moment(node.clock()).date()
    payload, errors, typed, trades = read_profile_form(form, node.reference.trades, today, lang)
    values = {
        **typed,
        "languages": [c for c in form.getall("languages", []) if isinstance(c, str)],
        "trades_words": ", ".join(
            w.strip() for w in typed.get("trades_words", "").split(",") if w.strip() and errors.get("trades")
        ),
    }
    visibility = {**(await node.directory.my_profile(v))["visibility"], **payload["visibility"]}
    if errors:
        explained = Explained(
            lang.gettext(N_("Some of what you typed is not accepted: see the messages next to the fields.")), errors
        )
        return await _me(request, values, trades, visibility, explained, 422)
    try:
        await node.directory.update_my_profile(v, payload, replace=False)
    except InvalidInput as exc:
        explained, status = form_error(request, exc, FORM_FIELDS)
        return await _me(request, values, trades, visibility, explained, status)
    raise redirect("/me?saved=1")


async def preview_page(request: web.Request) -> web.Response:
    """My profile as a visitor, a member of another coop or a member of my coop sees it."""
    v = signed_in(request)
    audience = request.query.get("as", "network")
    if audience not in PREVIEWS:
        raise web.HTTPNotFound()
    node = node_of(request)
    fields = await node.directory.preview(v, audience)
    return render(
        request,
        "member.html",
        {
            "origin": node.config.name,
            "member_id": v.member_id or "",
            "fields": fields,
            "preview": audience,
            "previews": PREVIEWS,
            "sent": False,
            "can_write": False,
            "reply_subject": "",
            "member_path": [],
            "can_record_path": False,
            "path_member": None,
            "path_statuses": PATH_STATUSES,
        },
    )


async def move_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    node = node_of(request)
    try:
        await node.moving.request(v, form.get("to_node", ""))
    except (InvalidInput, NodeError) as exc:
        if exc.status in (401, 500):
            raise
        explained, status = form_error(request, exc)
        profile = await node.directory.my_profile(v)
        fields = explained.fields or {"to_node": explained.summary}
        return await _me(
            request,
            profile_values(profile["fields"]),
            profile["fields"].get("trades") or [],
            profile["visibility"],
            Explained(explained.summary, {"to_node": fields.get("to_node", explained.summary)}),
            status,
        )
    raise redirect("/me?moved=1#move")


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
    done = await node_of(request).directory.erase(v, form.get("password"))
    response = web.HTTPSeeOther(f"/erasures/{done.token}")  # the member's only way back to the receipts
    clear_session_cookie(response)
    raise response


async def erasure_page(request: web.Request) -> web.Response:
    """An erasure's receipts: which coops' nodes confirmed, signed, that they erased the member's records.
    Reached only by its secret address (the account is gone); an unknown address is the 404 page."""
    token = request.match_info["token"]
    await coops_of(request)  # the coops' names, not their codes
    erasure = await node_of(request).erasures.status(token)
    return render(request, "erasure.html", {"erasure": erasure, "export": f"/api/v1/erasures/{token}"})


def account_routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_page),
        web.post("/login", login_submit),
        web.post("/logout", logout_submit),
        web.get("/invitation/{token}", invitation_page),
        web.post("/invitation/{token}", invitation_submit),
        web.get("/me", me_page),
        web.post("/me", me_submit),
        web.get("/me/preview", preview_page),
        web.post("/me/move", move_submit),
        web.get("/me/export", export_me),
        web.post("/me/erase", erase_me),
        web.get("/erasures/{token}", erasure_page),
    ]
