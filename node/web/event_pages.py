"""Events: every coop's events as cards by date (coming first, past ones apart), filters, registration across
coops, and the forms to publish, edit and cancel an event of this coop.

A member registers for any coop's event from here and sees where each registration stands; an event's organiser
(or an operator) sees who comes, from every coop. Times are typed and shown in the node's time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from node.errors import InvalidInput
from node.services.things import EVENTS
from node.web.errors import N_, Explained
from node.web.i18n import Lang
from node.web.render import coops_of, form_error, form_of, lang_of, node_of, redirect, render, signed_in
from protocol import RECORD_TYPES

EVENT_SCHEMA: Final = {f.name: f for f in RECORD_TYPES["event"].fields}
KINDS: Final = EVENT_SCHEMA["kind"].choices
REGISTRATIONS: Final = EVENT_SCHEMA["registration"].choices
LIMITS: Final = {"title": EVENT_SCHEMA["title"].max_len, "description": EVENT_SCHEMA["description"].max_len}
RADII: Final = (10, 25, 50, 100)


async def events_page(request: web.Request) -> web.Response:
    """Every coop's events by date, filtered by coop, kind, month and place; the viewer's registrations and, for
    the events they organise, the participants."""
    v = signed_in(request)
    node = node_of(request)
    lang = lang_of(request)
    query = {k: request.query.get(k, "").strip() for k in ("coop", "kind", "month", "near", "radius_km")}
    near = None
    near_error = None
    if query["near"]:
        try:
            place = node.reference.centre(query["near"])
            radius = float(query["radius_km"]) if query["radius_km"] in {str(r) for r in RADII} else 25.0
            near = (place.lat_e6, place.lon_e6, radius)
        except InvalidInput as exc:
            near_error = form_error(request, exc, {"near": "near"})[0].fields.get("near")
    coming, past = await node.things.calendar(
        v,
        now=node.clock(),
        tz=lang.tz,
        origin=query["coop"] or None,
        kind=query["kind"] if query["kind"] in KINDS else None,
        month=query["month"] or None,
        near=near,
    )
    states: dict[str, str] = {}
    if v.member_id is not None:
        states = {f"{r['event_origin']}/{r['event_id']}": r["status"] for r in await node.remote_events.mine(v)}
    own = [i["id"] for i in coming + past if i["origin"] == node.config.name]
    mine, organised = await node.things.event_roles(v, own)
    states.update({f"{node.config.name}/{event_id}": "confirmed" for event_id in mine})
    participants: dict[str, list[dict[str, Any]]] = {}
    for event_id in organised:
        participants[event_id] = (await node.remote_events.participants(v, event_id))["items"]
    months = sorted({i["month"] for i in coming})
    active = sum(1 for k in ("coop", "kind", "month", "near") if query[k])
    return render(
        request,
        "events.html",
        {
            "coming": coming,
            "past": past[:30],
            "states": states,
            "participants": participants,
            "organised": organised,
            "done": request.query.get("done"),
            "query": query,
            "kinds": KINDS,
            "months": months,
            "radii": RADII,
            "coops": [c for c in await coops_of(request) if c["status"] == "member"],
            "near_error": near_error,
            "active_filters": active,
        },
        status=422 if near_error else 200,
    )


async def register_any(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    result = await node_of(request).remote_events.register(v, origin, event_id)  # refusals: the error page
    done = "registered" if result["status"] == "confirmed" else "pending"
    raise redirect(f"/events?done={done}#event-{origin}-{event_id}")


async def cancel_any(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    origin, event_id = request.match_info["origin"], request.match_info["id"]
    await node_of(request).remote_events.cancel(v, origin, event_id)
    raise redirect(f"/events?done=cancelled#event-{origin}-{event_id}")


# --------------------------------------------------------------------------------------------- the form


def event_values(event: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """A stored event as the form shows it (date and times in the node's time zone)."""
    start, end = event.get("start"), event.get("end")
    place = event.get("place")
    values: dict[str, Any] = {
        "kind": event.get("kind", "workshop"),
        "title": event.get("title", ""),
        "description": event.get("description", ""),
        "date": "",
        "start_time": "",
        "end_time": "",
        "online": bool(event.get("online")),
        "url": event.get("url", ""),
        "place": f"{place.get('town', '')} {place.get('postcode', '')}".strip() if isinstance(place, dict) else "",
        "seats": event.get("seats", ""),
        "registration": event.get("registration", "open"),
        "visibility": event.get("visibility", "network"),
    }
    if isinstance(start, int):
        moment = lang.moment(start)
        values["date"], values["start_time"] = moment.date().isoformat(), moment.strftime("%H:%M")
    if isinstance(end, int):
        values["end_time"] = lang.moment(end).strftime("%H:%M")
    return values


def read_event_form(form: Mapping[str, str], lang: Lang, now: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The event service's input from the form, and the errors only a form can make (a date in the past, an end
    before the start, a place missing for an event that is not online)."""
    errors: dict[str, str] = {}
    text = {k: v.strip() for k, v in form.items()}
    payload: dict[str, Any] = {
        "kind": text.get("kind") if text.get("kind") in KINDS else "other",
        "title": text.get("title", ""),
        "description": text.get("description") or None,
        "online": text.get("online") == "on",
        "url": text.get("url") or None,
        "place": text.get("place") or None,
        "registration": text.get("registration") if text.get("registration") in REGISTRATIONS else "open",
        "visibility": "public" if text.get("visibility") == "public" else "network",
    }
    if not payload["title"]:
        errors["title"] = lang.gettext(N_("This field is required."))
    start = end = None
    try:
        day = dt.date.fromisoformat(text.get("date", ""))
        start_time = dt.time.fromisoformat(text.get("start_time", "") or "x")
        start = dt.datetime.combine(day, start_time, tzinfo=lang.tz)
        if text.get("end_time"):
            end = dt.datetime.combine(day, dt.time.fromisoformat(text["end_time"]), tzinfo=lang.tz)
    except ValueError:
        field = "date" if not text.get("date") or not _is_date(text["date"]) else "start_time"
        errors[field] = lang.gettext(N_("Give the day and the time the event starts."))
    if start is not None:
        payload["start"] = int(start.timestamp() * 1000)
        if payload["start"] < now:
            errors["date"] = lang.gettext(N_("This date is past: an event is published before it happens."))
        if end is not None:
            if end <= start:
                errors["end_time"] = lang.gettext(N_("The end must come after the start."))
            payload["end"] = int(end.timestamp() * 1000)
    if text.get("seats"):
        if text["seats"].isdigit() and int(text["seats"]) <= 100_000:
            payload["seats"] = int(text["seats"])
        else:
            errors["seats"] = lang.gettext(N_("Give a whole number of seats, or leave it empty for no limit."))
    if not payload["online"] and not payload["place"]:
        errors["place"] = lang.gettext(N_("Give the town where it happens, or tick “online”."))
    if payload["online"] and not payload["url"]:
        payload.pop("url")
    return payload, errors


def _is_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _labels(lang: Lang) -> dict[str, str]:
    return {
        "kind": lang.gettext(N_("Kind of event")),
        "title": lang.gettext(N_("Title")),
        "description": lang.gettext(N_("Description")),
        "date": lang.gettext(N_("Day")),
        "start_time": lang.gettext(N_("Starts at")),
        "end_time": lang.gettext(N_("Ends at")),
        "start": lang.gettext(N_("Starts at")),
        "end": lang.gettext(N_("Ends at")),
        "url": lang.gettext(N_("Link to join online")),
        "place": lang.gettext(N_("Town")),
        "seats": lang.gettext(N_("Seats")),
    }


async def _form(
    request: web.Request,
    values: Mapping[str, Any],
    event_id: str | None,
    explained: Explained | None = None,
    status: int = 200,
) -> web.Response:
    lang = lang_of(request)
    return render(
        request,
        "event_form.html",
        {
            "values": values,
            "event_id": event_id,
            "kinds": KINDS,
            "registrations": REGISTRATIONS,
            "limits": LIMITS,
            "today": lang.moment(node_of(request).clock()).date().isoformat(),
            "field_labels": _labels(lang),
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
        },
        status=status,
    )


async def new_event_page(request: web.Request) -> web.Response:
    signed_in(request)
    values = event_values({"registration": "open", "kind": "workshop"}, lang_of(request))
    return await _form(request, values, None)


async def _save(request: web.Request, event_id: str | None) -> web.StreamResponse:
    v = signed_in(request)
    node = node_of(request)
    lang = lang_of(request)
    form = await form_of(request)
    payload, errors = read_event_form(form, lang, node.clock())
    typed = {**form, "online": form.get("online") == "on"}
    if errors:
        summary = lang.gettext(N_("Some of what you typed is not accepted: see the messages next to the fields."))
        return await _form(request, typed, event_id, Explained(summary, errors), 422)
    try:
        if event_id is None:
            saved = await node.things.create(EVENTS, v, payload)
        else:
            if not payload.get("online"):
                payload.setdefault("url", None)
            saved = await node.things.update(EVENTS, v, event_id, payload)
    except InvalidInput as exc:
        explained, status = form_error(request, exc)
        return await _form(request, typed, event_id, explained, status)
    raise redirect(f"/events?done={'created' if event_id is None else 'edited'}#event-{node.config.name}-{saved['id']}")


async def create_event(request: web.Request) -> web.StreamResponse:
    return await _save(request, None)


async def edit_event_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    event = await node_of(request).things.get(EVENTS, v, request.match_info["id"])
    if not event.get("mine"):
        raise web.HTTPForbidden()
    return await _form(request, event_values(event, lang_of(request)), event["id"])


async def edit_event(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.match_info["id"])


async def withdraw_event(request: web.Request) -> web.StreamResponse:
    """Cancel an event of this coop (its author): it stays listed, marked cancelled, on every node."""
    v = signed_in(request)
    event_id = request.match_info["id"]
    await node_of(request).things.update(EVENTS, v, event_id, {"status": "cancelled", "registration": "closed"})
    raise redirect(f"/events?done=withdrawn#event-{node_of(request).config.name}-{event_id}")


def event_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/events", events_page),
        web.get("/events/new", new_event_page),
        web.post("/events/new", create_event),
        web.get("/events/edit/{id}", edit_event_page),
        web.post("/events/edit/{id}", edit_event),
        web.post("/events/withdraw/{id}", withdraw_event),
        web.post("/events/{origin}/{id}/register", register_any),
        web.post("/events/{origin}/{id}/cancel", cancel_any),
    ]
