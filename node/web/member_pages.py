"""A member's page (of this coop or another), writing to them, and the inbox."""

from __future__ import annotations

from aiohttp import web

from node.services.moving import moved_to
from node.web.onboarding_pages import path_context
from node.web.render import form_of, node_of, redirect, render, signed_in, viewer_of


async def member_page(request: web.Request) -> web.Response:
    v = viewer_of(request)
    node = node_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    if (forward := await moved_to(node.db, origin, member_id)) is not None:  # the member moved to another coop
        raise redirect(f"/members/{forward}")
    if origin == node.config.name:
        fields = (await node.directory.get_member(v, member_id))["fields"]
    else:
        found = await node.directory.network_member(v, origin, member_id)
        if found is None:
            # someone whose profile does not reach this node, who wrote to the viewer: enough to answer them
            name = await node.messages.sender_name(v, origin, member_id)
            if name is None:
                raise web.HTTPNotFound()
            found = {"display_name": name} if name else {}
        fields = found
    return render(
        request,
        "member.html",
        {
            "origin": origin,
            "member_id": member_id,
            "fields": fields,
            "sent": request.query.get("sent") == "1",
            "reply_subject": request.query.get("subject", "")[:140],  # from the inbox's reply link
            "can_write": not v.anonymous and v.member_id is not None and member_id != v.member_id,
            **await path_context(request, member_id if origin == node.config.name else None),
        },
    )


async def contact_submit(request: web.Request) -> web.StreamResponse:
    v = signed_in(request)
    form = await form_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["id"]
    await node_of(request).messages.send(
        v,
        {
            "to_node": origin,
            "to_member": member_id,
            "subject": form.get("subject") or None,
            "text": form.get("text", ""),
            "about": form.get("about") or None,
        },
    )
    raise redirect(f"/members/{origin}/{member_id}?sent=1")


async def inbox_page(request: web.Request) -> web.Response:
    v = signed_in(request)
    return render(request, "inbox.html", {"messages": await node_of(request).messages.inbox(v, limit=100)})


def member_routes() -> list[web.RouteDef]:
    return [
        web.get("/members/{origin}/{id}", member_page),
        web.post("/members/{origin}/{id}/contact", contact_submit),
        web.get("/inbox", inbox_page),
    ]
