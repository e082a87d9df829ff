"""Private messages: writing to a member of this or another coop, and reading one's inbox."""

from __future__ import annotations

from typing import Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.record_models import dump, record_input
from node.http.routing import V1, Route, json_response, member, node_of
from node.http.types import Input, Ms, Origin, RecordId
from protocol import RECORD_TYPES

MESSAGE: Final = RECORD_TYPES["message"]
MessageInput: Final = record_input(
    MESSAGE,
    "MessageInput",
    names=[f.name for f in MESSAGE.fields if f.name != "from_member"],  # the sender is the signed-in member
    required=["to_member", "text"],  # to_node: this coop when absent
)


class Sent(BaseModel):
    id: RecordId
    to_node: Origin


class InboxQuery(Input):
    mark_read: Literal["0", "1"] = Field("0", description="1: mark the messages read")


class InboxMessage(BaseModel):
    id: str = Field(description="origin/id")
    from_node: Origin
    from_member: str
    from_name: str
    subject: str
    text: str
    about: str | None
    received_at: Ms
    read: bool


class Inbox(BaseModel):
    messages: list[InboxMessage]


async def send_message(request: web.Request, body: BaseModel) -> web.Response:
    """Send a private message to a member of this or another coop; it goes signed to that node only"""
    return json_response(await node_of(request).messages.send(member(request), dump(body)), status=202)


async def inbox(request: web.Request, query: InboxQuery) -> web.Response:
    """My private messages, newest first; ?mark_read=1 marks them read"""
    found = await node_of(request).messages.inbox(member(request), mark_read=query.mark_read == "1")
    return json_response({"messages": [m.as_json() for m in found]})


ROUTES: Final = (
    Route(
        "POST",
        f"{V1}/messages",
        send_message,
        str(send_message.__doc__),
        "member",
        "messages",
        body=MessageInput,
        response=Sent,
        status=202,
        errors=(404,),
        operation_id="send_message",
        limit="messages",
    ),
    Route(
        "GET",
        f"{V1}/inbox",
        inbox,
        str(inbox.__doc__),
        "member",
        "messages",
        query=InboxQuery,
        response=Inbox,
        operation_id="inbox",
    ),
)
