"""Members of this coop and of the network: listing, one profile, search, matching, a member of any coop."""

from __future__ import annotations

from typing import Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from node.errors import NotFound
from node.http.profile_models import MemberProfile
from node.http.routing import V1, Route, encode_cursor, json_response, member, node_of, page, viewer
from node.http.types import Date, Input, Origin, PageQuery, RecordId, page_of
from node.services.finder import MAX_PAGE_SIZE, PAGE_SIZE, TYPES, legacy_items
from node.services.moving import moved_to

Kind = Literal["profile", "offer", "mentoring", "event"]
if set(TYPES) != set(Kind.__args__):  # type: ignore[attr-defined]
    raise RuntimeError("the search's kinds changed: update node.http.members.Kind")


class SearchQuery(Input):
    """The search's words and filters; lists are comma-separated."""

    q: str = Field("", max_length=200, description="words to search for")
    type: str | None = Field(None, max_length=100, description="kinds, comma-separated: " + ", ".join(TYPES))
    kind: str | None = Field(None, max_length=100, deprecated=True, description="the former name of type")
    trade: str | None = Field(None, max_length=400, description="ROME codes or trade words, comma-separated")
    origin: str | None = Field(None, max_length=400, description="coops (node names), comma-separated")
    departement: str | None = Field(None, max_length=400, description="département codes, comma-separated")
    town: str | None = Field(None, max_length=400, description="towns, comma-separated")
    near: str | None = Field(None, max_length=100, description="a town or postcode: results around it")
    radius_km: float | None = Field(None, ge=0, le=1000, description="with near (default 30)")
    language: str | None = Field(None, max_length=100, description="ISO 639 codes, comma-separated")
    stage: str | None = Field(None, max_length=100, description="project stages, comma-separated")
    available_on: Date | None = Field(None, description="available on that day")
    page: int = Field(1, ge=1, le=1000)
    limit: int = Field(PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class SearchResult(BaseModel):
    origin: Origin
    type: Kind
    id: RecordId
    fields: dict[str, Any] = Field(description="the record's fields the viewer may see")
    distance_km: float | None = None


class FacetValue(BaseModel):
    value: str
    count: int
    label: str | None = None
    label_en: str | None = None


class LegacyItem(BaseModel):
    kind: Kind
    origin: Origin
    id: RecordId
    item: dict[str, Any]


class SearchAnswer(BaseModel):
    results: list[SearchResult]
    facets: dict[str, list[FacetValue]]
    total: int
    page: int
    items: list[LegacyItem] = Field(description="the first version's answer, kept for its callers")
    next_cursor: str | None


class Fit(SearchResult):
    fit: float = Field(description="how well it fits: shared trades count 1, related ones a half")


class Matches(BaseModel):
    results: list[Fit]


class NetworkMember(BaseModel):
    origin: Origin
    id: RecordId
    fields: dict[str, Any]


class Moved(BaseModel):
    moved_to: str = Field(description="origin/id where the member is now")


async def list_members(request: web.Request, query: PageQuery) -> web.Response:
    cursor, limit = page(query)
    items, nxt = await node_of(request).directory.list_members(viewer(request), after=cursor or 0, limit=limit)
    return json_response({"items": items, "next_cursor": encode_cursor(nxt)})


async def get_member(request: web.Request, member_id: str) -> web.Response:
    return json_response(await node_of(request).directory.get_member(viewer(request), member_id))


async def search(request: web.Request, query: SearchQuery) -> web.Response:
    """Faceted search over the whole network's replica (:class:`~node.services.finder.Finder`); ``items`` is
    the first version's answer, kept for its callers."""
    finder = node_of(request).finder
    given = query.model_dump(exclude_unset=True)
    parsed = finder.parse({k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in given.items() if v is not None})
    found = await finder.search(viewer(request), parsed)
    found["items"] = legacy_items(found["results"])
    more = parsed.page * parsed.size < found["total"]
    found["next_cursor"] = encode_cursor(parsed.page * parsed.size) if more else None
    return json_response(found)


async def offer_matches(request: web.Request, origin: str, offer_id: str) -> web.Response:
    return json_response(await node_of(request).finder.offer_matches(member(request), origin, offer_id))


async def my_matches(request: web.Request) -> web.Response:
    return json_response(await node_of(request).finder.member_matches(member(request)))


async def network_member(request: web.Request, origin: str, member_id: str) -> web.Response:
    """A member of any coop as this node knows them; a member who moved redirects (308) to where they are now"""
    node = node_of(request)
    forward = await moved_to(node.db, origin, member_id)
    if forward is not None:
        response = json_response({"moved_to": forward}, 308)
        response.headers["Location"] = f"{V1}/network/members/{forward}"
        return response
    fields = await node.directory.network_member(viewer(request), origin, member_id)
    if fields is None:
        raise NotFound(f"no member {origin}/{member_id}")
    return json_response({"origin": origin, "id": member_id, "fields": fields})


ROUTES: Final = (
    Route(
        "GET",
        f"{V1}/members",
        list_members,
        "Member profiles, fields filtered by visibility",
        "anyone",
        "members",
        query=PageQuery,
        response=page_of(MemberProfile),
        operation_id="list_members",
    ),
    Route(
        "GET",
        f"{V1}/members/{{member_id}}",
        get_member,
        "One member's profile, filtered by visibility",
        "anyone",
        "members",
        response=MemberProfile,
        operation_id="get_member",
    ),
    Route(
        "GET",
        f"{V1}/search",
        search,
        "Faceted search over the network's profiles, offers, mentoring and events (results, facets, total)",
        "anyone",
        "members",
        query=SearchQuery,
        response=SearchAnswer,
        operation_id="search",
        limit="searches",
    ),
    Route(
        "GET",
        f"{V1}/offers/{{origin}}/{{offer_id}}/matches",
        offer_matches,
        "The members across the network who best fit an offer (trades, distance, availability)",
        "member",
        "members",
        response=Matches,
        operation_id="offer_matches",
    ),
    Route(
        "GET",
        f"{V1}/me/matches",
        my_matches,
        "The open offers that fit my trades, town and availability",
        "member",
        "members",
        response=Matches,
        errors=(404,),
        operation_id="my_matches",
    ),
    Route(
        "GET",
        f"{V1}/network/members/{{origin}}/{{member_id}}",
        network_member,
        str(network_member.__doc__),
        "anyone",
        "members",
        response=NetworkMember,
        also=((308, Moved),),
        headers=(("Location", "with 308: where the member is now"),),
        operation_id="get_network_member",
    ),
)
