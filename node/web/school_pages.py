"""The schools' pages (issue 16): the public form where a teacher asks for a discovery session (no account), and
the education coordinators' pages (advisors and operators) that find volunteers with the search and turn a
request into an event for the audience ``school``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from aiohttp import web

from node.errors import InvalidInput, NodeError
from node.web.errors import N_, Explained
from node.web.render import form_error, form_of, lang_of, node_of, redirect, render, signed_in

FORM_FIELDS: Final = ("school", "town", "class_level", "dates", "topic", "contact_name", "contact_email", "message")
#: the guards' refusals (``form`` field of the service's error), as the teacher reads them
GUARD_MESSAGES: Final = {
    "quick": N_("The form was sent very quickly. Please check it and send it again."),
    "expired": N_("The form has expired. Please send it again."),
    "refused": N_("The form could not be accepted. Please send it again."),
}


def _labels() -> dict[str, str]:
    return {
        "school": N_("School"),
        "town": N_("Town"),
        "class_level": N_("Class level"),
        "dates": N_("Preferred dates"),
        "topic": N_("Topic"),
        "contact_name": N_("Your name"),
        "contact_email": N_("Your email address"),
        "message": N_("Message"),
    }


async def _form(
    request: web.Request, values: dict[str, str], explained: Explained | None = None, status: int = 200
) -> web.Response:
    lang = lang_of(request)
    return render(
        request,
        "school_form.html",
        {
            "values": values,
            "token": node_of(request).schools.challenge(),
            "field_labels": {k: lang.gettext(v) for k, v in _labels().items()},
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
            "sent": False,
        },
        status=status,
    )


async def school_form(request: web.Request) -> web.Response:
    """The public form: anyone, no account."""
    return await _form(request, {})


async def school_submit(request: web.Request) -> web.Response:
    form = await form_of(request)
    values = {k: form.get(k, "") for k in FORM_FIELDS}
    lang = lang_of(request)
    try:
        await node_of(request).schools.submit(
            {**values, "website": form.get("website", "")}, form.get("token", ""), request.remote or "unknown"
        )
    except InvalidInput as exc:
        guard = exc.fields.get("form")
        if guard is not None:
            return await _form(request, values, Explained(lang.gettext(GUARD_MESSAGES.get(guard, "refused"))), 422)
        explained, status = form_error(request, exc)
        return await _form(request, values, explained, status)
    except NodeError as exc:
        explained, status = form_error(request, exc)
        return await _form(request, values, explained, status)
    return render(request, "school_form.html", {"sent": True, "values": {}, "token": "", "field_labels": {}})


# -------------------------------------------------------------------------------------------- coordinators


async def requests_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    items = await node_of(request).schools.requests(v)
    return render(request, "school_requests.html", {"items": items})


async def request_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    number = _number(request)
    item = await node.schools.get(v, number)
    q = request.query.get("q", item["topic"])
    near = request.query.get("near", item["town"])
    found: list[dict[str, Any]] = []
    search_error = None
    if "find" in request.query:
        try:
            parsed = node.finder.parse({"q": q, "near": near, "type": "profile", "limit": "20"})
            found = (await node.finder.search(v, parsed, facets=False))["results"]
        except InvalidInput as exc:
            search_error = form_error(request, exc)[0].summary
    chosen = {(p["origin"], p["member"]) for p in item["volunteers"]}
    return render(
        request,
        "school_request.html",
        {
            "item": item,
            "q": q,
            "near": near,
            "found": [r for r in found if (r["origin"], r["id"]) not in chosen],
            "searched": "find" in request.query,
            "search_error": search_error,
            "done": request.query.get("done"),
            "today": lang_of(request).moment(node.clock()).date().isoformat(),
        },
    )


async def volunteers_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    number = _number(request)
    posted = await request.post()
    node = node_of(request)
    item = await node.schools.get(v, number)
    keep = {str(x) for x in posted.getall("keep", [])}
    volunteers = [p for p in item["volunteers"] if f"{p['origin']}/{p['member']}" in keep]
    for value in posted.getall("add", []):
        origin, _, rest = str(value).partition("/")
        member, _, name = rest.partition("|")
        if origin and member:
            volunteers.append({"origin": origin, "member": member, "name": name or member})
    await node.schools.set_volunteers(v, number, volunteers)
    raise redirect(f"/coordination/schools/{number}?done=volunteers")


async def event_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    number = _number(request)
    form = await form_of(request)
    lang = lang_of(request)
    try:
        day = dt.date.fromisoformat(form.get("date", ""))
        hour, minute = (int(x) for x in (form.get("time") or "09:00").split(":"))
        start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=lang.tz)
    except ValueError:
        raise InvalidInput.field("date", "must be a date YYYY-MM-DD") from None
    payload: dict[str, Any] = {"start": int(start.timestamp() * 1000)}
    if form.get("title"):
        payload["title"] = form["title"]
    await node_of(request).schools.make_event(v, number, payload)
    raise redirect(f"/coordination/schools/{number}?done=event")


async def decline_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    number = _number(request)
    await node_of(request).schools.decline(v, number)
    raise redirect(f"/coordination/schools/{number}?done=declined")


def _number(request: web.Request) -> int:
    try:
        return int(request.match_info["number"])
    except ValueError:
        raise web.HTTPNotFound() from None


def school_routes() -> list[web.RouteDef]:
    return [
        web.get("/schools", school_form),
        web.post("/schools", school_submit),
        web.get("/coordination/schools", requests_page),
        web.get("/coordination/schools/{number:[0-9]{1,18}}", request_page),
        web.post("/coordination/schools/{number:[0-9]{1,18}}/volunteers", volunteers_submit),
        web.post("/coordination/schools/{number:[0-9]{1,18}}/event", event_submit),
        web.post("/coordination/schools/{number:[0-9]{1,18}}/decline", decline_submit),
    ]
