"""System routes: the node's health and the trade vocabulary."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, node_of
from protocol import ENVELOPE_VERSION


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


async def trades(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()
    vocabulary = node_of(request).reference.trades
    found = vocabulary.search(q)[:50] if q else vocabulary.all()[:50]
    return json_response(
        {"items": [{"rome": t.rome, "label_fr": t.label_fr, "label_en": t.label_en, "esco": t.esco} for t in found]}
    )


async def places(request: web.Request) -> web.Response:
    """Towns of the gazetteer whose name or postcode starts with ``q`` (for the pages' town pickers)."""
    q = request.query.get("q", "").strip()[:80]
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
    ),
    Route("GET", f"{V1}/trades", trades, "Search the trade vocabulary (ROME codes)", "anyone", "system", query=("q",)),
    Route("GET", f"{V1}/places", places, "Towns by name or postcode prefix", "anyone", "system", query=("q",)),
)
