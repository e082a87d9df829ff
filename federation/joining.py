"""Joining the network, the client side: peering through an invitation, filing a candidate coop's join request
with its sponsor, and fetching the admission certificate. These requests are not signed (the candidate is not
yet a peer the other side trusts); what they carry is: a self-signed node document, an entry.

The same functions serve the running node (:meth:`federation.service.FederationService.join`) and the CLI
(``bigre peers join``, ``bigre apply``), so there is one client of these routes.
"""

from __future__ import annotations

from typing import Any, Final

import aiohttp

from protocol import canonical

from .documents import peer_from_document
from .errors import InvitationError, PeerUnavailableError
from .ports import Peer
from .transport import CONTENT_TYPE

JOIN: Final = "/federation/v1/join"
APPLY: Final = "/federation/v1/apply"
CERTIFICATES: Final = "/federation/v1/certificates"
TIMEOUT: Final = aiohttp.ClientTimeout(total=30)


async def join(session: aiohttp.ClientSession, url: str, token: str, own_document: bytes) -> Peer:
    """Present our document and the invitation token to ``url``; the inviter's verified document back."""
    answer = await _post(session, url.rstrip("/") + JOIN, {"node": own_document, "token": token})
    return peer_from_document(answer.get("node"))


async def apply(session: aiohttp.ClientSession, sponsor_url: str, request: dict[str, Any]) -> dict[str, Any]:
    """File a candidate's join request with its sponsor: ``{"proposal": ref, "result": ...}``."""
    return await _post(session, sponsor_url.rstrip("/") + APPLY, request)


async def certificate(session: aiohttp.ClientSession, sponsor_url: str, ref: str) -> bytes | None:
    """The admission certificate of proposal ``ref`` (``origin/id``), or None while there is none."""
    origin, _, record_id = ref.partition("/")
    try:
        async with session.get(f"{sponsor_url.rstrip('/')}{CERTIFICATES}/{origin}/{record_id}", timeout=TIMEOUT) as r:
            if r.status == 404:
                return None
            body = await r.read()
            if r.status != 200:
                raise PeerUnavailableError(
                    f"{sponsor_url} answered {r.status}: {body[:300].decode('utf-8', 'replace')}"
                )
            return body
    except aiohttp.ClientError as exc:
        raise PeerUnavailableError(f"{sponsor_url} unreachable: {exc}") from exc


async def _post(session: aiohttp.ClientSession, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    try:
        async with session.post(
            url, data=canonical.encode(payload), headers={"Content-Type": CONTENT_TYPE}, timeout=TIMEOUT
        ) as response:
            raw = await response.read()
            if response.status != 200:
                raise InvitationError(f"{url} refused: {raw[:300].decode('utf-8', 'replace')}")
    except aiohttp.ClientError as exc:
        raise PeerUnavailableError(f"{url} unreachable: {exc}") from exc
    answer = canonical.decode(raw)
    if not isinstance(answer, dict):
        raise PeerUnavailableError(f"{url} answered with something else than a map")
    return answer
