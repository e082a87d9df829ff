"""The one way this node sends a direct record: sign it with the node's current key, queue it for its one node.

A direct record (a private message, a move, a shared case, an event registration; docs/PROTOCOL.md §8.1) is a
typed record sent to the node its ``to_node`` names and to it only: signed as seq 1, never in the log, never
relayed. Services build the typed body; :meth:`DirectSender.queue` signs it and writes the outbox row in the
caller's transaction (so a state change and its notice to another node commit together, never lost nor sent
twice), and :meth:`DirectSender.wake` wakes the delivery loops once the caller has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from node.clock import Clock
from node.errors import InvalidInput
from node.records.publisher import new_record_id
from node.storage.outbox import enqueue_direct
from protocol import Entry, LocalProtocolError, SchemaError, SigningKey, sign_direct
from protocol.records import RECORD_TYPES, Field


class DirectSender:
    """Signs and queues the direct records of one node (built once, in :mod:`node.compose`)."""

    def __init__(
        self, name: str, key: Callable[[], SigningKey], clock: Clock, wake: Callable[[], None] = lambda: None
    ) -> None:
        self.name = name
        self.key = key
        self.clock = clock
        self._wake = wake

    def sign(self, type: str, body: Mapping[str, Any], *, id: str | None = None, now: int | None = None) -> Entry:
        """A signed direct record of this node. A body the type refuses, or one too large for a direct
        envelope, is :class:`InvalidInput` (nothing was queued)."""
        try:
            return sign_direct(
                self.key(),
                type=type,
                origin=self.name,
                id=id or new_record_id(),
                now=self.clock() if now is None else now,
                body=body,
            )
        except SchemaError as exc:
            raise InvalidInput(f"this {type} cannot be sent: {exc.reason}") from exc
        except LocalProtocolError as exc:
            raise InvalidInput(f"this {type} is too large to send to another coop ({exc})") from exc

    async def queue(self, session: AsyncSession, type: str, body: Mapping[str, Any], *, id: str | None = None) -> Entry:
        """Sign a direct record and queue it for ``body["to_node"]`` in ``session``'s transaction. Call
        :meth:`wake` after the commit."""
        now = self.clock()
        entry = self.sign(type, body, id=id, now=now)
        await enqueue_direct(session, str(body["to_node"]), [entry], now)
        return entry

    def wake(self) -> None:
        """Wake the delivery loops: call after committing a transaction that queued direct records."""
        self._wake()


def fit(type: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` cut to the fields the direct type declares (recursively), without nil values.

    Services keep richer documents than what travels (nil for "not set", keys of their own); the record carries
    only what its schema names, and the schema still judges every value that remains.
    """
    return _fit_map(RECORD_TYPES[type].fields, value)


def _fit_map(fields: tuple[Field, ...], value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields:
        item = value.get(f.name)
        if item is None:
            continue
        out[f.name] = _fit(f, item)
    return out


def _fit(f: Field, value: Any) -> Any:
    if f.kind == "map" and isinstance(value, Mapping):
        return _fit_map(f.fields, value)
    if f.kind == "list" and isinstance(value, list) and f.item is not None:
        return [_fit(f.item, v) for v in value if v is not None]
    return value
