"""Offers, mentoring, events and help requests: what members share with each other, and the actions on them
(taking a seat at an event of this coop, answering a help request).

Each kind's models are generated from its declaration (:class:`node.services.things.ThingKind`: which fields a
member sets, which have defaults, which filter a list) and its record type in ``protocol/records.py`` (what
each field holds), so the API cannot drift from what the node publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field, create_model

from node.http.record_models import camel, dump, record_input, record_view, value_type
from node.http.routing import V1, Access, Route, encode_cursor, json_response, member, node_of, page, viewer
from node.http.types import Ms, PageQuery, RecordId, page_of
from node.services.things import EVENTS, HELP_REQUESTS, KINDS, THING_VISIBILITIES, ThingKind
from protocol import RECORD_TYPES

Visibility = Literal[THING_VISIBILITIES]  # type: ignore[valid-type]


@dataclass(frozen=True, slots=True)
class KindModels:
    """The models of one kind: what a member sends to create and to change one, what the node answers, and
    the filters of its list."""

    create: type[BaseModel]
    change: type[BaseModel]
    view: type[BaseModel]
    query: type[PageQuery]


_MODELS: dict[str, KindModels] = {}


def kind_models(kind: ThingKind, singular: str) -> KindModels:
    """The kind's models, made once (a model is one schema of the document, under one name)."""
    found = _MODELS.get(kind.name)
    if found is None:
        found = _MODELS[kind.name] = _make_models(kind, singular)
    return found


def _make_models(kind: ThingKind, singular: str) -> KindModels:
    record_type = RECORD_TYPES[kind.record_type]
    name = camel(singular)
    required = [
        f.name for f in record_type.fields if f.required and f.name in kind.inputs and f.name not in kind.defaults
    ]
    extra_input: dict[str, Any] = {}
    view_extra: dict[str, Any] = {
        "id": (RecordId, ...),
        "created_at": (Ms, ...),
        "updated_at": (Ms, ...),
        "mine": (bool, Field(..., description="whether I wrote it")),
    }
    if kind.has_visibility:
        extra_input["visibility"] = (
            Visibility | None,
            Field(None, description="network (members of the network) or public (anyone); network by default"),
        )
        view_extra["visibility"] = (Visibility, ...)
    if kind is EVENTS:
        view_extra["registered"] = (int, Field(..., description="seats taken, other coops' members included"))
        view_extra["seats_left"] = (int | None, Field(..., description="null: no limit"))
        view_extra["me_registered"] = (bool | None, Field(None, description="whether I hold a seat (signed in)"))
    filters: dict[str, Any] = {}
    for filter_name in kind.filters:
        f = next(f for f in record_type.fields if f.name == filter_name)
        filters[filter_name] = (value_type(f, "view") | None, Field(None, description=f"only those with this {f.name}"))
    query: type[PageQuery] = create_model(f"{name}ListQuery", __base__=PageQuery, **filters)
    return KindModels(
        create=record_input(record_type, f"{name}Input", names=kind.inputs, required=required, extra=extra_input),
        change=record_input(record_type, f"{name}Change", names=kind.inputs, extra=extra_input),
        view=record_view(record_type, name, extra=view_extra),
        query=query,
    )


def thing_routes(kind: ThingKind, tag: str, what: str, singular: str) -> list[Route]:
    base = f"{V1}/{kind.name}"
    access: Access = "member" if kind.members_only else "anyone"
    models = kind_models(kind, singular)
    word = singular.replace("-", "_")

    async def list_things(request: web.Request, query: PageQuery) -> web.Response:
        cursor, limit = page(query)
        filters = {k: str(v) for k, v in query.model_dump(exclude_none=True).items() if k not in ("limit", "cursor")}
        items, nxt = await node_of(request).things.list_things(
            kind, viewer(request), before=cursor, limit=limit, filters=filters
        )
        return json_response({"items": items, "next_cursor": encode_cursor(nxt)})

    async def create_thing(request: web.Request, body: BaseModel) -> web.Response:
        given = {k: v for k, v in dump(body).items() if v is not None}  # null on creation: not given (defaults hold)
        return json_response(await node_of(request).things.create(kind, member(request), given), 201)

    async def get_thing(request: web.Request, id: str) -> web.Response:
        return json_response(await node_of(request).things.get(kind, viewer(request), id))

    async def update_thing(request: web.Request, id: str, body: BaseModel) -> web.Response:
        return json_response(await node_of(request).things.update(kind, member(request), id, dump(body)))

    async def delete_thing(request: web.Request, id: str) -> web.Response:
        await node_of(request).things.delete(kind, member(request), id)
        return web.Response(status=204)

    return [
        Route(
            "GET",
            base,
            list_things,
            f"List {what}, newest first",
            access,
            tag,
            query=models.query,
            response=page_of(models.view),
            operation_id=f"list_{kind.name.replace('-', '_')}",
        ),
        Route(
            "POST",
            base,
            create_thing,
            f"Create {singular.replace('-', ' ')}",
            "member",
            tag,
            body=models.create,
            response=models.view,
            status=201,
            operation_id=f"create_{word}",
        ),
        Route(
            "GET",
            f"{base}/{{id}}",
            get_thing,
            f"Read one of the {what}",
            access,
            tag,
            response=models.view,
            operation_id=f"get_{word}",
        ),
        Route(
            "PATCH",
            f"{base}/{{id}}",
            update_thing,
            "Change fields (author only); null clears a field",
            "member",
            tag,
            body=models.change,
            response=models.view,
            operation_id=f"update_{word}",
        ),
        Route(
            "DELETE",
            f"{base}/{{id}}",
            delete_thing,
            "Delete (author or operator); publishes a tombstone",
            "member",
            tag,
            status=204,
            operation_id=f"delete_{word}",
        ),
    ]


ANSWER: Final = RECORD_TYPES["help_answer"]
AnswerInput: Final = record_input(ANSWER, "HelpAnswerInput", names=["text"], required=["text"])
HelpAnswer: Final = record_view(ANSWER, "HelpAnswer", extra={"id": (RecordId, ...), "created_at": (Ms, ...)})
EVENT_VIEW: Final = kind_models(EVENTS, "event").view


async def register_event(request: web.Request, id: str) -> web.Response:
    return json_response(await node_of(request).things.register(member(request), id))


async def unregister_event(request: web.Request, id: str) -> web.Response:
    return json_response(await node_of(request).things.unregister(member(request), id))


async def list_answers(request: web.Request, id: str) -> web.Response:
    items = await node_of(request).things.answers(member(request), id)
    return json_response({"items": items, "next_cursor": None})


async def create_answer(request: web.Request, id: str, body: BaseModel) -> web.Response:
    return json_response(await node_of(request).things.answer(member(request), id, dump(body)), 201)


async def delete_answer(request: web.Request, id: str, answer_id: str) -> web.Response:
    await node_of(request).things.delete_answer(member(request), id, answer_id)
    return web.Response(status=204)


ROUTES: Final = (
    *thing_routes(KINDS["offers"], "offers", "collaboration offers and requests", "offer"),
    *thing_routes(KINDS["mentoring"], "support", "mentoring offers and requests", "mentoring"),
    *thing_routes(EVENTS, "support", "events (trainings, workshops, working groups)", "event"),
    Route(
        "POST",
        f"{V1}/events/{{id}}/registration",
        register_event,
        "Take a seat",
        "member",
        "support",
        response=EVENT_VIEW,
        errors=(409,),
        operation_id="register_for_event",
    ),
    Route(
        "DELETE",
        f"{V1}/events/{{id}}/registration",
        unregister_event,
        "Give the seat back",
        "member",
        "support",
        response=EVENT_VIEW,
        operation_id="unregister_from_event",
    ),
    *thing_routes(HELP_REQUESTS, "support", "help requests", "help-request"),
    Route(
        "GET",
        f"{V1}/help-requests/{{id}}/answers",
        list_answers,
        "Answers to a help request",
        "member",
        "support",
        response=page_of(HelpAnswer),
        operation_id="list_help_answers",
    ),
    Route(
        "POST",
        f"{V1}/help-requests/{{id}}/answers",
        create_answer,
        "Answer a help request",
        "member",
        "support",
        body=AnswerInput,
        response=HelpAnswer,
        status=201,
        errors=(409,),
        operation_id="answer_help_request",
    ),
    Route(
        "DELETE",
        f"{V1}/help-requests/{{id}}/answers/{{answer_id}}",
        delete_answer,
        "Delete an answer (author or operator)",
        "member",
        "support",
        status=204,
        operation_id="delete_help_answer",
    ),
)
