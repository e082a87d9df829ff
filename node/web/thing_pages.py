"""Offers, mentoring and help requests across the network: the lists, and the forms to publish, close and answer.
(Events have their own page: :mod:`node.web.event_pages`.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from node.services.things import KINDS
from node.web.render import Handler, form_of, node_of, redirect, render, signed_in


def thing_page(record_type: str, kind_name: str, template: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        v = signed_in(request)
        items = await node_of(request).things.network_records(record_type)
        return render(
            request,
            template,
            {
                "items": items,
                "own_member_id": v.member_id,
                "done": request.query.get("done"),
                "kind_name": kind_name,
            },
        )

    return handler


def thing_submit(kind_name: str, page: str, build: Callable[[dict[str, str]], dict[str, Any]]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        v = signed_in(request)
        form = await form_of(request)
        await node_of(request).things.create(KINDS[kind_name], v, build(form))
        raise redirect(f"{page}?done=1")

    return handler


def _offer_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "purpose": form.get("purpose", "offer"),
        "title": form.get("title", ""),
        "visibility": form.get("visibility", "network"),
    }
    if form.get("note"):
        payload["note"] = form["note"]
    if form.get("town"):
        payload["place"] = form["town"]
    if form.get("trades"):
        payload["trades"] = [t.strip() for t in form["trades"].split(",") if t.strip()]
    return payload


def _mentoring_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {"kind": form.get("kind", "offer")}
    topics = [t.strip() for t in form.get("topics", "").split(",") if t.strip()]
    if topics:
        payload["topics"] = topics
    if form.get("note"):
        payload["note"] = form["note"]
    return payload


def _help_payload(form: dict[str, str]) -> dict[str, Any]:
    payload: dict[str, Any] = {"topic": form.get("topic", "")}
    if form.get("text"):
        payload["text"] = form["text"]
    return payload


async def close_offer(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    await node_of(request).things.update(KINDS["offers"], v, request.match_info["id"], {"status": "closed"})
    raise redirect("/offers?done=1")


async def help_page(request: web.Request) -> web.Response:
    """Help requests across the network; under this coop's own requests, the answers its members gave."""
    v = signed_in(request)
    items = await node_of(request).things.network_records("help_request")
    own = [item["id"] for item in items if item["origin"] == node_of(request).config.name]
    answers = await node_of(request).things.answers_for(v, own)
    return render(
        request,
        "help.html",
        {
            "items": items,
            "answers": answers,
            "own_member_id": v.member_id,
            "done": request.query.get("done"),
            "kind_name": "help-requests",
        },
    )


async def answer_help(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    await node_of(request).things.answer(v, request.match_info["id"], {"text": form.get("text", "")})
    raise redirect("/help?done=1")


def thing_routes() -> list[web.RouteDef]:
    return [
        web.get("/offers", thing_page("offer", "offers", "offers.html")),
        web.post("/offers", thing_submit("offers", "/offers", _offer_payload)),
        web.post("/offers/{id}/close", close_offer),
        web.get("/mentoring", thing_page("mentoring", "mentoring", "mentoring.html")),
        web.post("/mentoring", thing_submit("mentoring", "/mentoring", _mentoring_payload)),
        web.get("/help", help_page),
        web.post("/help", thing_submit("help-requests", "/help", _help_payload)),
        web.post("/help/{id}/answer", answer_help),
    ]
