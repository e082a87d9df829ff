"""Shared spaces and machines: every coop's resources, a resource's week and month calendar with the booking
form, "my bookings" with the private calendar feed, the staff's approvals and qualifications, and the iCalendar
files (a resource, the events, one event, a member's private feed).

Times are typed and shown in the node's time zone; a refused booking comes back on the same form, with what was
typed and the place's reason in the page's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from node.errors import InvalidInput, NodeError
from node.services.bookings import BookingRefused
from node.services.feeds import MEDIA_TYPE
from node.web.i18n import Lang
from node.web.render import form_error, form_of, lang_of, node_of, redirect, render, signed_in, viewer_of
from node.web.resource_form import resource_form_routes

DAY_MS: Final = 86_400_000
VIEWS: Final = ("week", "month")


def _local(lang: Lang, ms: int) -> dt.datetime:
    return lang.moment(ms)


def _ms(lang: Lang, day: dt.date, minutes: int = 0) -> int:
    """A wall time of ``day`` (minutes after midnight) in the node's zone, in ms."""
    # aware arithmetic on a ZoneInfo datetime is wall-clock arithmetic: the offset is that of the wall time
    moment = dt.datetime(day.year, day.month, day.day, tzinfo=lang.tz) + dt.timedelta(minutes=minutes)
    return int(moment.timestamp() * 1000)


def _day_param(lang: Lang, value: str | None, now: int) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else _local(lang, now).date()
    except ValueError:
        return _local(lang, now).date()


# --------------------------------------------------------------------------------------------- the list


async def resources_page(request: web.Request) -> web.Response:
    node = node_of(request)
    kind = request.query.get("kind", "")
    items = await node.bookings.resources(kind if kind in ("space", "machine") else None)
    return render(request, "resources.html", {"items": items, "kind": kind})


# ------------------------------------------------------------------------------------------ a resource


async def resource_page(request: web.Request) -> web.Response:
    return await _resource(request, {}, None)


async def _resource(
    request: web.Request, values: Mapping[str, str], error: tuple[str, dict[str, str]] | None, status: int = 200
) -> web.Response:
    node, lang, v = node_of(request), lang_of(request), viewer_of(request)
    origin, record_id = request.match_info["origin"], request.match_info["id"]
    resource = await node.bookings.resource(origin, record_id)
    view = request.query.get("view", "week")
    view = view if view in VIEWS else "week"
    day = _day_param(lang, request.query.get("day") or values.get("date"), node.clock())
    if view == "week":
        first = day - dt.timedelta(days=day.isoweekday() - 1)
        days = [first + dt.timedelta(days=i) for i in range(7)]
        previous, following = first - dt.timedelta(days=7), first + dt.timedelta(days=7)
    else:
        first = day.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        start_pad = first - dt.timedelta(days=first.isoweekday() - 1)
        days = [start_pad + dt.timedelta(days=i) for i in range(((last - start_pad).days // 7 + 1) * 7)]
        previous, following = (first - dt.timedelta(days=1)).replace(day=1), last + dt.timedelta(days=1)
    span = (_ms(lang, days[0]), _ms(lang, days[-1] + dt.timedelta(days=1)))
    calendar = await node.bookings.calendar(v, origin, record_id, *span)
    hours = resource.get("hours") or []
    grid = _week_grid(lang, days, hours, calendar["items"]) if view == "week" else None
    month = _month_cells(lang, days, first, hours, calendar["items"]) if view == "month" else None
    summary, errors = error if error else (None, {})
    return render(
        request,
        "resource.html",
        {
            "r": resource,
            "view": view,
            "day": day.isoformat(),
            "days": days,
            "previous": previous.isoformat(),
            "following": following.isoformat(),
            "grid": grid,
            "month": month,
            "month_label": lang.month(first.strftime("%Y-%m")) if view == "month" else "",
            "calendar": calendar,
            "openings": _openings(hours),
            "values": {"date": day.isoformat(), "start_time": "", "end_time": "", "note": "", **values},
            "summary": summary,
            "errors": errors,
            "done": request.query.get("done"),
            "field_labels": {
                "date": lang.gettext("Day"),
                "start_time": lang.gettext("From"),
                "end_time": lang.gettext("Until"),
                "note": lang.gettext("Note for the place"),
            },
        },
        status=status,
    )


def _openings(hours: list[Mapping[str, int]]) -> list[tuple[int, str]]:
    """(ISO weekday, "09:00 – 18:00") for each opening, in order."""
    return [
        (
            int(h["day"]),
            f"{h['opens'] // 60:02d}:{h['opens'] % 60:02d} – {h['closes'] // 60:02d}:{h['closes'] % 60:02d}",
        )
        for h in sorted(hours, key=lambda h: (h["day"], h["opens"]))
    ]


def _week_grid(
    lang: Lang, days: list[dt.date], hours: list[Mapping[str, int]], items: list[dict[str, Any]]
) -> dict[str, Any]:
    """Rows of one hour from the earliest opening to the latest closing; each cell closed, free or booked."""
    first_hour = min((h["opens"] // 60 for h in hours), default=8)
    last_hour = max((-(-h["closes"] // 60) for h in hours), default=20)
    rows = []
    for hour in range(first_hour, last_hour):
        cells = []
        for day in days:
            start, end = _ms(lang, day, hour * 60), _ms(lang, day, (hour + 1) * 60)
            open_ = not hours or any(
                h["day"] == day.isoweekday() and h["opens"] < (hour + 1) * 60 and h["closes"] > hour * 60 for h in hours
            )
            booked = [i for i in items if i["start"] < end and i["end"] > start]
            state = "closed" if not open_ else "free"
            if booked:
                state = "mine" if any(i["mine"] for i in booked) else "booked"
            cells.append({"state": state, "bookings": booked, "start": start})
        rows.append({"label": f"{hour:02d}:00", "cells": cells})
    return {"rows": rows}


def _month_cells(
    lang: Lang, days: list[dt.date], first: dt.date, hours: list[Mapping[str, int]], items: list[dict[str, Any]]
) -> list[list[dict[str, Any]]]:
    weeks: list[list[dict[str, Any]]] = []
    for i, day in enumerate(days):
        if i % 7 == 0:
            weeks.append([])
        start, end = _ms(lang, day), _ms(lang, day + dt.timedelta(days=1))
        booked = [b for b in items if b["start"] < end and b["end"] > start]
        weeks[-1].append(
            {
                "day": day,
                "in_month": day.month == first.month,
                "open": not hours or any(h["day"] == day.isoweekday() for h in hours),
                "booked": len(booked),
                "mine": any(b["mine"] for b in booked),
            }
        )
    return weeks


async def book(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    node, lang = node_of(request), lang_of(request)
    origin, record_id = request.match_info["origin"], request.match_info["id"]
    form = await form_of(request)
    values = {k: form.get(k, "").strip() for k in ("date", "start_time", "end_time", "note")}
    errors: dict[str, str] = {}
    day: dt.date | None = None
    try:
        day = dt.date.fromisoformat(values["date"])
    except ValueError:
        errors["date"] = lang.gettext("Pick a day.")
    times: dict[str, int] = {}
    for name in ("start_time", "end_time"):
        try:
            t = dt.time.fromisoformat(values[name])
            times[name] = t.hour * 60 + t.minute
        except ValueError:
            errors[name] = lang.gettext("Give a time such as 14:30.")
    if not errors and times["end_time"] <= times["start_time"]:
        errors["end_time"] = lang.gettext("The end must be after the start.")
    if errors or day is None:
        return await _resource(request, values, (lang.gettext("The booking could not be made."), errors), 422)
    start, end = _ms(lang, day, times["start_time"]), _ms(lang, day, times["end_time"])
    try:
        result = await node.bookings.book(v, origin, record_id, start, end, values["note"] or None)
    except BookingRefused as exc:
        reason = lang.label("booking_reason", exc.reason)
        return await _resource(
            request, values, (lang.gettext("The booking was refused: %(reason)s.") % {"reason": reason}, {}), 409
        )
    except InvalidInput as exc:
        explained, status = form_error(request, exc, {"end": "end_time", "note": "note"})
        return await _resource(request, values, (explained.summary, explained.fields), status)
    done = "requested" if result["status"] == "requested" else result["status"]
    raise redirect(f"/resources/{origin}/{record_id}?day={day.isoformat()}&done={done}")


# ------------------------------------------------------------------------------------------ my bookings


async def bookings_page(
    request: web.Request,
    feed_url: str | None = None,
    qualify_values: Mapping[str, str] | None = None,
    qualify_error: str | None = None,
    status: int = 200,
) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    mine = await node.bookings.mine(v)
    now = node.clock()
    context: dict[str, Any] = {
        "coming": [b for b in mine if b["end"] > now],
        "past": [b for b in mine if b["end"] <= now][-20:],
        "feed_since": await node.feeds.has_private_feed(v),
        "feed_url": feed_url,
        "done": request.query.get("done"),
        "pending": [],
        "qualifications": [],
        "qualification_codes": [],
        "qualify_values": {"qualification": "", "member": "", **(qualify_values or {})},
        "qualify_error": qualify_error,
    }
    if v.is_staff:
        context["pending"] = await node.bookings.pending(v)
        context["qualifications"] = await node.bookings.qualifications(v)
        own = [r for r in await node.bookings.resources() if r["origin"] == node.config.name]
        context["qualification_codes"] = sorted(
            {
                (str(r["qualification"]), str(r.get("qualification_label") or r["qualification"]))
                for r in own
                if r.get("qualification")
            }
        )
    return render(request, "bookings.html", context, status=status)


async def my_bookings(request: web.Request) -> web.Response:
    return await bookings_page(request)


async def cancel(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    await node_of(request).bookings.cancel(v, request.match_info["booking_id"])
    raise redirect("/bookings?done=cancelled")


async def make_feed(request: web.Request) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    token = await node.feeds.make_private_feed(v)
    return await bookings_page(request, f"{node.config.url.rstrip('/')}/feeds/me/{token}.ics")


async def decide(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    await node_of(request).bookings.decide(
        v, request.match_info["origin"], request.match_info["booking_id"], form.get("decision", "")
    )
    raise redirect("/bookings?done=decided")


async def qualify(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    values = {k: form.get(k, "").strip() for k in ("qualification", "member")}
    member = values["member"].strip("/")
    if "/members/" in member:  # a member page's address pasted whole
        member = member.split("/members/", 1)[1]
    origin, _, member_id = member.partition("/")
    try:
        if not origin or not member_id:
            raise InvalidInput.field("member", "must be coop/member-id")
        await node_of(request).bookings.qualify(v, values["qualification"], origin, member_id)
    except NodeError as exc:
        explained, status = form_error(request, exc)
        message = "; ".join(explained.fields.values()) or explained.summary
        return await bookings_page(request, qualify_values=values, qualify_error=message, status=status)
    raise redirect("/bookings?done=qualified")


# -------------------------------------------------------------------------------------------- the feeds


def _ics(body: bytes, filename: str) -> web.Response:
    return web.Response(
        body=body,
        headers={
            "Content-Type": MEDIA_TYPE,
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def resource_feed(request: web.Request) -> web.Response:
    origin, record_id = request.match_info["origin"], request.match_info["id"]
    body = await node_of(request).feeds.resource(viewer_of(request), origin, record_id)
    return _ics(body, f"{origin}-{record_id}.ics")


async def events_feed(request: web.Request) -> web.Response:
    node = node_of(request)
    return _ics(await node.feeds.events(viewer_of(request)), f"{node.config.name}-events.ics")


async def event_file(request: web.Request) -> web.Response:
    origin, record_id = request.match_info["origin"], request.match_info["id"]
    return _ics(await node_of(request).feeds.event(viewer_of(request), origin, record_id), f"{origin}-{record_id}.ics")


async def private_feed(request: web.Request) -> web.Response:
    return _ics(await node_of(request).feeds.private(request.match_info["token"]), "bigre.ics")


ID: Final = "{id:[A-Za-z0-9][A-Za-z0-9._:-]{0,63}}"
ICS_ID: Final = "{id:[A-Za-z0-9][A-Za-z0-9_:-]{0,63}}"  # no dot before .ics


def booking_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/resources", resources_page),
        *resource_form_routes(),  # before /resources/{origin}/{id}: "new" and "edit" are not coops
        web.get(f"/resources/{{origin}}/{ID}", resource_page),
        web.post(f"/resources/{{origin}}/{ID}/book", book),
        web.get("/bookings", my_bookings),
        web.post("/bookings/feed", make_feed),
        web.post("/bookings/qualifications", qualify),
        web.post("/bookings/{booking_id}/cancel", cancel),
        web.post("/bookings/{origin}/{booking_id}/decide", decide),
        web.get(f"/feeds/resources/{{origin}}/{ICS_ID}.ics", resource_feed),
        web.get("/feeds/events.ics", events_feed),
        web.get(f"/feeds/events/{{origin}}/{ICS_ID}.ics", event_file),
        web.get("/feeds/me/{token:[A-Za-z0-9_-]{20,100}}.ics", private_feed),
    ]
