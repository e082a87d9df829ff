"""Federation over HTTP: the node-to-node routes (signed msgpack requests, served by
:class:`federation.service.FederationService`, documented in docs/PROTOCOL.md §13, not in the OpenAPI document),
and the operators' view of peers and forks in the JSON API."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel

from federation.service import FederationService
from node.http.routing import V1, Handler, Route, json_response, node_of
from node.http.types import Ms, Origin


class PeerHealth(BaseModel):
    name: Origin
    url: str
    status: str
    last_success: Ms | None
    last_error: str | None
    last_error_at: Ms | None
    queue_depth: int
    lag: int | None


class PeersHealth(BaseModel):
    name: Origin
    heads: dict[str, int]
    peers: list[PeerHealth]


class Forks(BaseModel):
    forks: list[dict[str, Any]]


def wire_routes() -> list[web.RouteDef]:
    """The federation's own routes, each calling the node's federation service at request time."""
    return [web.route(method, path, _calling(name)) for method, path, name in FederationService.ROUTE_TABLE]


def _calling(name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        result: web.StreamResponse = await getattr(node_of(request).federation, name)(request)
        return result

    handler.__doc__ = getattr(FederationService, name).__doc__ or f"Federation: {name.removeprefix('handle_')}"
    return handler


async def peers_health(request: web.Request) -> web.Response:
    """Peers with their health: last success, last error, lag and outbox depth; direct records refused (operators)"""
    node = node_of(request)
    store = node.federation_store
    heads = await store.heads()
    return json_response(
        {
            "name": node.config.name,
            "heads": {origin: seq for origin, (seq, _) in heads.items()},
            "peers": [
                {
                    "name": h.name,
                    "url": h.url,
                    "status": h.status,
                    "last_success": h.last_success,
                    "last_error": h.last_error,
                    "last_error_at": h.last_error_at,
                    "queue_depth": h.queue_depth,
                    "lag": h.lag,
                }
                for h in await store.health()
            ],
            "refused": await store.refused_items(),
        }
    )


async def forks(request: web.Request) -> web.Response:
    """Forks detected: origins that signed two entries for one seq (operators)"""
    return json_response({"forks": await node_of(request).federation_store.forks()})


ROUTES: Final = (
    Route(
        "GET",
        f"{V1}/federation/peers",
        peers_health,
        str(peers_health.__doc__),
        "operator",
        "federation",
        response=PeersHealth,
        operation_id="peers_health",
    ),
    Route(
        "GET",
        f"{V1}/federation/forks",
        forks,
        str(forks.__doc__),
        "operator",
        "federation",
        response=Forks,
        operation_id="forks",
    ),
)
