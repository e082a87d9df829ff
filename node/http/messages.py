"""Private messages: writing to a member of this or another coop, and reading one's inbox."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, member, node_of, read_json


async def send_message(request: web.Request) -> web.Response:
    """Send a private message to a member of this or another coop; it goes signed to that node only"""
    result = await node_of(request).messages.send(member(request), await read_json(request))
    return json_response(result, status=202)


async def inbox(request: web.Request) -> web.Response:
    """My private messages, newest first; ?mark_read=1 marks them read"""
    found = await node_of(request).messages.inbox(member(request), mark_read=request.query.get("mark_read") == "1")
    return json_response({"messages": [m.as_json() for m in found]})


ROUTES: Final = (
    Route(
        "POST",
        f"{V1}/messages",
        send_message,
        str(send_message.__doc__),
        "member",
        "messages",
        body="{to_node, to_member, subject, text, about}",
        status=202,
    ),
    Route("GET", f"{V1}/inbox", inbox, str(inbox.__doc__), "member", "messages", query=("mark_read",)),
)
