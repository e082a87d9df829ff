"""Key rotation and revocation for a running node (operators); the rules are in :mod:`node.services.identity`."""

from __future__ import annotations

from typing import Final

from aiohttp import web
from pydantic import BaseModel

from node.http.record_models import record_input
from node.http.routing import V1, Route, json_response, node_of
from node.http.types import Kid
from protocol import RECORD_TYPES

RevocationInput: Final = record_input(
    RECORD_TYPES["key_revocation"], "RevocationInput", names=["kid", "reason"], required=["kid"]
)


RepairInput: Final = record_input(
    RECORD_TYPES["fork_repair"], "ForkRepairInput", names=["seq", "reason", "text"], required=["seq", "reason"]
)


class Repaired(BaseModel):
    seq: int
    entry_seq: int


class Rotated(BaseModel):
    kid: Kid


class Revoked(BaseModel):
    revoked: Kid


async def rotate_key(request: web.Request) -> web.Response:
    """Rotate the node's signing key (operators)"""
    new = await node_of(request).identity.rotate()
    return json_response({"kid": new.kid}, status=201)


async def revoke_key(request: web.Request, body: BaseModel) -> web.Response:
    """Revoke a past signing key of this node, e.g. a compromised one (operators)"""
    kid, reason = getattr(body, "kid"), getattr(body, "reason", None) or "compromised"  # noqa: B009
    await node_of(request).identity.revoke(kid, reason)
    return json_response({"revoked": kid}, status=201)


async def repair_fork(request: web.Request, body: BaseModel) -> web.Response:
    """Name the branch of this node's chain it stands by after a fork: its own entry at ``seq`` (operators)"""
    seq, reason, text = getattr(body, "seq"), getattr(body, "reason"), getattr(body, "text", None)  # noqa: B009
    entry_seq = await node_of(request).identity.repair_fork(seq, reason, text)
    return json_response({"seq": seq, "entry_seq": entry_seq}, status=201)


ROUTES: Final = (
    Route(
        "POST",
        f"{V1}/keys/rotate",
        rotate_key,
        str(rotate_key.__doc__),
        "operator",
        "keys",
        response=Rotated,
        status=201,
        operation_id="rotate_key",
    ),
    Route(
        "POST",
        f"{V1}/keys/revoke",
        revoke_key,
        str(revoke_key.__doc__),
        "operator",
        "keys",
        body=RevocationInput,
        response=Revoked,
        status=201,
        operation_id="revoke_key",
    ),
    Route(
        "POST",
        f"{V1}/keys/repair-fork",
        repair_fork,
        str(repair_fork.__doc__),
        "operator",
        "keys",
        body=RepairInput,
        response=Repaired,
        status=201,
        operation_id="repair_fork",
    ),
)
