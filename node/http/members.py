"""Members of this coop and of the network: listing, one profile, search, matching, a member of any coop."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.errors import InvalidInput, NotFound
from node.http.routing import V1, Route, encode_cursor, json_response, member, node_of, page, viewer
from node.services.finder import QUERY_KEYS, legacy_items
from node.services.moving import moved_to


async def list_members(request: web.Request) -> web.Response:
    cursor, limit = page(request)
    items, nxt = await node_of(request).directory.list_members(viewer(request), after=cursor or 0, limit=limit)
    return json_response({"items": items, "next_cursor": encode_cursor(nxt)})


async def get_member(request: web.Request) -> web.Response:
    return json_response(await node_of(request).directory.get_member(viewer(request), request.match_info["member_id"]))


async def search(request: web.Request) -> web.Response:
    """Faceted search over the whole network's replica (:class:`~node.services.finder.Finder`); ``items`` is
    the first version's answer, kept for its callers."""
    if "q" in request.query and not request.query["q"].strip() and len(request.query) == 1:
        raise InvalidInput.field("q", "give 1 to 200 characters to search for")
    finder = node_of(request).finder
    parsed = finder.parse(request.query)
    found = await finder.search(viewer(request), parsed)
    found["items"] = legacy_items(found["results"])
    more = parsed.page * parsed.size < found["total"]
    found["next_cursor"] = encode_cursor(parsed.page * parsed.size) if more else None
    return json_response(found)


async def offer_matches(request: web.Request) -> web.Response:
    origin, offer_id = request.match_info["origin"], request.match_info["offer_id"]
    return json_response(await node_of(request).finder.offer_matches(member(request), origin, offer_id))


async def my_matches(request: web.Request) -> web.Response:
    return json_response(await node_of(request).finder.member_matches(member(request)))


async def network_member(request: web.Request) -> web.Response:
    """A member of any coop as this node knows them; a member who moved redirects (308) to where they are now"""
    node = node_of(request)
    origin, member_id = request.match_info["origin"], request.match_info["member_id"]
    forward = await moved_to(node.db, origin, member_id)
    if forward is not None:
        response = json_response({"moved_to": forward}, 308)
        response.headers["Location"] = f"{V1}/network/members/{forward}"
        return response
    fields = await node.directory.network_member(viewer(request), origin, member_id)
    if fields is None:
        raise NotFound(f"no member {origin}/{member_id}")
    return json_response({"origin": origin, "id": member_id, "fields": fields})


SEARCH_QUERY: Final = (*QUERY_KEYS, "page", "limit")
ROUTES: Final = (
    Route(
        "GET",
        f"{V1}/members",
        list_members,
        "Member profiles, fields filtered by visibility",
        "anyone",
        "members",
        query=("limit", "cursor"),
    ),
    Route(
        "GET",
        f"{V1}/members/{{member_id}}",
        get_member,
        "One member's profile, filtered by visibility",
        "anyone",
        "members",
    ),
    Route(
        "GET",
        f"{V1}/search",
        search,
        "Faceted search over the network's profiles, offers, mentoring and events (results, facets, total)",
        "anyone",
        "members",
        query=SEARCH_QUERY,
    ),
    Route(
        "GET",
        f"{V1}/offers/{{origin}}/{{offer_id}}/matches",
        offer_matches,
        "The members across the network who best fit an offer (trades, distance, availability)",
        "member",
        "members",
    ),
    Route(
        "GET",
        f"{V1}/me/matches",
        my_matches,
        "The open offers that fit my trades, town and availability",
        "member",
        "members",
    ),
    Route(
        "GET",
        f"{V1}/network/members/{{origin}}/{{member_id}}",
        network_member,
        str(network_member.__doc__),
        "anyone",
        "members",
    ),
)
