"""Where a direct record received from another node goes: the federation's inbox port, as a table by record type.

The federation layer verifies a direct record whole (its type is direct, it is addressed here, it comes from the
peer that signed it) and hands it here; the composition root registers one handler per direct type
(:meth:`DirectInbox.register`). Adding a direct type is a schema in ``protocol/records.py`` and a handler
registered in :mod:`node.compose`. A handler returns False for a record it already had (deliveries are
idempotent), raises :class:`federation.errors.RecordRefusedError` to refuse one for good (the sender stops
retrying and reports it) and :class:`LookupError` for an unknown recipient.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from federation.errors import RecordRefusedError
from protocol import DIRECT_TYPES, Record

log = logging.getLogger(__name__)

DirectHandler = Callable[[Record, int], Awaitable[bool]]


class DirectInbox:
    """The node's :class:`federation.ports.InboxPort`."""

    def __init__(self) -> None:
        self._handlers: dict[str, DirectHandler] = {}

    def register(self, record_type: str, handler: DirectHandler) -> None:
        """Send every received record of ``record_type`` (a direct type) to ``handler``."""
        if record_type not in DIRECT_TYPES:
            raise ValueError(f"{record_type!r} is not a direct record type")
        if record_type in self._handlers:
            raise ValueError(f"{record_type!r} already has a handler")
        self._handlers[record_type] = handler

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def deliver(self, record: Record, received_at: int) -> bool:
        handler = self._handlers.get(record.type)
        if handler is None:
            raise RecordRefusedError(f"this node takes no {record.type} records")
        return await handler(record, received_at)
