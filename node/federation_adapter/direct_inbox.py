"""Where a direct record received from another node goes: the federation's inbox port, as a routing table.

A direct record (a private message, a move, a shared case, an event registration) is verified by the federation
layer and handed here; the composition root says which service takes which kind (:meth:`DirectInbox.route`), and
whatever no route claims is a private message for a member's inbox. A handler returns False for a record it
already had (deliveries are idempotent) and raises :class:`LookupError` for an unknown recipient.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from protocol import Record

DirectHandler = Callable[[Record, int], Awaitable[bool]]


class DirectInbox:
    """The node's :class:`federation.ports.InboxPort`."""

    def __init__(self, default: DirectHandler) -> None:
        self.default = default
        self._routes: list[tuple[Callable[[Record], bool], DirectHandler]] = []

    def route(self, accepts: Callable[[Record], bool], handler: DirectHandler) -> None:
        """Send the records ``accepts`` recognises to ``handler``; the first route that accepts wins."""
        self._routes.append((accepts, handler))

    async def deliver(self, record: Record, received_at: int) -> bool:
        for accepts, handler in self._routes:
            if accepts(record):
                return await handler(record, received_at)
        return await self.default(record, received_at)
