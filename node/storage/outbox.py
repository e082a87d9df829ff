"""The outbox rows of direct records: one way to queue a signed entry for ONE node, in the caller's transaction.

Log entries are queued by the publisher for every direct peer (kind ``entry``, by origin and seq); direct records
(private messages, moves, shared cases, event registrations: ``protocol.records.DIRECT_TYPES``) go to one node
only and carry their encoded entry (kind ``direct``); :class:`node.services.direct.DirectSender` is the one
caller. Queuing in the caller's transaction is what makes a state change and its notice to another node commit
together: never lost, never sent twice. The federation's delivery loops send the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, cast

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from node.errors import NotFound
from node.storage.database import Prepared
from node.storage.federation_models import PeerRow
from node.storage.models import OutboxItem
from protocol import Entry

MEMBER: Final = "member"  # a peer's status while it belongs to the network (federation.ports.MEMBER)
_INSERT: Final = Prepared(insert(cast(Table, OutboxItem.__table__)))


async def enqueue_direct(session: AsyncSession, node: str, entries: Iterable[Entry], now: int) -> None:
    """Queue signed direct entries for ``node`` in the caller's transaction."""
    listed = list(entries)
    if listed:
        await session.run_sync(lambda sync: enqueue_direct_sync(sync.connection(), node, listed, now))


def enqueue_direct_sync(conn: Connection, node: str, entries: Iterable[Entry], now: int) -> None:
    """:func:`enqueue_direct` on a synchronous connection (a transaction function's)."""
    rows = [
        {
            "peer": node,
            "kind": "direct",
            "origin": None,
            "seq": None,
            "payload": entry.encode(),
            "attempts": 0,
            "next_attempt_at": now,
            "last_error": None,
            "created_at": now,
        }
        for entry in entries
    ]
    _INSERT.executemany(conn, rows)


async def require_direct_peer(session: AsyncSession, name: str) -> None:
    """Refuse (404) a destination that is not a member node this coop exchanges with directly."""
    peer = await session.get(PeerRow, name)
    if peer is None or peer.status != MEMBER or not peer.direct:
        raise NotFound(f"{name} is not a coop this node exchanges with")


async def direct_peer_names(session: AsyncSession, self_name: str) -> list[str]:
    """The peers a new log entry is pushed to: direct members other than this node."""
    return await session.run_sync(lambda sync: direct_peer_names_sync(sync, self_name))


def direct_peer_names_sync(session: Session | Connection, self_name: str) -> list[str]:
    """The same as :func:`direct_peer_names`, for the publisher's synchronous write path."""
    rows = session.execute(
        select(PeerRow.name).where(PeerRow.status == MEMBER, PeerRow.direct.is_(True), PeerRow.name != self_name)
    )
    return [name for (name,) in rows]
