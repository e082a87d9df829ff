"""Key rotation and revocation for a running node (operators); the rules are in :mod:`node.services.identity`."""

from __future__ import annotations

from typing import Final

from aiohttp import web

from node.http.routing import V1, Route, json_response, node_of, read_object


async def rotate_key(request: web.Request) -> web.Response:
    """Rotate the node's signing key (operators)"""
    new = await node_of(request).identity.rotate()
    return json_response({"kid": new.kid}, status=201)


async def revoke_key(request: web.Request) -> web.Response:
    """Revoke a past signing key of this node, e.g. a compromised one (operators)"""
    data = await read_object(request)
    await node_of(request).identity.revoke(data.get("kid"), data.get("reason", "compromised"))
    return json_response({"revoked": data["kid"]}, status=201)


ROUTES: Final = (
    Route("POST", f"{V1}/keys/rotate", rotate_key, str(rotate_key.__doc__), "operator", "keys", status=201),
    Route(
        "POST",
        f"{V1}/keys/revoke",
        revoke_key,
        str(revoke_key.__doc__),
        "operator",
        "keys",
        body="{kid, reason}",
        status=201,
    ),
)
