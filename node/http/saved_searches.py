"""Saved searches and the notifications of their new matches (the job that finds them is in
:mod:`node.jobs`)."""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from node.http.members import SearchQuery
from node.http.routing import Route, json_response, member, node_of
from node.http.types import Input, Ms, Origin, SearchId, integer, list_of
from node.services.finder import QUERY_KEYS


def _optional(info: FieldInfo) -> Any:
    """A search parameter's type and constraints, optional."""
    kind: Any = info.annotation
    kind = kind | None
    return Annotated[(kind, *info.metadata)] if info.metadata else kind


_SEARCH_FIELDS: Final[dict[str, Any]] = {
    name: (_optional(info), Field(None, description=info.description))
    for name, info in SearchQuery.model_fields.items()
    if name in QUERY_KEYS or name == "kind"  # clean_query takes the former name of type too
}
SavedSearchInput: Final = create_model(
    "SavedSearchInput",
    __base__=Input,
    __doc__="A search to keep: its words and filters as GET /search takes them, and a name",
    name=(str | None, Field(None, max_length=120, description="a name; made from the search when absent")),
    **_SEARCH_FIELDS,
)


class SavedSearch(BaseModel):
    id: SearchId
    name: str
    query: dict[str, str] = Field(description="the search's parameters, as GET /search takes them")
    created_at: Ms
    checked_at: Ms


class NotificationsQuery(Input):
    unread: Literal["0", "1", "true", "false"] = Field("0", description="1: unread ones only")


class NotifiedRecord(BaseModel):
    origin: Origin
    id: str
    search: str | None = None
    type: str | None = None
    title: str | None = None


class Notification(BaseModel):
    id: int
    kind: str
    saved_search_id: int | None
    origin: Origin
    record: NotifiedRecord
    created_at: Ms
    read: bool


class Notifications(BaseModel):
    items: list[Notification]
    unread: int = Field(description="how many of mine are unread")


NotificationId = integer(1, 2**63 - 1, "one of my notifications")


class ReadNotifications(Input):
    ids: list[NotificationId] | None = Field(  # type: ignore[valid-type]
        None, max_length=1000, description="those to mark read; all of mine when absent"
    )


class Marked(BaseModel):
    marked: int


async def save_search(request: web.Request, body: BaseModel) -> web.Response:
    """Save a search ({q, name?, and the search filters}); new matches become notifications"""
    given: dict[str, Any] = {
        k: f"{v:g}" if isinstance(v, float) else v  # a radius of 10 is kept as "10", as GET /search reads it
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None
    }
    return json_response(await node_of(request).saved_searches.save(member(request), given), 201)


async def list_saved_searches(request: web.Request) -> web.Response:
    """My saved searches"""
    return json_response({"items": await node_of(request).saved_searches.list(member(request))})


async def delete_saved_search(request: web.Request, search_id: int) -> web.Response:
    """Delete one of my saved searches and its notifications"""
    await node_of(request).saved_searches.delete(member(request), search_id)
    return web.Response(status=204)


async def list_notifications(request: web.Request, query: NotificationsQuery) -> web.Response:
    """My notifications (new matches of my saved searches), newest first; ?unread=1 for unread ones only"""
    unread_only = query.unread in ("1", "true")
    return json_response(await node_of(request).saved_searches.notifications(member(request), unread_only=unread_only))


async def read_notifications(request: web.Request, body: ReadNotifications) -> web.Response:
    """Mark notifications as read ({ids?}: all of mine when absent)"""
    return json_response({"marked": await node_of(request).saved_searches.mark_read(member(request), body.ids)})


BASE: Final = "/api/v1/me"
ROUTES: Final = (
    Route(
        "POST",
        f"{BASE}/saved-searches",
        save_search,
        str(save_search.__doc__),
        "member",
        "me",
        body=SavedSearchInput,
        response=SavedSearch,
        status=201,
        operation_id="save_search",
    ),
    Route(
        "GET",
        f"{BASE}/saved-searches",
        list_saved_searches,
        str(list_saved_searches.__doc__),
        "member",
        "me",
        response=list_of(SavedSearch),
        operation_id="list_saved_searches",
    ),
    Route(
        "DELETE",
        f"{BASE}/saved-searches/{{search_id}}",
        delete_saved_search,
        str(delete_saved_search.__doc__),
        "member",
        "me",
        status=204,
        operation_id="delete_saved_search",
    ),
    Route(
        "GET",
        f"{BASE}/notifications",
        list_notifications,
        str(list_notifications.__doc__),
        "member",
        "me",
        query=NotificationsQuery,
        response=Notifications,
        operation_id="list_notifications",
    ),
    Route(
        "POST",
        f"{BASE}/notifications/read",
        read_notifications,
        str(read_notifications.__doc__),
        "member",
        "me",
        body=ReadNotifications,
        response=Marked,
        operation_id="read_notifications",
    ),
)
