"""Offers, mentoring and help requests across the network: the lists (with who posted each), and the forms to
publish, close and answer, shown again with what was typed and a message per field when refused.
(Events have their own page: :mod:`node.web.event_pages`.)"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web
from multidict import MultiDictProxy

from node.errors import InvalidInput
from node.reference.vocabulary import TradeVocabulary
from node.services.things import KINDS
from node.web.errors import N_, Explained
from node.web.forms import form_trades
from node.web.i18n import Lang
from node.web.render import form_error, form_of, lang_of, node_of, redirect, render, signed_in

#: the record field naming each kind's author
AUTHOR: Final = {"offer": "author", "mentoring": "member", "help_request": "author"}
PAGES: Final = {"offers": ("offer", "offers.html"), "mentoring": ("mentoring", "mentoring.html")}
Build = Callable[[MultiDictProxy[Any], TradeVocabulary, Lang], tuple[dict[str, Any], dict[str, str], list[Any]]]


async def _items(request: web.Request, record_type: str) -> list[dict[str, Any]]:
    """The network's records of a type, each with its author's name as the viewer may see it."""
    node = node_of(request)
    items = await node.things.network_records(record_type)
    field = AUTHOR[record_type]
    refs = [(i["origin"], str(i["body"].get(field))) for i in items if i["body"].get(field)]
    names = await node.directory.display_names(signed_in(request), refs)
    return [{**i, "author_name": names.get((i["origin"], str(i["body"].get(field))))} for i in items]


def _labels(lang: Lang) -> dict[str, str]:
    return {
        "title": lang.gettext(N_("Title")),
        "note": lang.gettext(N_("Details")),
        "trades": lang.label("profile_field", "trades"),
        "town": lang.gettext(N_("Town")),
        "place": lang.gettext(N_("Town")),
        "topics": lang.gettext(N_("Topics (comma-separated)")),
        "topic": lang.gettext(N_("Topic")),
        "text": lang.gettext(N_("Your question")),
    }


async def _page(
    request: web.Request,
    kind_name: str,
    values: Mapping[str, Any] | None = None,
    trades: list[Any] | None = None,
    explained: Explained | None = None,
    status: int = 200,
) -> web.Response:
    v = signed_in(request)
    record_type, template = PAGES[kind_name]
    return render(
        request,
        template,
        {
            "items": await _items(request, record_type),
            "own_member_id": v.member_id,
            "done": request.query.get("done"),
            "values": values or {},
            "trades": trades or [],
            "field_labels": _labels(lang_of(request)),
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
        },
        status=status,
    )


def thing_page(kind_name: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        return await _page(request, kind_name)

    return handler


def _offer(form: MultiDictProxy[Any], vocabulary: TradeVocabulary, lang: Lang) -> tuple[
    dict[str, Any], dict[str, str], list[Any]
]:  # fmt: skip
    errors: dict[str, str] = {}
    trades, unknown = form_trades(form, "trades", vocabulary)
    if unknown:
        errors["trades"] = lang.gettext(N_("“%(value)s” is not a trade we know: pick one from the list.")) % {
            "value": ", ".join(unknown)
        }
    text = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    payload: dict[str, Any] = {
        "purpose": "request" if text.get("purpose") == "request" else "offer",
        "title": text.get("title", ""),
        "visibility": "public" if text.get("visibility") == "public" else "network",
    }
    if not payload["title"]:
        errors["title"] = lang.gettext(N_("This field is required."))
    if text.get("note"):
        payload["note"] = text["note"]
    if text.get("town"):
        payload["place"] = text["town"]
    if trades:
        payload["trades"] = [t["rome"] for t in trades]
    return payload, errors, trades


def _mentoring(form: MultiDictProxy[Any], vocabulary: TradeVocabulary, lang: Lang) -> tuple[
    dict[str, Any], dict[str, str], list[Any]
]:  # fmt: skip
    del vocabulary
    text = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    payload: dict[str, Any] = {"kind": "request" if text.get("kind") == "request" else "offer"}
    errors: dict[str, str] = {}
    topics = [t.strip() for t in text.get("topics", "").split(",") if t.strip()]
    if topics:
        payload["topics"] = topics
    else:
        errors["topics"] = lang.gettext(N_("This field is required."))
    if text.get("note"):
        payload["note"] = text["note"]
    return payload, errors, []


BUILDERS: Final[dict[str, Build]] = {"offers": _offer, "mentoring": _mentoring}
#: a service's field name -> the form's
FORM_FIELDS: Final = {"place": "town"}


def thing_submit(kind_name: str, page: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.StreamResponse:
        v = signed_in(request)
        lang = lang_of(request)
        form = await request.post()
        payload, errors, trades = BUILDERS[kind_name](form, node_of(request).reference.trades, lang)
        values = {k: val for k, val in form.items() if isinstance(val, str)}
        if errors:
            summary = lang.gettext(N_("Some of what you typed is not accepted: see the messages next to the fields."))
            return await _page(request, kind_name, values, trades, Explained(summary, errors), 422)
        try:
            await node_of(request).things.create(KINDS[kind_name], v, payload)
        except InvalidInput as exc:
            explained, status = form_error(request, exc, FORM_FIELDS)
            return await _page(request, kind_name, values, trades, explained, status)
        raise redirect(f"{page}?done=1")

    return handler


async def close_offer(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    await node_of(request).things.update(KINDS["offers"], v, request.match_info["id"], {"status": "closed"})
    raise redirect("/offers?done=closed")


async def help_page(
    request: web.Request, values: Mapping[str, Any] | None = None, explained: Explained | None = None, status: int = 200
) -> web.Response:
    """Help requests across the network; under this coop's own requests, the answers its members gave."""
    v = signed_in(request)
    items = await _items(request, "help_request")
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
            "values": values or {},
            "field_labels": _labels(lang_of(request)),
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
        },
        status=status,
    )


async def help_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    lang = lang_of(request)
    form = await form_of(request)
    payload: dict[str, Any] = {"topic": form.get("topic", "").strip()}
    if form.get("text", "").strip():
        payload["text"] = form["text"].strip()
    if not payload["topic"]:
        summary = lang.gettext(N_("Some of what you typed is not accepted: see the messages next to the fields."))
        return await help_page(
            request, form, Explained(summary, {"topic": lang.gettext(N_("This field is required."))}), 422
        )
    try:
        await node_of(request).things.create(KINDS["help-requests"], v, payload)
    except InvalidInput as exc:
        explained, status = form_error(request, exc)
        return await help_page(request, form, explained, status)
    raise redirect("/help?done=1")


async def answer_help(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    await node_of(request).things.answer(v, request.match_info["id"], {"text": form.get("text", "")})
    raise redirect(f"/help?done=answered#help-{node_of(request).config.name}-{request.match_info['id']}")


def thing_routes() -> list[web.RouteDef]:
    return [
        web.get("/offers", thing_page("offers")),
        web.post("/offers", thing_submit("offers", "/offers")),
        web.post("/offers/{id}/close", close_offer),
        web.get("/mentoring", thing_page("mentoring")),
        web.post("/mentoring", thing_submit("mentoring", "/mentoring")),
        web.get("/help", help_page),
        web.post("/help", help_submit),
        web.post("/help/{id}/answer", answer_help),
    ]
