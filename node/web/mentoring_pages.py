"""The mentoring programmes' pages (issue 16): the programmes of every coop, joining one, the coordinators'
suggestions, proposals and figures, and a pair's page (answers, check-ins, closing)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.errors import InvalidInput, NodeError
from node.web.errors import N_, Explained
from node.web.render import form_error, form_of, lang_of, node_of, redirect, render, signed_in


def _labels() -> dict[str, str]:
    return {
        "name": N_("Name of the programme"),
        "description": N_("Description"),
        "cohort_start": N_("Cohort starts"),
        "cohort_end": N_("Cohort ends"),
        "mentees": N_("Who may be a mentee"),
        "date": N_("Day of the meeting"),
        "note": N_("Short note"),
    }


async def programmes_page(
    request: web.Request, values: dict[str, Any] | None = None, explained: Explained | None = None, status: int = 200
) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    lang = lang_of(request)
    return render(
        request,
        "programmes.html",
        {
            "programmes": await node.mentorships.programmes(v),
            "pairs": await node.mentorships.my_pairs(v),
            "values": values or {"mentees": ["first_year"]},
            "field_labels": {k: lang.gettext(m) for k, m in _labels().items()},
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
            "done": request.query.get("done"),
        },
        status=status,
    )


async def programmes_get(request: web.Request) -> web.Response:
    return await programmes_page(request)


async def programme_create(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    posted = await request.post()
    values: dict[str, Any] = {k: str(posted.get(k, "")) for k in ("name", "description", "cohort_start", "cohort_end")}
    values["mentees"] = [str(m) for m in posted.getall("mentees", [])]
    payload = {k: val for k, val in values.items() if val}
    try:
        made = await node_of(request).mentorships.create_programme(v, payload)
    except InvalidInput as exc:
        explained, status = form_error(request, exc)
        return await programmes_page(request, values, explained, status)
    raise redirect(f"/mentoring/programmes/{made['origin']}/{made['id']}?done=created")


async def programme_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    origin, record_id = request.match_info["origin"], request.match_info["id"]
    programme = await node.mentorships.programme(v, origin, record_id)
    suggestions: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    if programme["coordinator_here"]:
        suggestions = await node.mentorships.suggestions(v, record_id)
        pairs = await node.mentorships.programme_pairs(v, record_id)
    return render(
        request,
        "programme.html",
        {
            "p": programme,
            "suggestions": suggestions,
            "pairs": pairs,
            "done": request.query.get("done"),
            "error": request.query.get("error"),
        },
    )


async def join_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    origin, record_id = request.match_info["origin"], request.match_info["id"]
    form = await form_of(request)
    payload: dict[str, Any] = {"role": form.get("role", "")}
    topics = [t.strip() for t in form.get("topics", "").split(",") if t.strip()]
    if topics:
        payload["topics"] = topics[:10]
    if form.get("note"):
        payload["note"] = form["note"]
    if form.get("capacity"):
        try:
            payload["capacity"] = int(form["capacity"])
        except ValueError:
            payload["capacity"] = form["capacity"]
    if form.get("under_30") == "on":
        payload["under_30"] = True
    base = f"/mentoring/programmes/{origin}/{record_id}"
    try:
        await node_of(request).mentorships.join(v, origin, record_id, payload)
    except NodeError as exc:
        return await _programme_error(request, exc)
    raise redirect(base + "?done=joined")


async def propose_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    record_id = request.match_info["id"]
    form = await form_of(request)
    payload = {
        "programme": record_id,
        "mentor": {"origin": form.get("mentor_origin", ""), "id": form.get("mentor_id", "")},
        "mentee": {"origin": form.get("mentee_origin", ""), "id": form.get("mentee_id", "")},
    }
    if form.get("note"):
        payload["note"] = form["note"]
    try:
        await node_of(request).mentorships.propose(v, payload)
    except NodeError as exc:
        return await _programme_error(request, exc)
    raise redirect(f"/mentoring/programmes/{node_of(request).config.name}/{record_id}?done=proposed")


async def _programme_error(request: web.Request, exc: NodeError) -> web.Response:
    """A refusal on the programme's page: the page again with the reason on top."""
    v = signed_in(request)
    node = node_of(request)
    origin = request.match_info.get("origin", node.config.name)
    record_id = request.match_info["id"]
    programme = await node.mentorships.programme(v, origin, record_id)
    coordinating = programme["coordinator_here"]
    return render(
        request,
        "programme.html",
        {
            "p": programme,
            "suggestions": await node.mentorships.suggestions(v, record_id) if coordinating else [],
            "pairs": await node.mentorships.programme_pairs(v, record_id) if coordinating else [],
            "done": None,
            "error": None,
            "summary": form_error(request, exc)[0].summary,
        },
        status=exc.status if exc.status < 500 else 422,
    )


async def pair_page(
    request: web.Request, explained: Explained | None = None, typed: dict[str, str] | None = None, status: int = 200
) -> web.Response:
    v = signed_in(request)
    node = node_of(request)
    lang = lang_of(request)
    pair = await node.mentorships.pair(v, request.match_info["id"])
    return render(
        request,
        "pair.html",
        {
            "pair": pair,
            "done": request.query.get("done"),
            "today": lang.moment(node.clock()).date().isoformat(),
            "values": typed or {},
            "field_labels": {k: lang.gettext(m) for k, m in _labels().items()},
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
        },
        status=status,
    )


async def pair_get(request: web.Request) -> web.Response:
    return await pair_page(request)


async def answer_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    pair_id = request.match_info["id"]
    form = await form_of(request)
    action = form.get("action", "")
    try:
        await node_of(request).mentorships.answer(v, pair_id, action, form.get("feedback", ""))
    except NodeError as exc:
        explained, status = form_error(request, exc)
        return await pair_page(request, explained, form, status)
    raise redirect(f"/mentoring/pairs/{pair_id}?done={action}")


async def checkin_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    pair_id = request.match_info["id"]
    form = await form_of(request)
    try:
        await node_of(request).mentorships.checkin(v, pair_id, form.get("date", ""), form.get("note", ""))
    except NodeError as exc:
        explained, status = form_error(request, exc)
        return await pair_page(request, explained, form, status)
    raise redirect(f"/mentoring/pairs/{pair_id}?done=checkin")


_ID = "{id:[A-Za-z0-9][A-Za-z0-9._:-]{0,63}}"
_ORIGIN = "{origin:[a-z0-9][a-z0-9-]{0,31}}"


def mentoring_routes() -> list[web.RouteDef]:
    return [
        web.get("/mentoring/programmes", programmes_get),
        web.post("/mentoring/programmes", programme_create),
        web.get(f"/mentoring/programmes/{_ORIGIN}/{_ID}", programme_page),
        web.post(f"/mentoring/programmes/{_ORIGIN}/{_ID}/join", join_submit),
        web.post(f"/mentoring/programmes/{_ID}/pairs", propose_submit),
        web.get(f"/mentoring/pairs/{_ID}", pair_get),
        web.post(f"/mentoring/pairs/{_ID}/answer", answer_submit),
        web.post(f"/mentoring/pairs/{_ID}/checkins", checkin_submit),
    ]
