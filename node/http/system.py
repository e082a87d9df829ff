"""System routes: the node's health and the trade vocabulary."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Final

from aiohttp import web
from pydantic import BaseModel, Field

from node.config import SQLITE_PREFIX
from node.errors import Forbidden
from node.http.routing import V1, Route, json_response, node_of
from node.http.types import Input, Origin, list_of
from node.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from protocol import ENVELOPE_VERSION


class Health(BaseModel):
    name: Origin
    display_name: str
    url: str
    key_id: str = Field(description="the id of the node's current signing key")
    protocol_versions: list[int]
    database: str = Field(description="sqlite or postgresql")
    heads: dict[str, int] = Field(description="per origin, the highest contiguous seq this node holds")
    own_log_checked: bool = Field(
        description="false while the node checks with its peers how much of its own log they hold (after a start; "
        "it signs nothing new until then)"
    )


class PlacesQuery(Input):
    q: str = Field("", max_length=80, description="the start of a town's name or of a postcode")


class PlaceEntry(BaseModel):
    label: str
    town: str
    postcode: str | None
    departement: str


class Liveness(BaseModel):
    live: bool


class Readiness(BaseModel):
    ready: bool
    problems: list[str] = Field(description="why the node should not take traffic now (empty when ready)")


class TradesQuery(Input):
    q: str = Field("", max_length=200, description="words of a trade's label, or a ROME code")


class TradeEntry(BaseModel):
    rome: str
    label_fr: str
    label_en: str
    esco: str | None


async def health(request: web.Request) -> web.Response:
    node = node_of(request)
    return json_response(
        {
            "name": node.config.name,
            "display_name": node.config.display_name,
            "url": node.config.url,
            "key_id": node.key.kid,
            "protocol_versions": [ENVELOPE_VERSION],
            "database": node.db.dialect,
            "heads": await node.status.heads(),
            "own_log_checked": node.own_log_checked,
        }
    )


async def trades(request: web.Request, query: TradesQuery) -> web.Response:
    q = query.q.strip()
    vocabulary = node_of(request).reference.trades
    found = vocabulary.search(q)[:50] if q else vocabulary.all()[:50]
    return json_response(
        {"items": [{"rome": t.rome, "label_fr": t.label_fr, "label_en": t.label_en, "esco": t.esco} for t in found]}
    )


async def live(request: web.Request) -> web.Response:
    """Liveness: the process answers (restart it when this fails)"""
    return json_response({"live": True})


async def ready(request: web.Request) -> web.Response:
    """Readiness: the database answers and, when the node has peers, at least one of them did at the last try"""
    node = node_of(request)
    problems = await node.status.readiness()
    if node.started and not node.own_log_checked:
        problems.append("checking with its peers how much of its own log they hold: it signs nothing new yet")
    return json_response({"ready": not problems, "problems": problems}, 503 if problems else 200)


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics, for the addresses of ``metrics_from`` or with the ``metrics_token``."""
    node = node_of(request)
    config = node.config
    header = request.headers.get("Authorization", "")
    token_ok = config.metrics_token is not None and secrets.compare_digest(
        header.encode(), f"Bearer {config.metrics_token}".encode()
    )
    if not token_ok and request.remote not in config.metrics_from:
        raise Forbidden("metrics are for this node's monitoring (metrics_from, metrics_token)")
    files = [Path(config.database.removeprefix(SQLITE_PREFIX))] if node.db.is_sqlite else []
    files += [Path(f"{f}-wal") for f in files]
    snapshot = await node.status.snapshot(node.clock(), files)
    return web.Response(body=node.metrics.render(snapshot), headers={"Content-Type": METRICS_CONTENT_TYPE})


async def places(request: web.Request, query: PlacesQuery) -> web.Response:
    """Towns of the gazetteer whose name or postcode starts with ``q`` (for the pages' town pickers)."""
    q = query.q.strip()
    found = node_of(request).reference.places.search(q, limit=10) if q else []
    return json_response(
        {
            "items": [
                {"label": p.label, "town": p.town, "postcode": p.postcode, "departement": p.departement} for p in found
            ]
        }
    )


ROUTES: Final = (
    Route(
        "GET",
        f"{V1}/health",
        health,
        "Node name, keys and heads (highest contiguous seq per origin)",
        "anyone",
        "system",
        response=Health,
    ),
    Route(
        "GET",
        f"{V1}/trades",
        trades,
        "Search the trade vocabulary (ROME codes)",
        "anyone",
        "system",
        query=TradesQuery,
        response=list_of(TradeEntry),
    ),
    Route("GET", f"{V1}/health/live", live, str(live.__doc__), "anyone", "system", response=Liveness),
    Route(
        "GET",
        f"{V1}/health/ready",
        ready,
        str(ready.__doc__),
        "anyone",
        "system",
        response=Readiness,
        errors=(503,),
        also=((503, Readiness),),
    ),
    Route(
        "GET",
        f"{V1}/places",
        places,
        "Towns by name or postcode prefix (for town pickers)",
        "anyone",
        "system",
        query=PlacesQuery,
        response=list_of(PlaceEntry),
    ),
)
