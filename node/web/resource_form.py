"""The staff's form to publish or change one of this coop's spaces and machines (the same checks as the API's,
in :meth:`node.services.bookings.Bookings.publish`): the form reads its fields into a resource, and on a refusal
shows the same form again with what was typed and each field's reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from node.errors import Forbidden, InvalidInput
from node.web.i18n import Lang
from node.web.render import form_error, form_of, lang_of, node_of, redirect, render, signed_in

AUDIENCES: Final = ("coop", "network", "public")
ACCESS: Final = ("free", "paid", "not_offered")
UNITS: Final = ("hour", "half_day", "day", "booking")
SLOTS: Final = (15, 30, 60)
DAYS: Final = tuple(range(1, 8))


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def resource_values(r: Mapping[str, Any]) -> dict[str, str]:
    """A resource as the form shows it."""
    place = r.get("place") or {}
    values = {
        "kind": str(r.get("kind", "space")),
        "title": str(r.get("title", "")),
        "description": str(r.get("description", "")),
        "venue": str(r.get("venue", "")),
        "run_by": str(r.get("run_by", "")),
        "town": str(place.get("town", "")),
        "capacity": str(r.get("capacity", "")),
        "slot_minutes": str(r.get("slot_minutes", 30)),
        "max_hours": str(r["max_minutes"] // 60) if r.get("max_minutes") else "",
        "photos": "\n".join(r.get("photos") or []),
        "qualification": str(r.get("qualification", "")),
        "qualification_label": str(r.get("qualification_label", "")),
        "approval": "on" if r.get("approval") else "",
        "status": str(r.get("status", "open")),
    }
    for h in r.get("hours") or []:
        values[f"opens_{h['day']}"], values[f"closes_{h['day']}"] = _hhmm(h["opens"]), _hhmm(h["closes"])
    for p in r.get("prices") or []:
        values[f"access_{p['audience']}"] = p["access"]
        if p.get("amount_cents") is not None:
            values[f"amount_{p['audience']}"] = f"{p['amount_cents'] / 100:g}"
        values[f"unit_{p['audience']}"] = p.get("unit", "hour")
    return values


def read_resource_form(form: Mapping[str, str], lang: Lang) -> tuple[dict[str, Any], dict[str, str]]:
    """The resource a form describes, and the reasons of the fields only a form can get wrong."""
    errors: dict[str, str] = {}
    body: dict[str, Any] = {
        "kind": form.get("kind", "space"),
        "title": form.get("title", "").strip(),
        "status": form.get("status", "open"),
        "approval": form.get("approval") == "on",
    }
    for name in ("description", "venue", "run_by", "qualification", "qualification_label"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    if form.get("town", "").strip():
        body["place"] = form["town"].strip()
    for name, key, scale in (("capacity", "capacity", 1), ("max_hours", "max_minutes", 60)):
        text = form.get(name, "").strip()
        if text:
            if not text.isdigit() or int(text) < 1:
                errors[name] = lang.gettext("Give a whole number.")
            else:
                body[key] = int(text) * scale
    slot = form.get("slot_minutes", "30")
    body["slot_minutes"] = int(slot) if slot in {str(s) for s in SLOTS} else 30
    hours = []
    for day in DAYS:
        opens, closes = form.get(f"opens_{day}", "").strip(), form.get(f"closes_{day}", "").strip()
        if not opens and not closes:
            continue
        try:
            o, c = dt.time.fromisoformat(opens), dt.time.fromisoformat(closes)
        except ValueError:
            errors[f"opens_{day}"] = lang.gettext("Give both times, such as 09:00 and 18:00.")
            continue
        o_min, c_min = o.hour * 60 + o.minute, (c.hour * 60 + c.minute) or 24 * 60
        if c_min <= o_min:
            errors[f"opens_{day}"] = lang.gettext("The end must be after the start.")
            continue
        hours.append({"day": day, "opens": o_min, "closes": c_min})
    if hours:
        body["hours"] = hours
    prices = []
    for audience in AUDIENCES:
        access = form.get(f"access_{audience}", "")
        if access not in ACCESS:
            continue
        price: dict[str, Any] = {"audience": audience, "access": access}
        if access == "paid":
            amount = form.get(f"amount_{audience}", "").strip().replace(",", ".")
            try:
                cents = round(float(amount) * 100)
                if cents < 0:
                    raise ValueError(amount)
                price["amount_cents"] = cents
            except ValueError:
                errors[f"amount_{audience}"] = lang.gettext("Give an amount in euros, such as 12.50.")
            unit = form.get(f"unit_{audience}", "hour")
            price["unit"] = unit if unit in UNITS else "hour"
        prices.append(price)
    if prices:
        body["prices"] = prices
    photos = [line.strip() for line in form.get("photos", "").splitlines() if line.strip()]
    if photos:
        body["photos"] = photos
    return body, errors


def _form_page(
    request: web.Request,
    values: Mapping[str, str],
    resource_id: str | None,
    summary: str | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    lang = lang_of(request)
    return render(
        request,
        "resource_form.html",
        {
            "values": values,
            "resource_id": resource_id,
            "summary": summary,
            "errors": dict(errors or {}),
            "audiences": AUDIENCES,
            "access_choices": ACCESS,
            "units": UNITS,
            "slots": SLOTS,
            "days": DAYS,
            "field_labels": {"title": lang.gettext("Title"), "town": lang.gettext("Town")},
        },
        status=status,
    )


def _staff_only(request: web.Request) -> None:
    v = signed_in(request)
    if not v.is_staff:
        raise Forbidden("only the coop's staff may publish a resource")


async def new_resource_page(request: web.Request) -> web.Response:
    _staff_only(request)
    values = {"kind": "space", "slot_minutes": "30", "status": "open", "access_coop": "free"}
    return _form_page(request, values, None)


async def edit_resource_page(request: web.Request) -> web.Response:
    _staff_only(request)
    node = node_of(request)
    resource = await node.bookings.resource(node.config.name, request.match_info["id"])
    return _form_page(request, resource_values(resource), resource["id"])


async def save_resource(request: web.Request) -> web.StreamResponse:
    _staff_only(request)
    node, lang = node_of(request), lang_of(request)
    resource_id = request.match_info.get("id")
    form = await form_of(request)
    body, errors = read_resource_form(form, lang)
    if errors:
        return _form_page(request, form, resource_id, lang.gettext("The resource was not published."), errors, 422)
    try:
        saved = await node.bookings.publish(signed_in(request), body, resource_id)
    except InvalidInput as exc:
        explained, status = form_error(request, exc, {"place": "town"})
        return _form_page(request, form, resource_id, explained.summary, explained.fields, status)
    raise redirect(f"/resources/{node.config.name}/{saved['id']}?done=published")


ID: Final = "{id:[A-Za-z0-9][A-Za-z0-9._:-]{0,63}}"


def resource_form_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/resources/new", new_resource_page),
        web.post("/resources/new", save_resource),
        web.get(f"/resources/edit/{ID}", edit_resource_page),
        web.post(f"/resources/edit/{ID}", save_resource),
    ]
