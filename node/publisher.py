"""Publishing: every local change to a shareable thing appends one signed entry to this node's own log, in the
same database transaction as the change itself.

The caller (a service) passes the *network body*, built from network and public fields only; the publisher
validates it against the record type's schema, allocates the next ``seq`` under a lock on this origin's row of
``log_heads`` (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the single writer already serialises),
chains it to the previous entry, signs it, stores it in ``entries`` and ``records``, updates the search index
and queues it in the ``outbox`` for every peer that :data:`OutboxPeers` names (none until federation says so).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from protocol import RECORD_TYPES, Entry, SchemaError, SigningKey, sign_entry

from .clock import Clock
from .errors import InvalidInput, NodeError
from .storage import log as replication_log
from .storage import search
from .storage.models import LogHead, OutboxItem, RecordState

logger = logging.getLogger(__name__)

OutboxPeers = Callable[[AsyncSession], Awaitable[Sequence[str]]]
"""Returns the names of the peers a new entry must be pushed to, read within the publishing transaction."""

RECORD_ID_ALPHABET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_record_id() -> str:
    """A short random record id (16 characters, about 95 bits), starting with a letter or digit."""
    return "".join(secrets.choice(RECORD_ID_ALPHABET) for _ in range(16))


def canonical_order(value: Any) -> Any:
    """``value`` with every map's keys in canonical order (by UTF-8 bytes), as schemas expect to see them."""
    if isinstance(value, dict):
        return {k: canonical_order(value[k]) for k in sorted(value, key=lambda k: k.encode("utf-8"))}
    if isinstance(value, list):
        return [canonical_order(v) for v in value]
    return value


async def no_peers(_session: AsyncSession) -> Sequence[str]:
    return ()


class Publisher:
    """Appends this node's signed entries. One per node; safe to share between requests."""

    def __init__(self, origin: str, key: SigningKey, clock: Clock, outbox_peers: OutboxPeers = no_peers) -> None:
        self.origin = origin
        self.key = key
        self.clock = clock
        self.outbox_peers = outbox_peers

    async def ensure_head(self, session: AsyncSession) -> None:
        """Create this origin's ``log_heads`` row if missing (at start, before concurrent publishing)."""
        if await session.get(LogHead, self.origin) is None:
            session.add(LogHead(origin=self.origin, seq=0, hash=None))
            await session.flush()

    async def publish(
        self,
        session: AsyncSession,
        *,
        type: str,
        record_id: str,
        body: Mapping[str, Any],
        created: int,
        search_texts: Mapping[str, str] | None = None,
    ) -> Entry:
        """Sign and store the next entry of this node's log. ``search_texts``: audience → text to index."""
        record_type = RECORD_TYPES[type]
        body = canonical_order(dict(body))
        try:
            record_type.validate(body)
        except SchemaError as exc:
            raise _schema_to_input(exc) from exc
        seq, prev = await self._lock_head(session)
        now = self.clock()
        entry = sign_entry(
            self.key,
            type=type,
            type_version=record_type.version,
            origin=self.origin,
            id=record_id,
            seq=seq,
            created=created,
            ts=now,
            prev=prev,
            body=body,
        )
        await self._store(session, entry, body, now)
        if search_texts is not None:
            await search.index_record(session, type, self.origin, record_id, search_texts)
        logger.debug("published %s/%d: %s %s", self.origin, seq, type, record_id)
        return entry

    async def tombstone(
        self, session: AsyncSession, *, target_type: str, record_id: str, reason: str = "deleted"
    ) -> Entry | None:
        """Publish the deletion of one of this node's records; None if it was never published (nothing to do)."""
        state = (
            await session.execute(
                select(RecordState.deleted).where(RecordState.origin == self.origin, RecordState.record_id == record_id)
            )
        ).first()
        await search.unindex_record(session, self.origin, record_id)
        if state is None or state[0]:
            return None
        created = self.clock()
        return await self.publish(
            session,
            type="tombstone",
            record_id=record_id,
            body={"target_type": target_type, "reason": reason},
            created=created,
        )

    async def is_published(self, session: AsyncSession, record_id: str) -> bool:
        row = (
            await session.execute(
                select(RecordState.deleted).where(RecordState.origin == self.origin, RecordState.record_id == record_id)
            )
        ).first()
        return row is not None and not row[0]

    async def published_body(self, session: AsyncSession, record_id: str) -> dict[str, Any] | None:
        """The body of the current published state of a record, or None (never published, or deleted)."""
        row = (
            await session.execute(
                select(RecordState.body, RecordState.deleted).where(
                    RecordState.origin == self.origin, RecordState.record_id == record_id
                )
            )
        ).first()
        if row is None or row[1]:
            return None
        body: dict[str, Any] | None = row[0]
        return body

    async def _lock_head(self, session: AsyncSession) -> tuple[int, bytes | None]:
        row = (
            await session.execute(
                select(LogHead.seq, LogHead.hash).where(LogHead.origin == self.origin).with_for_update()
            )
        ).first()
        if row is None:
            await self.ensure_head(session)
            return 1, None
        return int(row[0]) + 1, row[1]

    async def _store(self, session: AsyncSession, entry: Entry, body: Mapping[str, Any], now: int) -> None:
        h = entry.header
        await replication_log.append_entry(session, entry, body, now)
        await session.execute(update(LogHead).where(LogHead.origin == self.origin).values(seq=h.seq, hash=entry.hash))
        peers = await self.outbox_peers(session)
        if peers:
            await session.execute(
                insert(OutboxItem),
                [
                    {
                        "peer": peer,
                        "kind": "entry",
                        "origin": self.origin,
                        "seq": h.seq,
                        "payload": None,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "last_error": None,
                        "created_at": now,
                    }
                    for peer in peers
                ],
            )


def _schema_to_input(exc: SchemaError) -> NodeError:
    """A schema error names a path like ``offer.title``: report it as that field's error."""
    reason = exc.reason
    path, _, why = reason.partition(": ")
    parts = path.split(".", 2)
    field = parts[1].split("[", 1)[0] if len(parts) > 1 else "body"
    return InvalidInput(f"{field}: {why or reason}", {field: why or reason})
