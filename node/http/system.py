"""System routes: the node's health and the trade vocabulary."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import BaseModel, Field

from node.http.routing import V1, Route, json_response, node_of
from node.http.types import Input, Origin, list_of
from protocol import ENVELOPE_VERSION


class Health(BaseModel):
    name: Origin
    display_name: str
    url: str
    key_id: str = Field(description="the id of the node's current signing key")
    protocol_versions: list[int]
    database: str = Field(description="sqlite or postgresql")
    heads: dict[str, int] = Field(description="per origin, the highest contiguous seq this node holds")


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
        }
    )


async def trades(request: web.Request, query: TradesQuery) -> web.Response:
    q = query.q.strip()
    vocabulary = node_of(request).reference.trades
    found = vocabulary.search(q)[:50] if q else vocabulary.all()[:50]
    return json_response(
        {"items": [{"rome": t.rome, "label_fr": t.label_fr, "label_en": t.label_en, "esco": t.esco} for t in found]}
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
)
