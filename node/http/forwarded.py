"""The client's address behind a reverse proxy, for login throttling and logs.

Behind nginx (``deploy/nginx.conf``) every request comes from the proxy's address, so a throttle per address
would lock every member out after one person's failed logins. The node believes ``X-Forwarded-For`` only from
the proxies its operator lists (``trusted_proxies`` in ``node.json``): a header sent by anyone else is ignored,
or a client could pick the address it is throttled under. Reading the header from the right, the first address
that is not a trusted proxy is the client (each proxy appends the address it received the request from).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def client_address(peer: str | None, header: str | None, trusted: frozenset[str]) -> str | None:
    """The client's address: ``peer`` unless it is a trusted proxy that said who it forwards for."""
    if peer is None or peer not in trusted or not header:
        return peer
    for hop in reversed([h.strip() for h in header.split(",")]):
        if hop in trusted:
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            log.info("ignored a malformed X-Forwarded-For from proxy %s: %r", peer, header[:200])
            return peer
    return peer


def forwarded_middleware(trusted_proxies: Iterable[str]) -> Callable[..., Awaitable[web.StreamResponse]]:
    trusted = frozenset(str(ipaddress.ip_address(p)) for p in trusted_proxies)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if trusted:
            client = client_address(request.remote, request.headers.get("X-Forwarded-For"), trusted)
            if client is not None and client != request.remote:
                request = request.clone(remote=client)
        return await handler(request)

    return middleware
