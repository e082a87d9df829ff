"""A member's page (of this coop or another), writing to them, and the inbox as conversations.

The inbox lists one conversation per member written with, either way (the messages a member sends are kept on
their node for that), newest first, with the unread ones counted; a conversation shows every message in order,
each reply quoting the message it answers, and a form to answer. A message can be written to anyone whose
profile reaches this node, who wrote to the viewer, or who authored an offer, a mentoring offer or a help request
the viewer answers (the ``about`` of the message).
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from node.errors import InvalidInput, TooManyAttempts
from node.services.messages import ThreadMessage
from node.services.moving import moved_to
from node.services.remote_events import NOTES
from node.viewer import Viewer
from node.web.errors import Explained
from node.web.onboarding_pages import path_context
from node.web.render import (
    form_error,
    form_of,
    node_of,
    rate_limit,
    redirect,
    render,
    retry_after,
    signed_in,
    viewer_of,
)

QUOTE_CHARS: Final = 400


def split_quote(text: str) -> tuple[str, str]:
    """A message's quoted part (its leading ``> `` lines) and the rest, for showing a reply under what it answers."""
    lines = text.split("\n")
    quoted: list[str] = []
    while lines and lines[0].startswith(">"):
        quoted.append(lines.pop(0)[1:].lstrip())
    return "\n".join(quoted).strip(), "\n".join(lines).strip()


def quoted(text: str) -> str:
    """The ``> `` lines that quote an earlier message (its own quote dropped, at most QUOTE_CHARS)."""
    _, body = split_quote(text)
    if len(body) > QUOTE_CHARS:
        body = body[:QUOTE_CHARS].rstrip() + "…"
    return "\n".join("> " + line for line in body.split("\n"))


async def _about(request: web.Request) -> tuple[str | None, str, str | None]:
    """The record a message is about (``?about=origin/id``): its ref, title and author, when this node holds it."""
    about = request.query.get("about", "")
    origin, _, record_id = about.partition("/")
    if not origin or not record_id:
        return None, "", None
    author, title = await node_of(request).things.record_author(origin, record_id)
    return (about if author else None), title, author


async def member_context(request: web.Request, origin: str, member_id: str) -> dict[str, Any]:
    """What the member page shows of someone, or a 404 when the viewer may neither see nor write to them."""
    v = viewer_of(request)
    node = node_of(request)
    if (forward := await moved_to(node.db, origin, member_id)) is not None:  # the member moved to another coop
        raise redirect(f"/members/{forward}")
    about, about_title, author = await _about(request)
    if origin == node.config.name:
        fields = (await node.directory.get_member(v, member_id))["fields"]
    else:
        found = await node.directory.network_member(v, origin, member_id)
        if found is None:
            # someone whose profile does not reach this node, who wrote to the viewer or authored what the viewer
            # answers: enough to write to them
            name = await node.messages.sender_name(v, origin, member_id)
            if name is None and (v.anonymous or author != member_id):
                raise web.HTTPNotFound()
            found = {"display_name": name} if name else {}
        fields = found
    return {
        "origin": origin,
        "member_id": member_id,
        "fields": fields,
        "sent": request.query.get("sent") == "1",
        "reply_subject": request.query.get("subject", "")[:140],
        "about": about if author == member_id else None,
        "about_title": about_title if author == member_id else "",
        "can_write": not v.anonymous and v.member_id is not None and member_id != v.member_id,
        **await path_context(request, member_id if origin == node.config.name else None),
    }


async def member_page(request: web.Request) -> web.Response:
    context = await member_context(request, request.match_info["origin"], request.match_info["id"])
    return render(request, "member.html", context)


async def _send(request: web.Request, v: Viewer, origin: str, member_id: str, form: dict[str, str]) -> None:
    rate_limit(request, "messages")
    to_name = form.get("to_name") or ""
    if not form.get("text", "").strip():
        raise InvalidInput.field("text", "is required")
    await node_of(request).messages.send(
        v,
        {
            "to_node": origin,
            "to_member": member_id,
            "to_name": to_name[:120],
            "subject": form.get("subject") or None,
            "text": form.get("text", "").strip(),
            "about": form.get("about") or None,
        },
    )


async def contact_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    context = await member_context(request, origin, member_id)
    try:
        form["to_name"] = str(context["fields"].get("display_name") or "")
        await _send(request, v, origin, member_id, form)
    except (InvalidInput, TooManyAttempts) as exc:
        explained, status = form_error(request, exc)
        context.update(
            summary=explained.summary,
            errors=explained.fields or {"text": explained.summary},
            reply_subject=form.get("subject", "")[:140],
            typed_text=form.get("text", ""),
        )
        return retry_after(render(request, "member.html", context, status=status), exc)
    raise redirect(f"/members/{origin}/{member_id}?sent=1")


async def inbox_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    conversations = await node_of(request).messages.conversations(v)
    return render(request, "inbox.html", {"conversations": conversations, "notice": notice})


async def conversation_page(
    request: web.Request, explained: Explained | None = None, typed: str = "", status: int = 200
) -> web.Response:
    v = signed_in(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    node = node_of(request)
    messages = await node.messages.thread(v, origin, member_id)
    if not messages:
        raise redirect(f"/members/{origin}/{member_id}#contact")
    name = next((m.other_name for m in reversed(messages) if m.other_name), "")
    last_received = next((m for m in reversed(messages) if not m.sent), None)
    subject = next((m.subject for m in reversed(messages) if m.subject), "")
    return render(
        request,
        "conversation.html",
        {
            "origin": origin,
            "member_id": member_id,
            "name": name,
            "messages": messages,
            "split_quote": split_quote,
            "answering": last_received,
            "reply_subject": subject if subject.lower().startswith("re:") or not subject else f"Re: {subject}"[:140],
            "typed": typed,
            "summary": explained.summary if explained else None,
            "errors": explained.fields if explained else {},
            "sent": request.query.get("sent") == "1",
        },
        status=status,
    )


async def conversation_reply(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    node = node_of(request)
    messages = await node.messages.thread(v, origin, member_id)
    if not messages:
        raise web.HTTPNotFound()
    answering = next((m for m in reversed(messages) if not m.sent), None)
    text = form.get("text", "").strip()
    if text and answering is not None and form.get("quote") == "1":
        text = quoted(answering.text) + "\n\n" + text
    form["text"] = text if form.get("text", "").strip() else ""
    form["to_name"] = next((m.other_name for m in reversed(messages) if m.other_name), "")
    try:
        await _send(request, v, origin, member_id, form)
    except (InvalidInput, TooManyAttempts) as exc:
        explained, status = form_error(request, exc)
        if not explained.fields:
            explained = Explained(explained.summary, {"text": explained.summary})
        return retry_after(await conversation_page(request, explained, form.get("text", ""), status), exc)
    raise redirect(f"/inbox/{origin}/{member_id}?sent=1#last")


async def notices_page(request: web.Request) -> web.Response:
    """The notes a coop sent about its things (event registrations answered)."""
    v = signed_in(request)
    origin = request.match_info["origin"]
    notices = await node_of(request).messages.notices(v, origin)
    if not notices:
        raise web.HTTPNotFound()
    return render(request, "notices.html", {"origin": origin, "notices": notices, "notice": notice})


#: the subject of a coop's note about a registration (both languages, see node.services.remote_events) -> its state
NOTE_STATES: Final = {f"{fr} / {en}": state for state, (fr, en) in NOTES.items()}


def notice(message: ThreadMessage) -> tuple[str | None, str]:
    """A coop's note about one of its events, as a state (``confirmed``, ``full``...) and the event's title, so the
    page shows it in its own language (the stored note is written in both)."""
    title = message.text.split("\n", 1)[0].partition(" : ")[2]
    return NOTE_STATES.get(message.subject), title


def member_routes() -> list[web.RouteDef]:
    return [
        web.get("/members/{origin}/{id}", member_page),
        web.post("/members/{origin}/{id}/contact", contact_submit),
        web.get("/inbox", inbox_page),
        web.get("/inbox/notices/{origin}", notices_page),
        web.get("/inbox/{origin}/{id}", conversation_page),
        web.post("/inbox/{origin}/{id}", conversation_reply),
    ]
