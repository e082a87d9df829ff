"""Offers, mentoring, events and help requests: what members share with each other, and the actions on them
(taking a seat at an event of this coop, answering a help request)."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Access, Route, encode_cursor, json_response, member, node_of, page, read_json, viewer
from node.services.things import EVENTS, HELP_REQUESTS, KINDS, ThingKind


def thing_routes(kind: ThingKind, tag: str, what: str) -> list[Route]:
    base = f"{V1}/{kind.name}"
    access: Access = "member" if kind.members_only else "anyone"

    async def list_things(request: web.Request) -> web.Response:
        cursor, limit = page(request)
        filters = {k: v for k, v in request.query.items() if k not in ("limit", "cursor")}
        items, nxt = await node_of(request).things.list_things(
            kind, viewer(request), before=cursor, limit=limit, filters=filters
        )
        return json_response({"items": items, "next_cursor": encode_cursor(nxt)})

    async def create_thing(request: web.Request) -> web.Response:
        v = member(request)
        return json_response(await node_of(request).things.create(kind, v, await read_json(request)), 201)

    async def get_thing(request: web.Request) -> web.Response:
        return json_response(await node_of(request).things.get(kind, viewer(request), request.match_info["id"]))

    async def update_thing(request: web.Request) -> web.Response:
        v = member(request)
        return json_response(
            await node_of(request).things.update(kind, v, request.match_info["id"], await read_json(request))
        )

    async def delete_thing(request: web.Request) -> web.Response:
        await node_of(request).things.delete(kind, member(request), request.match_info["id"])
        return web.Response(status=204)

    return [
        Route(
            "GET",
            base,
            list_things,
            f"List {what}, newest first",
            access,
            tag,
            query=("limit", "cursor", *kind.filters),
        ),
        Route(
            "POST", base, create_thing, f"Create {what.rstrip('s')}", "member", tag, body=kind.record_type, status=201
        ),
        Route("GET", f"{base}/{{id}}", get_thing, f"Read one of the {what}", access, tag),
        Route(
            "PATCH",
            f"{base}/{{id}}",
            update_thing,
            "Change fields (author only); null clears a field",
            "member",
            tag,
            body=kind.record_type,
        ),
        Route(
            "DELETE",
            f"{base}/{{id}}",
            delete_thing,
            "Delete (author or operator); publishes a tombstone",
            "member",
            tag,
            status=204,
        ),
    ]


async def register_event(request: web.Request) -> web.Response:
    return json_response(await node_of(request).things.register(member(request), request.match_info["id"]))


async def unregister_event(request: web.Request) -> web.Response:
    return json_response(await node_of(request).things.unregister(member(request), request.match_info["id"]))


async def list_answers(request: web.Request) -> web.Response:
    items = await node_of(request).things.answers(member(request), request.match_info["id"])
    return json_response({"items": items, "next_cursor": None})


async def create_answer(request: web.Request) -> web.Response:
    v = member(request)
    answer = await node_of(request).things.answer(v, request.match_info["id"], await read_json(request))
    return json_response(answer, 201)


async def delete_answer(request: web.Request) -> web.Response:
    await node_of(request).things.delete_answer(
        member(request), request.match_info["id"], request.match_info["answer_id"]
    )
    return web.Response(status=204)


ROUTES: Final = (
    *thing_routes(KINDS["offers"], "offers", "collaboration offers and requests"),
    *thing_routes(KINDS["mentoring"], "support", "mentoring offers and requests"),
    *thing_routes(EVENTS, "support", "events (trainings, workshops, working groups)"),
    Route("POST", f"{V1}/events/{{id}}/registration", register_event, "Take a seat", "member", "support"),
    Route("DELETE", f"{V1}/events/{{id}}/registration", unregister_event, "Give the seat back", "member", "support"),
    *thing_routes(HELP_REQUESTS, "support", "help requests"),
    Route("GET", f"{V1}/help-requests/{{id}}/answers", list_answers, "Answers to a help request", "member", "support"),
    Route(
        "POST",
        f"{V1}/help-requests/{{id}}/answers",
        create_answer,
        "Answer a help request",
        "member",
        "support",
        body="{text}",
        status=201,
    ),
    Route(
        "DELETE",
        f"{V1}/help-requests/{{id}}/answers/{{answer_id}}",
        delete_answer,
        "Delete an answer (author or operator)",
        "member",
        "support",
        status=204,
    ),
)
